"""``procmix mix | sweep | verify | explain``: added to the main parser by ``add_verbs``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from procmix_core.storage import add_storage_option

EXIT_INFEASIBLE = 3
EXIT_FAILED_CHECK = 1
EXIT_USAGE = 2


def _spec(args: argparse.Namespace):
    """The verb's spec, with ``--corpus`` and ``--storage-options`` applied."""
    from mixtures.spec import load_spec
    from procmix_core.storage import parse_options

    return load_spec(args.spec, args.corpus, parse_options(args.storage_options))


def _run(verb: str, action, storage_options: str | None = None) -> int:
    """Run ``action()``; turn the mixer's known errors into a message and an exit code."""
    from mixtures.corpus import CorpusError
    from mixtures.decont import DecontError
    from mixtures.mix import MixError, SelfCheckFailed
    from mixtures.optimiser import Infeasible
    from mixtures.spec import SpecError
    from procmix_core.storage import StorageError, parse_options, redact

    try:
        return action()
    except SelfCheckFailed as e:
        print(f"procmix {verb}: {e}:", file=sys.stderr)
        for c in e.failed:
            print(f"  FAIL {c.name}  found {c.found}  expected {c.expected}", file=sys.stderr)
        for reason in e.reasons:
            print(f"  {reason}", file=sys.stderr)
        print(
            f"  {e.out} is left as an interrupted mix; `procmix explain SPEC` says what whole "
            "documents allow",
            file=sys.stderr,
        )
        return EXIT_INFEASIBLE
    except Infeasible as e:
        print(f"procmix {verb}: infeasible spec:", file=sys.stderr)
        for reason in e.reasons:
            print(f"  {reason}", file=sys.stderr)
        print("run `procmix explain SPEC` for the reachable range of every target", file=sys.stderr)
        return EXIT_INFEASIBLE
    except (SpecError, CorpusError, DecontError, MixError, StorageError, OSError) as e:
        # OSError: object storage failing part way (network, credentials); never a secret.
        try:
            options = parse_options(storage_options)
        except StorageError:
            options = {}
        print(redact(f"procmix {verb}: error: {e}", options), file=sys.stderr)
        return EXIT_USAGE


def _warn(verb: str, warnings: list[str]) -> None:
    for warning in warnings:
        print(f"procmix {verb}: warning: {warning}", file=sys.stderr)


def format_decontamination(entry: dict, table: bool = True) -> str:
    """What the manifest's ``decontamination`` says, and its per-benchmark ``table``."""
    if entry["index"] is None:
        return (
            "decontamination: none, the corpus was not checked against an evaluation-set "
            "index (prepare --decont INDEX)"
        )
    excluded = ", ".join(entry["excluded_benchmarks"]) or "no benchmark"
    line = (
        f"decontamination: index {entry['index']['digest'][:16]}; excluded "
        f"{entry['documents_excluded']:,} documents ({entry['tokens_excluded']:,} tokens) "
        f"flagged for {excluded} with more than {entry['max_matched_ngrams']} matched n-grams"
    )
    if not table:
        return line
    from procmix_core.tables import format_table

    columns = [
        "items",
        "items_in_corpus",
        "items_in_mixture",
        "excluded",
        "documents_excluded",
        "tokens_excluded",
    ]
    rows = [(name, *(b[c] for c in columns)) for name, b in entry["benchmarks"].items()]
    return line + "\n" + format_table(["benchmark", *columns], rows)


def format_abstention(entry: dict) -> str:
    """What the manifest's ``corpus.abstained`` says, on one line."""
    parts = ", ".join(
        f"{name} {e['documents']:,} ({e['tokens']:,} tokens)"
        for name, e in entry["by_content_type"].items()
    )
    return (
        f"abstention: labels.min_confidence {entry['min_confidence']:g} set aside "
        f"{entry['documents']:,} documents ({entry['tokens']:,} tokens) as candidates: "
        f"{parts} by predicted content type; {entry['null_probability_documents']:,} of them "
        "for a null probability"
    )


def _mix(args: argparse.Namespace) -> int:
    from mixtures.mix import mix

    def action() -> int:
        manifest = mix(_spec(args), args.out, args.overwrite)
        _warn("mix", manifest["solution"]["warnings"])
        a, t = manifest["achieved"], manifest["_timing"]
        print(
            f"wrote {args.out}: {len(manifest['shards'])} shard(s), "
            f"{sum(s['rows'] for s in manifest['shards']):,} rows, {a['tokens']:,} tokens, "
            f"procedural share {a['procedural_share']:.4f}, D0 {a['d0']:.0f} D1 {a['d1']:.4f} "
            f"D2 {a['d2']:.4f}"
            + (f", expected true D1 {a['d1_true']:.4f}" if "d1_true" in a else "")
        )
        w = a["within_diversity"]["combined"]
        print(
            f"within-type diversity: VS {w['vs']:.2f} (95% {w['ci'][0]:.2f}-{w['ci'][1]:.2f}) = "
            f"D1 x {w['within']:.2f}; per type: "
            + ", ".join(f"{k} {e['vs']}" for k, e in a["within_diversity"]["types"].items())
            + f" ({t['within_seconds']:.1f} s)"
        )
        print(f"sampled and wrote {t['text_mb']:.1f} MB of text in {t['seconds']:.1f} s")
        print(format_decontamination(manifest["decontamination"]))
        if "abstained" in manifest["corpus"]:
            print(format_abstention(manifest["corpus"]["abstained"]))
        print(f"check it: procmix verify {args.out}")
        return 0

    return _run("mix", action, args.storage_options)


def _levels(text: str) -> list[float]:
    try:
        levels = [float(x) for x in text.split(",") if x.strip()]
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"expected numbers like 2,3,4,6, found {text!r}") from e
    if not levels or any(x < 1 for x in levels) or len(set(levels)) != len(levels):
        raise argparse.ArgumentTypeError(f"expected distinct levels >= 1, found {text!r}")
    return levels


def format_sweep(record: dict) -> str:
    header = (
        "arm",
        "D1 target",
        "tokens",
        "proc share",
        "D0",
        "D1",
        "D2",
        "within",
        "VS",
        "docs",
        "factual block",
    )
    rows = [
        (
            a["arm"],
            f"{a['d1_target']:g}",
            f"{a['tokens']:,}",
            f"{a['procedural_share']:.4f}",
            f"{a['d0']:.0f}",
            f"{a['d1']:.4f}",
            f"{a['d2']:.4f}",
            f"{a['within']:.2f}",
            f"{a['vs']:.2f}",
            f"{a['docs']:,}",
            a["factual_other_sha256"][:12],
        )
        for a in record["arms"]
    ]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join(
        "  ".join(str(c).rjust(w) for c, w in zip(r, widths, strict=True)) for r in [header, *rows]
    )


def _sweep(args: argparse.Namespace) -> int:
    from mixtures.mix import sweep

    def action() -> int:
        record = sweep(_spec(args), args.levels, args.out, args.overwrite)
        _warn("sweep", record["warnings"])
        print(format_sweep(record))
        # Exclusion is per corpus, so the same in every arm.
        print(format_decontamination(record["decontamination"], table=False))
        if record["abstained"] is not None:
            print(format_abstention(record["abstained"]))
        print(
            "within: token-weighted geometric mean of the task types' Vendi scores; "
            "VS = D1 x within (per type in each arm's manifest.json)"
        )
        print(
            f"wrote {args.out}: one folder per arm and sweep.json; "
            f"check it: procmix verify {args.out}"
        )
        return 0

    return _run("sweep", action, args.storage_options)


def _verify(args: argparse.Namespace) -> int:
    from mixtures.verify import as_json, format_checks, passed, verify
    from procmix_core.storage import StorageError, is_url, parse_options, redact

    if not is_url(args.mixture) and not Path(args.mixture).is_dir():
        print(f"procmix verify: error: no such folder: {args.mixture}", file=sys.stderr)
        return EXIT_USAGE
    try:
        options = parse_options(args.storage_options)
        results = verify(args.mixture, options)
    except StorageError as e:
        print(f"procmix verify: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except (OSError, KeyError, ValueError) as e:
        message = f"procmix verify: error: {args.mixture} is not a readable mixture: {e}"
        print(redact(message, options), file=sys.stderr)
        return EXIT_USAGE
    print(as_json(results) if args.json else format_checks(results))
    return 0 if passed(results) else EXIT_FAILED_CHECK


def _explain(args: argparse.Namespace) -> int:
    from mixtures.explain import explain

    def action() -> int:
        text, feasible = explain(_spec(args))
        print(text)
        return 0 if feasible else EXIT_INFEASIBLE

    return _run("explain", action, args.storage_options)


def add_verbs(verbs: argparse._SubParsersAction) -> None:
    """Add the mixture verbs to ``procmix``'s subparsers."""
    m = verbs.add_parser(
        "mix",
        help="build one mixture from a spec: solve, sample, write shards + manifest",
        description=(
            "Exclude the documents the corpus's decontamination index flagged (spec key "
            "decontaminate; default: every benchmark of a checked corpus), solve the spec's "
            "targets on the rest, select documents with a seeded hash of "
            "their doc_key (nested, order-independent), and write OUT/shard-NNNNN.parquet "
            "(zstd), run verify's checks on the shards, and only when they pass write "
            "OUT/manifest.json: a mixture with a manifest always passes `procmix verify`. "
            "Exit codes: 0 written; "
            f"{EXIT_USAGE} spec, corpus or output folder error (nothing written); "
            f"{EXIT_INFEASIBLE} infeasible spec (failing before writing, naming the binding "
            "constraint) or written shards that fail a check, e.g. a task type planned at too "
            "few documents (no manifest; OUT is left as an interrupted mix)."
        ),
    )
    sweep_parser = verbs.add_parser(
        "sweep",
        help="build one mixture per diversity level, all else held equal",
        description=(
            "One mixture per D1 level (OUT/d2, OUT/d3, ...; a non-integer level names its "
            "folder with _ for the point: 2.5 -> OUT/d2_5): same token budget and procedural "
            "share, the corpus's source mix within each task type, the same factual/other "
            "documents in every arm, no document repeated (the spec must keep max_epochs: 1). "
            "Arms nest group by group: in each procedural task type, an arm with a lower "
            "target for it takes a prefix of the documents of an arm with a higher one. "
            "--levels overrides the spec's diversity.d1. Every arm is solved before any is "
            "written, and checked before any manifest is written. Writes OUT/sweep.json and "
            f"prints the arms' achieved figures. Exit codes as for mix ({EXIT_USAGE} "
            f"spec/corpus error, {EXIT_INFEASIBLE} an infeasible level or an arm failing a check)."
        ),
    )
    explain_parser = verbs.add_parser(
        "explain",
        help="print the reachable range of each target on the corpus; write nothing",
        description=(
            "Report what the corpus can reach for the spec: token budget, procedural share, "
            "D1 of the procedural task types, per-task shares and their planned tokens in mean "
            "documents (flagging targets whole documents cannot meet to tolerance), and, when "
            f"the spec is infeasible, why (exit {EXIT_INFEASIBLE}; exit {EXIT_USAGE} for a spec "
            "or corpus error)."
        ),
    )
    for p in (m, sweep_parser, explain_parser):
        add_storage_option(p)
        p.add_argument("spec", metavar="SPEC.yaml", help="mixture spec (see mixtures/examples)")
        p.add_argument(
            "--corpus",
            help="corpus folder (relative to the working directory) or s3:// URL, overriding "
            "the spec's",
        )
    for p in (m, sweep_parser):
        p.add_argument(
            "-o", "--out", required=True, help="output folder or s3:// URL (new or empty)"
        )
        p.add_argument("--overwrite", action="store_true", help="replace a mixture in OUT")
    sweep_parser.add_argument(
        "--levels",
        type=_levels,
        default="2,3,4,6",
        help="distinct D1 levels >= 1, comma separated; overrides diversity.d1 (default: 2,3,4,6)",
    )
    m.set_defaults(func=_mix)
    sweep_parser.set_defaults(func=_sweep)
    explain_parser.set_defaults(func=_explain)

    v = verbs.add_parser(
        "verify",
        help="recompute a mixture's figures from its shards and check them",
        description=(
            "Read the shards with DuckDB, recompute tokens, procedural share, D0/D1/D2, task and "
            "source shares, within-type diversity, duplicates and block digests, rematch the "
            "text against the corpus's decontamination index, and compare them with the spec's "
            "targets, the planned solution and manifest.json (sha256 per shard). On a sweep "
            "folder, also check that every arm holds the same factual/other block. Exit codes: "
            f"0 all checks pass; {EXIT_FAILED_CHECK} a check fails; {EXIT_USAGE} MIXDIR is "
            "missing or not a readable mixture."
        ),
    )
    v.add_argument(
        "mixture", metavar="MIXDIR", help="a mix or sweep output folder, or its s3:// URL"
    )
    v.add_argument("--json", action="store_true", help="print the checks as JSON")
    add_storage_option(v)
    v.set_defaults(func=_verify)
