"""Recompute a mixture's figures from its shards (DuckDB over the Parquet) and
compare them to the spec's targets, the planned solution and the manifest."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb
import numpy as np

from classifiers.taxonomy import PROCEDURAL
from mixtures import MANIFEST, SWEEP_FILE, diversity_within
from mixtures.corpus import load_tokenizer
from mixtures.decont import rematch
from mixtures.figures import block_digest, by_group, figures, source_shares_by_group
from mixtures.manifest import MANIFEST_VERSION
from mixtures.optimiser import Confusion
from procmix_core.decont_match import DecontIndexError, load_index
from procmix_core.hashing import file_sha256
from procmix_core.storage import Location, local_copy
from procmix_core.tokens import ESTIMATE_RULE, estimated_tokens_sql

TOKENS_REL = 0.005
SHARE_PP = 0.005
D1_REL = 0.01
TASK_REL = 0.05
TASK_MIN_SHARE = 0.01
# Below this many documents a group's source shares are at the mercy of rounding
# (each bucket is off by up to half a document), so they are not checked.
SOURCE_MIN_DOCS = 200
# The figures manifest.json records and verify recomputes from the shards.
MANIFEST_FIGURES = ("tokens", "procedural_share", "d0", "d1", "d2")


def task_tolerance(planned_tokens: float, typical_doc_tokens: float) -> float:
    """Relative tolerance of a task type's share: TASK_REL, or the half a typical
    document that whole documents may leave it from plan, when that is more."""
    if planned_tokens <= 0:
        return TASK_REL
    return max(TASK_REL, min(planned_tokens, typical_doc_tokens / 2) / planned_tokens)


@dataclass
class Check:
    name: str
    found: object
    expected: object
    ok: bool


def _connect(mixdir: Path) -> duckdb.DuckDBPyConnection:
    """A connection with a ``shards`` view over the mixture's shard files."""
    con = duckdb.connect()
    glob = str(mixdir / "shard-*.parquet").replace("'", "''")
    con.execute(f"CREATE VIEW shards AS SELECT * FROM read_parquet('{glob}', filename=true)")
    return con


def _shard_checks(mixdir: Path, manifest: dict, con: duckdb.DuckDBPyConnection) -> list[Check]:
    checks = []
    listed = {s["file"]: s for s in manifest["shards"]}
    present = sorted(p.name for p in mixdir.glob("shard-*.parquet"))
    checks.append(Check("shard files", present, sorted(listed), present == sorted(listed)))
    counts = {
        Path(f).name: (rows, tokens)
        for f, rows, tokens in con.execute(
            "SELECT filename, count(*), sum(n_tokens) FROM shards GROUP BY filename"
        ).fetchall()
    }
    for name, entry in sorted(listed.items()):
        path = mixdir / name
        if not path.exists():
            continue
        sha = file_sha256(path)
        checks.append(
            Check(f"{name} sha256", sha[:16], entry["sha256"][:16], sha == entry["sha256"])
        )
        found = tuple(int(x) for x in counts.get(name, (0, 0)))
        expected = (entry["rows"], entry["tokens"])
        checks.append(Check(f"{name} rows, tokens", found, expected, found == expected))
    return checks


def _bucket_tokens(con: duckdb.DuckDBPyConnection) -> tuple[dict, dict]:
    """Tokens and rows per (source, content_type, task_type) in the shards."""
    rows = con.execute(
        "SELECT source, content_type, task_type, sum(n_tokens), count(*) FROM shards GROUP BY ALL"
    ).fetchall()
    return {(s, c, t): float(n) for s, c, t, n, _ in rows}, {(s, c, t): d for s, c, t, _, d in rows}


def shard_block_digests(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Digests of the procedural and factual/other blocks, read from the shards."""
    result = {}
    for name, where in (("procedural", "="), ("factual_other", "<>")):
        table = con.sql(
            f"SELECT doc_key, epoch FROM shards WHERE content_type {where} '{PROCEDURAL}'"
        ).to_arrow_table()
        result[name] = block_digest(table["doc_key"].to_pylist(), table["epoch"].to_numpy())
    return result


def _rel(found: float, expected: float) -> float:
    return abs(found - expected) / expected if expected else abs(found)


def target_checks(spec: dict, solution: dict, got: dict) -> list[Check]:
    """The spec's targets and the plan's task shares against the figures ``got`` from the
    shards: tokens, procedural share, D0/D1/D2, task shares and bounds."""
    checks = [
        Check(
            "tokens within 0.5% of budget",
            got["tokens"],
            spec["tokens"],
            _rel(got["tokens"], spec["tokens"]) <= TOKENS_REL,
        ),
        Check(
            "procedural share within 0.5 pp",
            round(got["procedural_share"], 5),
            spec["procedural_share"],
            abs(got["procedural_share"] - spec["procedural_share"]) <= SHARE_PP,
        ),
    ]
    div = spec["diversity"]
    if div["d1"] is not None:
        key = "d1_true" if spec["noise_correction"] else "d1"
        checks.append(
            Check(
                f"{key} within 1% of target",
                round(got[key], 4),
                div["d1"],
                _rel(got[key], div["d1"]) <= D1_REL,
            )
        )
    for q in ("d0", "d2"):
        lo, hi = div[f"{q}_min"], div[f"{q}_max"]
        if lo is not None or hi is not None:
            ok = (lo is None or got[q] >= lo * (1 - D1_REL)) and (
                hi is None or got[q] <= hi * (1 + D1_REL)
            )
            checks.append(Check(f"{q} within bounds", round(got[q], 4), [lo, hi], ok))
    granularity = solution["granularity"]
    for task, planned in sorted(solution["task_shares"].items()):
        if planned > TASK_MIN_SHARE:
            found = got["task_shares"].get(task, 0.0)
            g = granularity[task]
            # A task of a few documents cannot come closer than whole documents allow.
            tol = task_tolerance(g["planned_tokens"], g["typical_doc_tokens"])
            name = f"task {task} share within {tol:.1%} relative"
            if tol > TASK_REL:
                name += " (half a typical document)"
            checks.append(
                Check(name, round(found, 5), round(planned, 5), _rel(found, planned) <= tol)
            )
    for task, bounds in sorted(spec["tasks"].items()):
        if task not in solution["task_shares"]:
            continue  # not a procedural task type of the corpus: mix warned, nothing to check
        found = got["task_shares"].get(task, 0.0)
        ok = bounds["min"] * (1 - TASK_REL) <= found <= bounds["max"] * (1 + TASK_REL)
        checks.append(
            Check(
                f"task {task} share in [min, max]",
                round(found, 5),
                [bounds["min"], bounds["max"]],
                ok,
            )
        )
    return checks


def _planned_and_slack(buckets: list[dict]) -> tuple[dict, dict]:
    """Per group and source, planned tokens and how far the merged order's prefix may
    leave them from the group's proportional part: half a typical (size-biased mean)
    document of the bucket, or all of them when planned under that."""
    planned, slack = {}, {}
    for b in buckets:
        key = (b["source"], b["content_type"], b["task_type"])
        planned[key] = b["target_tokens"]
        half = b["typical_doc_tokens"] / 2
        slack[key] = min(b["target_tokens"], half)
    return by_group(planned), by_group(slack)


def _share_bounds(buckets: list[dict]) -> dict[str, dict[str, tuple[float, float]]]:
    """Per group and source, the lowest and highest share the sampler's rounding allows.

    A source's share is lowest when its bucket falls short and every other
    bucket of its group runs over, highest the other way round.
    """
    planned, slack_by_group = _planned_and_slack(buckets)
    bounds = {}
    for group, by_source in planned.items():
        e = slack_by_group[group]
        low_total = sum(t - e[s] for s, t in by_source.items())
        high_total = sum(t + e[s] for s, t in by_source.items())
        bounds[group] = {}
        for s, t in by_source.items():
            low, high = t - e[s], t + e[s]
            bounds[group][s] = (
                low / (high_total - 2 * e[s]) if high_total - 2 * e[s] > 0 else 0.0,
                high / (low_total + 2 * e[s]) if low_total + 2 * e[s] > 0 else 1.0,
            )
    return bounds


def source_checks(spec: dict, solution: dict, tokens: dict, docs: dict) -> list[Check]:
    """Each group's source shares within ``source_tolerance`` of what the plan allows once
    every bucket is rounded to whole documents; the check reports the source nearest failing."""
    checks = []
    got = source_shares_by_group(tokens)
    rows = {g: sum(by_source.values()) for g, by_source in by_group(docs).items()}
    bounds = _share_bounds(solution["buckets"])
    tol = spec["source_tolerance"]
    for group, planned in sorted(solution["source_shares"].items()):
        if rows.get(group, 0) < SOURCE_MIN_DOCS:
            continue
        found = got.get(group, {})
        allowed, excess = {}, {}
        for s, p in planned.items():
            low, high = bounds.get(group, {}).get(s, (p, p))
            share = found.get(s, 0.0)
            # How far from plan this source may be on the side it deviates to.
            allowed[s] = (p - min(low, p) if share < p else max(high, p) - p) + tol
            excess[s] = abs(share - p) - allowed[s]
        worst = max(excess, key=lambda s: excess[s])
        name = f"source shares in {group} within {tol:.4g} plus rounding (worst: {worst})"
        deviation = abs(found.get(worst, 0.0) - planned[worst])
        checks.append(
            Check(name, round(deviation, 5), round(allowed[worst], 5), excess[worst] <= 1e-12)
        )
    return checks


def _confusion(manifest: dict) -> Confusion | None:
    entry = manifest.get("noise_model")
    return Confusion.from_summary(entry) if entry else None


def _token_checks(con: duckdb.DuckDBPyConnection, tokenizer: dict) -> list[Check]:
    """Stored n_tokens against a recount: every row for the estimate, a sample (0.1%, at
    least 100 rows) with a tokenizer, whose file must still match its sha256."""
    if tokenizer["kind"] == "estimate":
        estimate = estimated_tokens_sql("strlen(text)")
        bad = con.execute(f"SELECT count(*) FROM shards WHERE n_tokens <> {estimate}").fetchall()
        return [Check(f"n_tokens = {ESTIMATE_RULE}, every row", bad[0][0], 0, bad[0][0] == 0)]
    path = Path(tokenizer["path"])
    sha = file_sha256(path) if path.exists() else "missing"
    checks = [
        Check(
            "tokenizer file sha256", sha[:16], tokenizer["sha256"][:16], sha == tokenizer["sha256"]
        )
    ]
    if sha != tokenizer["sha256"]:
        return checks
    rows = con.execute("SELECT count(*) FROM shards").fetchall()[0][0]
    sample = con.execute(
        f"SELECT text, n_tokens FROM shards USING SAMPLE reservoir({max(100, rows // 1000)} ROWS) "
        "REPEATABLE (0)"
    ).fetchall()
    encoded = load_tokenizer(str(path)).encode_batch(
        [t for t, _ in sample], add_special_tokens=False
    )
    bad = sum(len(e.ids) != n for e, (_, n) in zip(encoded, sample, strict=True))
    checks.append(Check(f"n_tokens recounted on {len(sample)} sampled rows", bad, 0, bad == 0))
    return checks


def _decont_checks(mixdir: Path, entry: dict) -> list[Check]:
    """The shards' text rematched against the recorded index (the one the corpus
    carries): no document an excluded benchmark flags, and the items per benchmark the
    manifest says the mixture holds. A corpus never checked records no index."""
    recorded = entry["index"]
    if recorded is None:
        return []
    try:
        index = load_index(recorded["path"])
    except DecontIndexError:
        return [Check("decont index present (the corpus's)", "missing", recorded["path"], False)]
    same = index.digest == recorded["digest"]
    checks = [
        Check(
            "decont index digest matches manifest", index.digest[:16], recorded["digest"][:16], same
        )
    ]
    if not same:
        return checks
    excluded = tuple(entry["excluded_benchmarks"])
    tally, hits, example = rematch(mixdir, index, excluded, entry["max_matched_ngrams"])
    checks.append(
        Check(
            f"documents flagged for excluded benchmarks ({', '.join(excluded) or 'none'})",
            hits if example is None else f"{hits}, e.g. {example}",
            0,
            hits == 0,
        )
    )
    found = {name: len(tally.items_hit.get(name, ())) for name in entry["benchmarks"]}
    expected = {name: b["items_in_mixture"] for name, b in entry["benchmarks"].items()}
    checks.append(
        Check("items found per benchmark match manifest", found, expected, found == expected)
    )
    return checks


def verify_mixture(mixdir: str | os.PathLike) -> list[Check]:
    """Every check of one mixture folder."""
    mixdir = Path(mixdir)
    path = mixdir / MANIFEST
    if not path.exists():
        return [Check("manifest.json present", False, True, False)]
    manifest = json.loads(path.read_text())
    version = manifest.get("manifest_version")
    if version != MANIFEST_VERSION:
        return [
            Check(
                "manifest_version (rebuild older mixtures with this procmix)",
                version,
                MANIFEST_VERSION,
                False,
            )
        ]
    return check_mixture(mixdir, manifest)


def within_of_shards(mixdir: Path, spec: dict, task_shares: dict[str, float]) -> dict:
    """The within-type diversity figures of the shards, as the spec asks them."""
    return diversity_within.of_shards(
        mixdir, task_shares, spec["diversity"]["within_sample"], spec["seed"]
    )


def _within_values(within: dict) -> dict[str, list[float]]:
    """VS and its interval per task type and combined; nan where a type has no figure."""
    entries = {**within["types"], "combined": within["combined"]}
    return {
        k: [np.nan if x is None else x for x in [e["vs"], *(e["ci"] or [None, None])]]
        for k, e in entries.items()
    }


def _within_checks(spec: dict, recorded: dict, got: dict) -> list[Check]:
    """The manifest's within-type figures recomputed from the shards (same seed, same
    sample, same model), and the spec's ``diversity.within_min`` bounds on them."""
    model = recorded["model"]["sha256"], got["model"]["sha256"]
    checks = [
        Check(
            "within-type model matches manifest", model[1][:16], model[0][:16], model[0] == model[1]
        )
    ]
    expected, found = _within_values(recorded), _within_values(got)
    slack = 10.0**-diversity_within.DECIMALS
    same = expected.keys() == found.keys() and all(
        np.allclose(
            np.array(found[k], dtype=float),
            np.array(expected[k], dtype=float),
            rtol=0,
            atol=slack,
            equal_nan=True,
        )
        for k in expected
    )
    name = (
        f"within-type diversity matches manifest (seed {got['seed']}, up to "
        f"{got['sample_per_type']} documents per type)"
    )
    checks.append(Check(name, found.get("combined"), expected.get("combined"), same))
    bound = spec["diversity"].get("within_min")
    if bound is None:
        return checks
    bounds = bound if isinstance(bound, dict) else {t: bound for t in got["types"]}
    for key, low in sorted(bounds.items()):
        entry = got["combined"] if key == "combined" else got["types"].get(key)
        if entry is None:
            continue  # a task type the mixture has no procedural documents of
        vs = entry["vs"] or 0.0
        checks.append(Check(f"within-type VS of {key} >= {low:g}", vs, low, vs >= low))
    return checks


def check_mixture(mixdir: Path, manifest: dict, within: dict | None = None) -> list[Check]:
    """Every check of the shards in ``mixdir`` against ``manifest`` (read from the folder,
    or the one mix is about to publish). ``within``: the shards' within-type figures,
    when the caller has just computed them from these shards."""
    spec, solution = manifest["spec"], manifest["solution"]
    if not any(mixdir.glob("shard-*.parquet")):
        return [Check("shard files", [], [s["file"] for s in manifest["shards"]], False)]
    con = _connect(mixdir)
    checks = _shard_checks(mixdir, manifest, con)
    tokens, docs = _bucket_tokens(con)
    got = figures(tokens, _confusion(manifest))
    checks += target_checks(spec, solution, got)
    checks += source_checks(spec, solution, tokens, docs)
    checks += _token_checks(con, manifest["tokenizer"])
    most = con.execute(
        "SELECT coalesce(max(c), 0) FROM (SELECT count(*) c FROM shards GROUP BY doc_key)"
    ).fetchall()[0][0]
    checks.append(
        Check(
            "copies per document <= max_epochs",
            most,
            spec["max_epochs"],
            most <= spec["max_epochs"],
        )
    )
    same_text = con.execute(
        "SELECT count(*) FROM (SELECT md5(text) AS h FROM shards "
        "GROUP BY h HAVING count(DISTINCT doc_key) > 1)"
    ).fetchall()[0][0]
    checks.append(Check("documents with the same text", same_text, 0, same_text == 0))
    checks += _decont_checks(mixdir, manifest["decontamination"])
    digests = shard_block_digests(con)
    for block, digest in digests.items():
        expected = manifest["blocks"][block]
        checks.append(
            Check(f"{block} block matches manifest", digest[:16], expected[:16], digest == expected)
        )
    if within is None:
        within = within_of_shards(mixdir, spec, got["task_shares"])
    checks += _within_checks(spec, manifest["achieved"]["within_diversity"], within)
    return checks + _manifest_checks(manifest["achieved"], got)


def _manifest_checks(recorded: dict, got: dict) -> list[Check]:
    """The manifest's achieved figures against the ones recomputed from the shards."""
    same = all(np.isclose(recorded[k], got[k], rtol=1e-9, atol=0) for k in MANIFEST_FIGURES)
    tasks = sorted(set(recorded["task_shares"]) | set(got["task_shares"]))
    worst = max(
        (abs(recorded["task_shares"].get(t, 0.0) - got["task_shares"].get(t, 0.0)) for t in tasks),
        default=0.0,
    )
    return [
        Check(
            "manifest figures match shards (" + ", ".join(MANIFEST_FIGURES) + ")",
            [round(got[k], 6) for k in MANIFEST_FIGURES],
            [round(recorded[k], 6) for k in MANIFEST_FIGURES],
            bool(same),
        ),
        Check("manifest task shares match shards (largest difference)", worst, 0, worst <= 1e-9),
    ]


def verify(path: str | os.PathLike, storage_options: dict | None = None) -> dict[str, list[Check]]:
    """Checks per mixture; a sweep folder adds a check that arms share the factual block.

    A mixture on object storage is checked on a local copy (every byte is read for
    its sha256 anyway); the results name its URL.
    """
    where = Location.of(path, storage_options)
    if not where.remote:
        return _verify_folder(Path(path))
    where.check()
    copy = local_copy(where)
    with copy:
        results = _verify_folder(Path(copy.name))
    return {key.replace(copy.name, where.url, 1): checks for key, checks in results.items()}


def _verify_folder(path: Path) -> dict[str, list[Check]]:
    sweep_file = path / SWEEP_FILE
    if not sweep_file.exists():
        return {str(path): verify_mixture(path)}
    sweep = json.loads(sweep_file.read_text())
    results = {}
    digests = {}
    for arm in sweep["arms"]:
        armdir = path / arm["arm"]
        results[str(armdir)] = verify_mixture(armdir)
        if any(armdir.glob("shard-*.parquet")):
            digests[arm["arm"]] = shard_block_digests(_connect(armdir))["factual_other"]
    distinct = sorted({d[:16] for d in digests.values()})
    results[f"{path} (sweep)"] = [
        Check(
            "factual/other block identical across arms",
            distinct,
            f"one digest over {len(sweep['arms'])} arms",
            len(distinct) == 1 and len(digests) == len(sweep["arms"]),
        )
    ]
    return results


def format_checks(results: dict[str, list[Check]]) -> str:
    lines = []
    for where, checks in results.items():
        lines.append(where)
        width = max((len(c.name) for c in checks), default=0)
        for c in checks:
            mark = "ok  " if c.ok else "FAIL"
            lines.append(f"  {mark} {c.name:<{width}}  found {c.found}  expected {c.expected}")
    failed = sum(not c.ok for checks in results.values() for c in checks)
    lines.append("all checks passed" if not failed else f"{failed} check(s) failed")
    return "\n".join(lines)


def as_json(results: dict[str, list[Check]]) -> str:
    return json.dumps(
        {k: [asdict(c) for c in v] for k, v in results.items()}, indent=2, default=str
    )


def passed(results: dict[str, list[Check]]) -> bool:
    return all(c.ok for checks in results.values() for c in checks)
