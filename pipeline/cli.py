"""``procmix`` command line: one verb per job, ``--help`` on each."""

from __future__ import annotations

import argparse
import json
import sys

import classifiers.cli
import mixtures.cli
import pipeline.decont.cli
from pipeline import __version__
from pipeline.forkserver import start_early
from pipeline.layout import DedupParams


def _prepare(args: argparse.Namespace) -> int:
    if args.executor == "local" and args.workers > 1:
        start_early()
    from pipeline.prepare import PrepareConfig, PrepareError, format_summary, prepare

    try:
        config = PrepareConfig(
            inputs=args.inputs,
            out=args.out,
            workers=args.workers,
            executor=args.executor,
            scheduler=args.scheduler,
            text_key=args.text_key,
            id_key=args.id_key,
            max_chars=args.max_chars,
            dedup=DedupParams(
                num_perm=args.num_perm,
                bands=args.bands,
                rows=args.rows,
                threshold=args.threshold,
                seed=args.seed,
                bucket_partitions=args.bucket_partitions,
            ),
            keep_work=args.keep_work,
            overwrite=args.overwrite,
            tag=args.tag,
            decont=args.decont,
        )
        summary = prepare(config)
    except (PrepareError, ValueError) as e:
        print(f"procmix prepare: error: {e}", file=sys.stderr)
        return getattr(e, "exit_code", 2)
    print(format_summary(summary))
    return 0


def _query(args: argparse.Namespace) -> int:
    import duckdb

    from pipeline.stats import format_table, query

    try:
        columns, rows = query(args.out, args.sql)
    except (FileNotFoundError, duckdb.Error) as e:
        print(f"procmix query: error: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps([dict(zip(columns, r, strict=True)) for r in rows], default=str))
    else:
        print(format_table(columns, rows))
    return 0


def _stats(args: argparse.Namespace) -> int:
    from pipeline.prepare import format_summary
    from pipeline.stats import format_table, query, read_summary

    try:
        summary = read_summary(args.out)
    except FileNotFoundError as e:
        print(f"procmix stats: error: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(format_summary(summary))
    print()
    print(format_table(*query(args.out, "SELECT * FROM composition")))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="procmix",
        description="Compose pretraining corpora: near-dedup, tag, mix by procedural diversity.",
    )
    parser.add_argument("--version", action="version", version=f"procmix {__version__}")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    p = verbs.add_parser(
        "prepare",
        help="read, validate and near-deduplicate documents into a corpus folder",
        description=(
            "Read JSONL (.jsonl, .jsonl.gz, .jsonl.zst) and Parquet files, quarantine unusable "
            "records with a reason, remove exact and near duplicates (MinHash LSH over word "
            "5-grams), and write OUT/docs/*.parquet (kept documents), OUT/ledger/*.parquet (one "
            "row per input record), OUT/quarantine/, OUT/stats.duckdb and OUT/summary.json. "
            "Kept documents are tagged with content type and task type (the models in "
            "classifiers/models) unless --no-tag. "
            "Rerunning the same command resumes an interrupted run."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="files, folders or globs")
    p.add_argument("-o", "--out", required=True, help="output folder (new, or a run to resume)")
    p.add_argument("--workers", type=int, default=2, help="tasks run at once")
    p.add_argument(
        "--executor",
        choices=("local", "dask"),
        default="local",
        help="local multiprocessing, or a dask.distributed cluster",
    )
    p.add_argument(
        "--scheduler",
        default=None,
        help="dask scheduler address (default: start a LocalCluster of --workers)",
    )
    p.add_argument("--text-key", default="text", help="field or column holding the text")
    p.add_argument("--id-key", default="id", help="field or column holding the user id")
    p.add_argument(
        "--max-chars",
        type=int,
        default=5_000_000,
        help="longer documents are quarantined as too_large",
    )
    p.add_argument(
        "--threshold",
        type=float,
        default=0.8,
        help="Jaccard similarity at or above which documents are near duplicates",
    )
    p.add_argument("--num-perm", type=int, default=128, help="MinHash permutations")
    p.add_argument("--bands", type=int, default=16, help="LSH bands")
    p.add_argument("--rows", type=int, default=8, help="signature rows per LSH band")
    p.add_argument("--seed", type=int, default=1, help="MinHash seed")
    p.add_argument(
        "--bucket-partitions",
        type=int,
        default=1,
        help="split each band's buckets by hash into this many tasks "
        "(raise it when one band's hashes do not fit in a worker's memory)",
    )
    p.add_argument(
        "--keep-work",
        action="store_true",
        help="keep OUT/_work (signatures, buckets) after success",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace OUT when it holds a run with other inputs or settings",
    )
    p.add_argument(
        "--no-tag",
        dest="tag",
        action="store_false",
        help="skip tagging kept documents with content type and task type",
    )
    p.add_argument(
        "--decont",
        metavar="INDEX",
        default=None,
        help="check kept documents against this index (`procmix decont index`): "
        "contam_* columns, a contamination view and summary (default: not checked, columns null)",
    )
    p.set_defaults(func=_prepare)

    q = verbs.add_parser(
        "query",
        help="run SQL over a corpus folder's DuckDB views",
        description=(
            "Run SQL against OUT/stats.duckdb. Views: docs, ledger, quarantine, summary, "
            "composition, fates_by_file, duplicate_clusters, and contamination (corpora "
            "prepared with --decont)."
        ),
    )
    q.add_argument("out", metavar="OUT", help="a prepare output folder")
    q.add_argument("sql", metavar="SQL", help='e.g. "SELECT * FROM summary"')
    q.add_argument("--json", action="store_true", help="print rows as a JSON list of objects")
    q.set_defaults(func=_query)

    s = verbs.add_parser(
        "stats",
        help="print a corpus folder's run summary and composition",
        description="Print OUT/summary.json as a table, then tokens per source.",
    )
    s.add_argument("out", metavar="OUT", help="a prepare output folder")
    s.add_argument("--json", action="store_true", help="print summary.json as is")
    s.set_defaults(func=_stats)
    classifiers.cli.add_verbs(verbs)
    mixtures.cli.add_verbs(verbs)
    pipeline.decont.cli.add_verbs(verbs)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
