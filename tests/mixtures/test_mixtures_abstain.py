"""labels.min_confidence on a tagged corpus of real sources: what is set aside, and what
the mixture, manifest, explain and verify make of it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from mixtures import abstain
from mixtures.corpus import CorpusError, load_corpus
from mixtures.explain import explain
from mixtures.mix import mix, sweep
from mixtures.spec import DEFAULT_LABELS, SpecError, parse_spec
from mixtures.verify import passed, verify
from pipeline.schema import TAG_SCHEMA
from support.data import prepare_quietly
from support.synthetic import LABELS, synthetic_spec

P = 0.7
# The rule of docs/mixtures.md, written once more in SQL: the probability of the content
# type given and, for procedural documents, of the task type, compared as DOUBLE.
CONFIDENT = f"""
    coalesce(CASE content_type WHEN 'procedural' THEN p_procedural WHEN 'factual' THEN p_factual
                               WHEN 'other' THEN p_other END::DOUBLE >= {P}, false)
    AND (content_type <> 'procedural' OR coalesce(task_p::DOUBLE >= {P}, false))
"""


def _spec(corpus: Path, **change) -> dict:
    """Natural task shares at a budget the confident part of ``report_corpus`` can meet."""
    raw = {"tokens": 600_000, "procedural_share": 0.6, "shard": {"mb": 1}}
    return synthetic_spec(corpus, **{**raw, "labels": {"min_confidence": P}, **change})


def _docs(corpus: Path) -> str:
    return f"read_parquet('{corpus}/docs/*.parquet')"


def _query(sql: str) -> list[tuple]:
    return duckdb.connect().execute(sql).fetchall()


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def abstained(report_corpus, tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("abstain") / "m"
    return out, mix(parse_spec(_spec(report_corpus)), out)


def test_every_selected_document_is_confident(abstained, report_corpus):
    out, _ = abstained
    (rows,) = _query(
        f"SELECT count(*), count(doc_key), sum(CASE WHEN {CONFIDENT} THEN 0 ELSE 1 END) "
        f"FROM (SELECT d.* FROM read_parquet('{out}/shard-*.parquet') s "
        f"LEFT JOIN {_docs(report_corpus)} d USING (doc_key))"
    )
    assert rows[0] > 1000 and rows[1] == rows[0]  # every shard row found among the docs
    assert rows[2] == 0


def test_manifest_counts_what_was_set_aside(abstained, report_corpus):
    out, manifest = abstained
    counts = _query(
        f"SELECT content_type, count(*), sum(n_tokens) FROM {_docs(report_corpus)} "
        f"WHERE NOT ({CONFIDENT}) GROUP BY ALL"
    )
    entry = manifest["corpus"]["abstained"]
    expected = {c: {"documents": d, "tokens": int(t)} for c, d, t in counts}
    assert {c: e for c, e in entry["by_content_type"].items() if e["documents"]} == expected
    assert entry["documents"] == sum(d for _, d, _ in counts) > 100
    assert entry["tokens"] == sum(int(t) for _, _, t in counts)
    assert entry["min_confidence"] == P and entry["null_probability_documents"] == 0
    ((total,),) = _query(f"SELECT count(*) FROM {_docs(report_corpus)}")
    assert manifest["corpus"]["documents"] + entry["documents"] == total
    assert manifest["spec"]["labels"] == {**DEFAULT_LABELS, "min_confidence": P}
    written = json.loads((out / "manifest.json").read_text())
    assert written["corpus"]["abstained"] == entry


def test_verify_passes_and_a_rerun_is_byte_identical(abstained, report_corpus, tmp_path):
    out, _ = abstained
    assert passed(verify(out))
    mix(parse_spec(_spec(report_corpus)), tmp_path / "again")
    assert _files(tmp_path / "again") == _files(out)


def test_a_threshold_that_sets_nothing_aside_changes_only_the_record(report_corpus, tmp_path):
    """Without the key the mixture is what it was before the key existed: a threshold
    below every document's confidence takes the same pool, so the same shards, and its
    manifest differs only by the threshold and the (empty) record."""
    low = min(
        pc.min(pq.read_table(report_corpus / "docs", columns=[c])[c]).as_py()
        for c in ("task_p", "p_procedural", "p_factual", "p_other")
    )
    without = mix(parse_spec(_spec(report_corpus, labels={})), tmp_path / "without")
    assert "abstained" not in without["corpus"] and without["spec"]["labels"] == DEFAULT_LABELS
    floor = mix(
        parse_spec(_spec(report_corpus, labels={"min_confidence": low / 2})), tmp_path / "floor"
    )
    assert floor["corpus"].pop("abstained")["documents"] == 0
    assert floor["spec"]["labels"].pop("min_confidence") == low / 2
    shards = sorted(p.name for p in (tmp_path / "without").glob("shard-*"))
    assert shards and all(
        (tmp_path / "without" / n).read_bytes() == (tmp_path / "floor" / n).read_bytes()
        for n in shards
    )
    assert {k: v for k, v in floor.items() if k != "_timing"} == {
        k: v for k, v in without.items() if k != "_timing"
    }


def test_explain_and_infeasible_specs(report_corpus):
    text, feasible = explain(parse_spec(_spec(report_corpus)))
    assert feasible and f"abstention: labels.min_confidence {P:g} set aside" in text
    # The confident pool is smaller than the whole corpus: a budget only the whole meets.
    ((whole,),) = _query(f"SELECT sum(n_tokens) FROM {_docs(report_corpus)}")
    text, feasible = explain(parse_spec(_spec(report_corpus, tokens=int(whole * 0.9))))
    assert not feasible and "infeasible:" in text


def test_sweep_arms_draw_from_the_same_pool(report_corpus, tmp_path):
    # D1 3 at this budget leaves task reasoning at about 10 mean documents of the
    # confident pool, where a whole-document prefix can miss its share (the
    # self-check refuses, naming the granularity cause): 2.5 is in reach.
    record = sweep(parse_spec(_spec(report_corpus)), [2.0, 2.5], tmp_path / "s")
    entries = [
        json.loads((tmp_path / "s" / arm / "manifest.json").read_text())["corpus"]
        for arm in ("d2", "d2_5")
    ]
    assert entries[0] == entries[1] and entries[0]["abstained"] == record["abstained"]
    assert record["abstained"]["documents"] > 0
    assert passed(verify(tmp_path / "s"))


@pytest.mark.parametrize("value", [0, 1, 1.5, -0.1, "high", True])
def test_min_confidence_outside_the_open_interval_is_an_error(value):
    with pytest.raises(SpecError) as e:
        parse_spec(_spec(Path("c"), labels={"min_confidence": value}))
    assert str(e.value) == f"labels.min_confidence: expected a number in (0, 1), found {value!r}"


def test_min_confidence_with_a_corpus_own_labels_is_an_error():
    with pytest.raises(SpecError) as e:
        parse_spec(_spec(Path("c"), labels={**LABELS, "min_confidence": P}))
    assert str(e.value) == (
        "labels.min_confidence: expected labels on the classifier's columns content_type and "
        "task_type, whose probabilities p_procedural/p_factual/p_other/task_p it compares, "
        "found 'columns label_procedural, input_task_type'"
    )


def test_min_confidence_on_an_untagged_corpus_is_an_error(small_inputs, tmp_path):
    prepare_quietly(small_inputs, tmp_path / "c", tag=False)
    with pytest.raises(CorpusError) as e:
        load_corpus(tmp_path / "c", DEFAULT_LABELS, min_confidence=P)
    message = str(e.value)
    assert message.startswith(
        "labels.min_confidence: expected the classifier's columns "
        "p_procedural/p_factual/p_other/task_p in "
    )
    assert "(prepare writes them unless --no-tag), found columns ['doc_key', 'id'," in message


def test_a_null_probability_is_set_aside_and_counted(small_corpus, tmp_path):
    corpus = tmp_path / "c"
    shutil.copytree(small_corpus, corpus)
    files = sorted((corpus / "docs").glob("*.parquet"))
    table = pq.read_table(files)
    for path in files:
        path.unlink()
    # Null the task probability of the first procedural document and the content
    # probability of the first factual or other one.
    kinds = table["content_type"].to_pylist()
    procedural = kinds.index("procedural")
    rest = next(i for i, k in enumerate(kinds) if k != "procedural")
    for column, row in (("task_p", procedural), (f"p_{kinds[rest]}", rest)):
        values = table[column].to_pylist()
        values[row] = None
        table = table.set_column(
            table.schema.get_field_index(column), column, pa.array(values, table[column].type)
        )
    pq.write_table(table, files[0])
    loaded = load_corpus(corpus, DEFAULT_LABELS, min_confidence=0.01)
    assert loaded.abstained["null_probability_documents"] == 2
    assert loaded.abstained["documents"] == 2
    assert loaded.abstained["by_content_type"]["procedural"]["documents"] == 1
    keys = set(loaded.docs["doc_key"].to_pylist())
    assert table["doc_key"][procedural].as_py() not in keys
    assert table["doc_key"][rest].as_py() not in keys


def test_probability_columns_are_the_tag_schema_names():
    assert set(abstain.PROBABILITY_COLUMNS) <= set(TAG_SCHEMA.names)
    assert abstain.CONTENT_P.keys() == {"procedural", "factual", "other"}
