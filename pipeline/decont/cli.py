"""``procmix decont index | tag | report``."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

from pipeline.decont.evalsets import EvalsetError

# The index a mixture folder's manifest records, None for a folder that is not a mixture.
# A mixture is ``mixtures``' to read, and pipeline may not import it: the root command
# line (``procmix_cli``) passes ``mixtures.decont.recorded_index`` in.
RecordedIndex = Callable[[Path], Path | None]


def format_benchmarks(benchmarks: dict[str, dict]) -> str:
    """The per-benchmark contamination table of ``Tally.benchmarks()``."""
    from procmix_core.tables import format_table

    columns = ["items", "items_hit", "documents", "tokens"]
    rows = [(name, *(row[c] for c in columns)) for name, row in benchmarks.items()]
    return format_table(["benchmark", *columns], rows)


def _index(args: argparse.Namespace) -> int:
    from pipeline.decont.index import build_index
    from procmix_core.decont_match import DecontIndexError

    started = time.perf_counter()
    try:
        info = build_index(args.evalsets, args.out)
    except (EvalsetError, DecontIndexError) as e:
        print(f"procmix decont index: error: no index written:\n{e}", file=sys.stderr)
        return 2
    for name, entry in info["benchmarks"].items():
        print(
            f"{name:<16} {entry['items']:>7,} items ({entry['indexed_items']:,} indexed), "
            f"n = {entry['n']}, {entry['ngrams']:,} n-grams"
        )
    print(
        f"wrote {args.out}: {info['ngrams']:,} n-grams, digest {info['digest'][:16]} "
        f"({time.perf_counter() - started:.1f} s)"
    )
    return 0


def _tag(args: argparse.Namespace) -> int:
    from pipeline.decont.corpus import tag_corpus

    return _print_table(
        "tag",
        lambda: tag_corpus(args.corpus, args.index, args.out)["benchmarks"],
        f"wrote {args.out}",
    )


def _report(args: argparse.Namespace, recorded_index: RecordedIndex) -> int:
    from pipeline.decont.corpus import report

    def run() -> dict[str, dict]:
        index = args.index
        if index is None:
            index = recorded_index(Path(args.folder))
        return report(args.folder, index, args.out)

    return _print_table(
        "report",
        run,
        args.out and f"wrote {args.out}: <benchmark>.dirty.txt, .clean.txt, .unchecked.txt",
    )


def _print_table(verb: str, run: Callable[[], dict[str, dict]], wrote: str | None) -> int:
    from procmix_core.decont_match import DecontIndexError

    try:
        benchmarks = run()
    except DecontIndexError as e:
        print(f"procmix decont {verb}: error: {e}", file=sys.stderr)
        return 2
    print(format_benchmarks(benchmarks))
    if wrote:
        print(wrote)
    return 0


def add_verbs(verbs: argparse._SubParsersAction, recorded_index: RecordedIndex) -> None:
    d = verbs.add_parser(
        "decont",
        help="decontamination: index evaluation sets, tag a corpus, report contamination",
        description="Check documents against evaluation sets by shared word n-grams.",
    )
    sub = d.add_subparsers(dest="decont_verb", required=True, metavar="VERB")

    i = sub.add_parser(
        "index",
        help="build an n-gram index of evaluation-set items",
        description=(
            "Index every item's word n-grams (question, answer, question+answer, question+"
            "choices; normalised as MinHash does). n = 13, or the 5th percentile of a "
            "benchmark's item length when shorter (at least 8). A bad line is reported with "
            "its file and line, and nothing is written (exit 2)."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    i.add_argument("evalsets", nargs="+", metavar="EVALSET", help="JSONL evaluation sets")
    i.add_argument("-o", "--out", required=True, help="index folder to write (replaced whole)")
    i.set_defaults(func=_index)

    t = sub.add_parser(
        "tag",
        help="write a copy of a corpus whose docs carry the contamination columns",
        description=(
            "Copy CORPUS to a new folder -o with contam_benchmarks, contam_items, contam_ngrams "
            "and contam_longest computed against --index; CORPUS is not modified."
        ),
    )
    t.add_argument("corpus", metavar="CORPUS", help="a prepare output folder")
    t.add_argument("--index", required=True, help="index folder from `procmix decont index`")
    t.add_argument("-o", "--out", required=True, help="new corpus folder")
    t.set_defaults(func=_tag)

    r = sub.add_parser(
        "report",
        help="per-benchmark contamination of a corpus or a folder of shards",
        description=(
            "Print items hit, documents and tokens per benchmark. Tagged files are read as "
            "they are; others have their text matched against --index (default: the index "
            "a corpus carries in decont-index/, or the one a mixture's manifest.json records)."
        ),
    )
    r.add_argument("folder", metavar="CORPUS|MIXDIR", help="corpus, mixture or shard folder")
    r.add_argument(
        "--index",
        default=None,
        help="index folder (default: CORPUS/decont-index, or the one MIXDIR's manifest records)",
    )
    r.add_argument(
        "--out", default=None, help="write <benchmark>.dirty.txt / .clean.txt / .unchecked.txt here"
    )
    r.set_defaults(func=lambda args: _report(args, recorded_index))
