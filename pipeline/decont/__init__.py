"""Decontamination: evaluation-set items as word n-gram hashes, matched batch by batch.

API for other stages (``mixtures`` reads what this writes):

- ``index.build_index(evalset_paths, out) -> dict`` (index.json) and
  ``index.load_index(path) -> DecontIndex`` (``digest``, ``benchmarks``, ``item_ids``,
  ``benchmark_of``, ``indexed``)
- ``DecontIndex.match(texts) -> Matches``: per text ``ngrams`` and ``longest`` (numpy),
  ``item_lists()`` and ``benchmark_lists()`` (Arrow list arrays)
- ``columns.contam_columns(index, texts)``: the ``schema.DECONT_SCHEMA`` columns of a batch
- ``columns.tally_files(files, index) -> Tally`` (``benchmarks()``, ``summary()``, and
  ``items_hit``), reading the columns or matching ``text``; ``columns.corpus_index(root)``:
  the index a checked corpus carries
- ``corpus.tag_corpus(corpus, index, out)`` and ``corpus.report(folder, index, out_dir)``
"""
