"""``procmix`` command line: one verb per job, ``--help`` on each.

The root of the CLI sits above the three packages and the report: each adds its own verbs
(``add_verbs``), and none of them imports another's command line.
"""

from __future__ import annotations

import argparse
import sys

import classifiers.cli
import mixtures.cli
import mixtures.decont
import pipeline.cli
import pipeline.decont.cli
import procmix_report.cli
from procmix_core import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="procmix",
        description="Compose pretraining corpora: near-dedup, tag, mix by procedural diversity.",
    )
    parser.add_argument("--version", action="version", version=f"procmix {__version__}")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    pipeline.cli.add_verbs(verbs)
    classifiers.cli.add_verbs(verbs)
    mixtures.cli.add_verbs(verbs)
    # `decont report MIXDIR` finds the index in the mixture's manifest, which mixtures reads.
    pipeline.decont.cli.add_verbs(verbs, mixtures.decont.recorded_index)
    procmix_report.cli.add_verbs(verbs)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
