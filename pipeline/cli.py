"""``procmix prepare | query | stats``: added to the main parser by ``add_verbs``."""

from __future__ import annotations

import argparse
import json
import sys

from pipeline import WORKER_PRELOAD
from pipeline.layout import DedupParams
from procmix_core.forkserver import start_early
from procmix_core.readers import DEFAULT_MAX_CHARS
from procmix_core.storage import add_storage_option

_DEDUP = DedupParams()


def _fail(verb: str, error: Exception, options: dict, exit_code: int = 2) -> int:
    """One line naming what failed, credentials removed."""
    from procmix_core.storage import redact

    print(redact(f"procmix {verb}: error: {error}", options), file=sys.stderr)
    return exit_code


def _prepare(args: argparse.Namespace) -> int:
    if args.executor == "local" and args.workers > 1:
        start_early(WORKER_PRELOAD)
    from pipeline.prepare import PrepareConfig, PrepareError, format_summary, prepare
    from procmix_core.storage import StorageError, parse_options

    options: dict = {}
    try:
        options = parse_options(args.storage_options)
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
            storage_options=options,
            decont=args.decont,
        )
        summary = prepare(config)
    except (PrepareError, StorageError, ValueError, OSError) as e:
        return _fail("prepare", e, options, getattr(e, "exit_code", 2))
    print(format_summary(summary))
    return 0


def _query(args: argparse.Namespace) -> int:
    import duckdb

    from pipeline.stats import query
    from procmix_core.storage import StorageError, parse_options
    from procmix_core.tables import format_table

    options: dict = {}
    try:
        options = parse_options(args.storage_options)
        columns, rows = query(args.out, args.sql, options)
    except (StorageError, OSError, duckdb.Error) as e:
        return _fail("query", e, options)
    if args.json:
        print(json.dumps([dict(zip(columns, r, strict=True)) for r in rows], default=str))
    else:
        print(format_table(columns, rows))
    return 0


def _stats(args: argparse.Namespace) -> int:
    from pipeline.prepare import format_summary
    from pipeline.stats import query, read_summary, type_composition
    from procmix_core.storage import StorageError, parse_options
    from procmix_core.tables import format_table

    options: dict = {}
    try:
        options = parse_options(args.storage_options)
        summary = read_summary(args.out, options)
        if args.json:
            print(json.dumps(summary, indent=2))
            return 0
        by_type = type_composition(args.out, options)
        by_source = query(args.out, "SELECT * FROM composition", options)
    except (StorageError, OSError) as e:
        return _fail("stats", e, options)
    print(format_summary(summary))
    if by_type is None:
        print("\nuntagged corpus (prepare --no-tag): no content type or task type to show")
    else:
        print("\nkept documents by content type and task type")
        print(format_table(*by_type))
    print("\nkept documents by source")
    print(format_table(*by_source))
    return 0


def add_verbs(verbs: argparse._SubParsersAction) -> None:
    """Add the pipeline's verbs to procmix's subcommands."""
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
    p.add_argument(
        "inputs", nargs="+", metavar="INPUT", help="files, folders or globs (or s3:// URLs)"
    )
    p.add_argument(
        "-o", "--out", required=True, help="output folder or s3:// URL (new, or a run to resume)"
    )
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
        default=DEFAULT_MAX_CHARS,
        help="longer documents are quarantined as too_large",
    )
    p.add_argument(
        "--threshold",
        type=float,
        default=_DEDUP.threshold,
        help="Jaccard similarity at or above which documents are near duplicates",
    )
    p.add_argument("--num-perm", type=int, default=_DEDUP.num_perm, help="MinHash permutations")
    p.add_argument("--bands", type=int, default=_DEDUP.bands, help="LSH bands")
    p.add_argument("--rows", type=int, default=_DEDUP.rows, help="signature rows per LSH band")
    p.add_argument("--seed", type=int, default=_DEDUP.seed, help="MinHash seed")
    p.add_argument(
        "--bucket-partitions",
        type=int,
        default=_DEDUP.bucket_partitions,
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
    q.add_argument("out", metavar="OUT", help="a prepare output folder or s3:// URL")
    q.add_argument("sql", metavar="SQL", help='e.g. "SELECT * FROM summary"')
    q.add_argument("--json", action="store_true", help="print rows as a JSON list of objects")
    q.set_defaults(func=_query)

    s = verbs.add_parser(
        "stats",
        help="print a corpus folder's run summary and composition",
        description=(
            "Print OUT/summary.json as a table, then documents and tokens by content type x "
            "task type (tagged corpora), then by source."
        ),
    )
    s.add_argument("out", metavar="OUT", help="a prepare output folder or s3:// URL")
    s.add_argument("--json", action="store_true", help="print summary.json as is")
    s.set_defaults(func=_stats)
    for verb in (p, q, s):
        add_storage_option(verb)
