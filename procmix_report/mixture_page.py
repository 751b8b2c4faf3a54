"""The mixture / sweep page: per arm, what was asked and what the shards hold
(``manifest.json``), within-type diversity, sources, ``verify``'s verdict (run
now, on the shards) and the spec."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from classifiers.taxonomy import TASK_LABELS
from mixtures import MANIFEST, SWEEP_FILE
from mixtures.verify import verify
from procmix_report import Page, Section, Table, svg
from procmix_report.corpus_page import within_section

# Sources beyond the largest few are summed, so the legend stays readable.
TOP_SOURCES = 11
OTHER_SOURCES = "other sources"


def _arms(path: Path, kind: str) -> tuple[list[tuple[str, dict]], dict]:
    """(arm name, manifest) in the sweep's order, and the spec the page shows."""
    if kind == "mixture":
        manifest = json.loads((path / MANIFEST).read_text())
        return [(manifest["name"], manifest)], manifest["spec"]
    sweep = json.loads((path / SWEEP_FILE).read_text())
    arms = [(a["arm"], json.loads((path / a["arm"] / MANIFEST).read_text())) for a in sweep["arms"]]
    return arms, sweep["spec"]


def _targets(arms: list[tuple[str, dict]]) -> Section:
    rows, values = [], {}
    noisy = any("d1_true" in m["achieved"] for _, m in arms)
    for name, m in arms:
        spec, a, w = m["spec"], m["achieved"], m["achieved"]["within_diversity"]["combined"]
        rows.append(
            [
                name,
                spec["tokens"],
                a["tokens"],
                spec["procedural_share"],
                a["procedural_share"],
                spec["diversity"]["d1"],
                a["d1"],
                a.get("d1_true"),
                a["d0"],
                a["d2"],
                w["within"],
                w["vs"],
            ]
        )
        if spec["diversity"]["d1"] is not None:
            values[(name, "D1 target")] = spec["diversity"]["d1"]
        values[(name, "D1")] = a["d1"]
        if "d1_true" in a:
            values[(name, "expected true D1")] = a["d1_true"]
        values[(name, "D0")] = a["d0"]
        values[(name, "D2")] = a["d2"]
    series = ["D1 target", "D1", *(["expected true D1"] if noisy else []), "D0", "D2"]
    return Section(
        "targets",
        "Targets and achieved figures per arm",
        "Token budget, procedural share and D1 as asked and as the shards hold them; D0 (task "
        "types present), D2 (inverse Simpson), the expected true D1 under the classifier's "
        "label noise (when the corpus has its confusion matrix), and within-type diversity "
        "(within: token-weighted geometric mean of the types' Vendi scores; VS = D1 × within).",
        [svg.grouped_bars([n for n, _ in arms], series, values, "Hill numbers per arm")],
        [
            Table(
                "table-targets",
                [
                    "arm",
                    "tokens_target",
                    "tokens",
                    "procedural_share_target",
                    "procedural_share",
                    "d1_target",
                    "d1",
                    "d1_true",
                    "d0",
                    "d2",
                    "within",
                    "vs",
                ],
                rows,
            )
        ],
    )


def _task_shares(arms: list[tuple[str, dict]]) -> Section:
    present = {t for _, m in arms for t in m["achieved"]["task_shares"]}
    tasks = [t for t in TASK_LABELS if t in present] + sorted(present - set(TASK_LABELS))
    rows, values = [], {}
    for name, m in arms:
        planned = m["solution"]["task_shares"]
        for t in tasks:
            share = m["achieved"]["task_shares"].get(t, 0.0)
            rows.append([name, t, planned.get(t, 0.0), share])
            values[(name, t)] = share
    return Section(
        "task-shares",
        "Task shares per arm",
        "Share of the procedural block's tokens by task type: one bar group per arm.",
        [svg.grouped_bars([n for n, _ in arms], tasks, values, "task shares")],
        [Table("table-task-shares", ["arm", "task_type", "planned", "achieved"], rows)],
    )


def _within(arms: list[tuple[str, dict]]) -> Section:
    if len(arms) == 1:
        return within_section(arms[0][1]["achieved"]["within_diversity"])
    present = {t for _, m in arms for t in m["achieved"]["within_diversity"]["types"]}
    tasks = [t for t in TASK_LABELS if t in present] + sorted(present - set(TASK_LABELS))
    points, combined, rows = {}, {}, []
    for name, m in arms:
        figures = m["achieved"]["within_diversity"]
        for t, e in figures["types"].items():
            if e["vs"] is not None:
                points[(t, name)] = (e["vs"], *e["ci"])
            rows.append([name, t, e["documents"], e["sampled"], e["vs"], *(e["ci"] or [None] * 2)])
        c = figures["combined"]
        combined[(name, "VS")] = (c["vs"], *c["ci"])
        rows.append([name, "combined (D1 × within)", None, None, c["vs"], *c["ci"]])
    first = arms[0][1]["achieved"]["within_diversity"]
    return Section(
        "within",
        "Within-type diversity per arm",
        f"Vendi score per task type and arm (seeded, source-stratified samples of up to "
        f"{first['sample_per_type']:,} documents per type, {first['model']['dims']}-dimensional "
        f"LSA embeddings, 95% bootstrap intervals re-centred on the estimate); then the "
        "combined VS = D1 × within.",
        [
            svg.interval_dots(tasks, [n for n, _ in arms], points, "within-type VS"),
            svg.interval_dots([n for n, _ in arms], ["VS"], combined, "combined VS"),
        ],
        [
            Table(
                "table-within",
                ["arm", "task_type", "documents", "sampled", "vs", "ci_low", "ci_high"],
                rows,
            )
        ],
    )


def _sources(arms: list[tuple[str, dict]]) -> Section:
    totals: dict[str, float] = {}
    for _, m in arms:
        for s, share in m["achieved"]["source_shares"].items():
            totals[s] = totals.get(s, 0.0) + share
    ranked = sorted(totals, key=lambda s: (-totals[s], s))
    shown = ranked[:TOP_SOURCES]
    series = shown + ([OTHER_SOURCES] if len(ranked) > TOP_SOURCES else [])
    rows, values = [], {}
    for name, m in arms:
        for s, share in sorted(m["achieved"]["source_shares"].items()):
            rows.append([name, s, share])
            key = (name, s if s in shown else OTHER_SOURCES)
            values[key] = values.get(key, 0.0) + share
    return Section(
        "sources",
        "Sources per arm",
        f"Token share of each source in each arm (the {TOP_SOURCES} largest shown, the rest "
        "summed).",
        [svg.stacked_bars([n for n, _ in arms], series, values, "sources per arm")],
        [Table("table-sources", ["arm", "source", "share"], rows)],
    )


def _verify(path: Path) -> Section:
    results = verify(path)
    summary, details = [], []
    for where, checks in results.items():
        failed = [c for c in checks if not c.ok]
        summary.append([where, len(checks), len(failed), "pass" if not failed else "FAIL"])
        details += [[where, c.name, c.ok, str(c.found), str(c.expected)] for c in checks]
    return Section(
        "verify",
        "Verify verdict",
        "procmix verify run on the shards as this page was built: every check of every arm.",
        [],
        [
            Table("table-verify", ["mixture", "checks", "failed", "verdict"], summary, "verdict"),
            Table(
                "table-verify-checks",
                ["mixture", "check", "ok", "found", "expected"],
                details,
                "every check",
            ),
        ],
    )


def mixture_page(path: Path, kind: str) -> Page:
    arms, spec = _arms(path, kind)
    sections = [_targets(arms), _task_shares(arms), _within(arms), _sources(arms), _verify(path)]
    sections.append(
        Section(
            "spec",
            "Spec",
            "The spec as the mixer read it (paths made absolute).",
            text=yaml.safe_dump(spec, sort_keys=True),
        )
    )
    first = arms[0][1]
    facts = [
        ("folder", str(path)),
        ("arms", ", ".join(n for n, _ in arms)),
        ("corpus", first["corpus"]["path"]),
        ("corpus xxh3-128", first["corpus"]["xxh3_128"]),
        ("seed", str(first["seed"])),
        ("procmix", first["procmix"]),
    ]
    title = f"{'Sweep' if kind == 'sweep' else 'Mixture'} {path.name}"
    return Page(title, "procmix mixture report", facts, sections)
