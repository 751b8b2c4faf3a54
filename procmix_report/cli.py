"""``procmix report``: the verb of the report package."""

from __future__ import annotations

import argparse
import sys

from mixtures.cli import EXIT_USAGE
from procmix_report import ReportError, write


def _report(args: argparse.Namespace) -> int:
    try:
        size = write(args.path, args.out, args.sample, args.seed)
    except (ReportError, FileNotFoundError) as e:
        print(f"procmix report: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    print(f"wrote {args.out} ({size / 1e6:.2f} MB): open it in a browser")
    return 0


def add_verbs(verbs: argparse._SubParsersAction) -> None:
    """Add ``report`` to ``procmix``'s subparsers."""
    r = verbs.add_parser(
        "report",
        help="write one self-contained HTML page of a corpus, a mixture or a sweep",
        description=(
            "Write one HTML file (inline SVG charts, each with a folded table of its numbers; "
            "no script, no network) for PATH: a corpus folder (fates, quarantine, composition, "
            "lengths, duplicate clusters, classifier confidence, within-type diversity, "
            "contamination when the corpus has it), a mixture or a sweep folder (targets vs "
            "achieved per arm, task shares, within-type diversity, sources, verify's verdict, "
            f"the spec). Exit codes: 0 written; {EXIT_USAGE} PATH is none of those."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    r.add_argument("path", metavar="PATH", help="a corpus, mixture or sweep folder")
    r.add_argument("-o", "--out", default="report.html", help="HTML file to write")
    r.add_argument(
        "--sample",
        type=int,
        default=1000,
        help="corpus page: documents sampled per task type for within-type diversity",
    )
    r.add_argument("--seed", type=int, default=0, help="corpus page: within-type sample seed")
    r.set_defaults(func=_report)
