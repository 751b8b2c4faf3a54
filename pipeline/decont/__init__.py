"""Decontamination: evaluation-set items as word n-gram hashes, matched batch by batch.

API for other stages (``mixtures`` reads what this writes):

- ``index.build_index(evalset_paths, out)`` / ``index.load_index(path) -> DecontIndex``
- ``DecontIndex.match(texts) -> Matches`` (``ngrams``, ``longest``, ``item_lists()``,
  ``benchmark_lists()``)
- ``columns.contam_columns(index, texts)``: the ``schema.DECONT_SCHEMA`` columns of a batch
- ``columns.tally_files(files, index) -> Tally`` and ``columns.corpus_index(root)``
- ``corpus.tag_corpus(corpus, index, out)`` and ``corpus.report(folder, index, out_dir)``
"""
