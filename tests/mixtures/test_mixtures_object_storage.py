"""prepare -> mix -> verify with every path an s3:// URL on a real (moto) S3 server,
against the same run on local paths."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from mixtures.spec import parse_spec
from procmix_cli import main
from support.s3 import SECRET_KEY, file_digests, write_sample_inputs

SPEC = {
    "name": "bucket",
    "tokens": 60_000,
    "procedural_share": 0.6,
    "diversity": {"d1": 2.5},
    "shard": {"rows": 100},
}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    return write_sample_inputs(tmp_path_factory.mktemp("s3inputs") / "in")


def _run(tmp: Path, inputs: str, corpus: str, mixture: str) -> None:
    """prepare, mix, verify, query and stats: the CLI as a user runs it."""
    spec = tmp / "spec.yaml"
    spec.write_text(yaml.safe_dump({**SPEC, "corpus": "unused"}))
    assert main(["prepare", inputs, "-o", corpus, "--max-chars", "20000"]) == 0
    assert main(["mix", str(spec), "--corpus", corpus, "-o", mixture]) == 0
    assert main(["verify", mixture]) == 0
    assert main(["query", corpus, "SELECT count(*) AS n FROM ledger", "--json"]) == 0
    assert main(["stats", corpus]) == 0


@pytest.mark.slow
def test_prepare_mix_verify_on_a_bucket_equal_the_run_on_local_paths(
    inputs, bucket, tmp_path, capsys
):
    _run(tmp_path, str(inputs), str(tmp_path / "corpus"), str(tmp_path / "mix"))
    local_out = capsys.readouterr().out
    _run(
        tmp_path,
        bucket.upload(inputs, "in"),
        bucket.url("corpus"),
        bucket.url("mixtures", "m1"),
    )
    captured = capsys.readouterr()
    assert "all checks passed" in captured.out
    # query and stats print the same rows from the bucket as from the disk.
    rows = [line for line in captured.out.splitlines() if line.startswith('[{"n":')]
    assert rows and rows == [line for line in local_out.splitlines() if line.startswith('[{"n":')]

    corpus = bucket.download("corpus", tmp_path / "from-bucket" / "corpus")
    mixture = bucket.download("mixtures/m1", tmp_path / "from-bucket" / "mix")
    # Byte-identical Parquet: kept documents, ledger, quarantine (copies of unusable
    # files included, read from the bucket), and the shards.
    assert file_digests(corpus) == file_digests(tmp_path / "corpus")
    assert len(file_digests(corpus, ("quarantine",))) > 2
    assert file_digests(mixture, ("",)).keys() == file_digests(tmp_path / "mix", ("",)).keys()
    for shard in sorted((tmp_path / "mix").glob("shard-*.parquet")):
        assert pq.read_table(mixture / shard.name).equals(pq.read_table(shard))
    on_bucket = json.loads((mixture / "manifest.json").read_text())
    on_disk = json.loads((tmp_path / "mix" / "manifest.json").read_text())
    assert on_bucket["shards"] == on_disk["shards"]  # rows, tokens and sha256 per shard
    assert on_bucket["blocks"] == on_disk["blocks"]
    assert on_bucket["corpus"]["xxh3_128"] == on_disk["corpus"]["xxh3_128"]
    assert on_bucket["corpus"]["path"] == bucket.url("corpus")
    # The run's bookkeeping went to the bucket too, intermediates removed, marker last.
    keys = bucket.objects("corpus")
    assert "corpus/summary.json" in keys and not any("/_work/" in k for k in keys)
    assert sum("/_logs/finalize/completions/" in k for k in keys) == len(
        list((tmp_path / "corpus" / "docs").glob("*.parquet"))
    )
    # The credentials came from AWS_* here; none of them is in any object written.
    for key in bucket.objects():
        assert SECRET_KEY.encode() not in bucket.read(key), key
    assert SECRET_KEY not in captured.out + captured.err


def test_a_specs_storage_options_are_not_recorded_with_it():
    spec = parse_spec(
        {
            "name": "s",
            "corpus": "s3://bucket/corpus",
            "tokens": 10,
            "procedural_share": 0.5,
            "storage_options": {"key": "k", "secret": SECRET_KEY},
        }
    )
    assert spec.corpus == "s3://bucket/corpus"  # a URL is kept as written
    assert spec.storage_options["secret"] == SECRET_KEY
    assert "storage_options" not in spec.to_dict() and SECRET_KEY not in repr(spec)
