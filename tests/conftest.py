"""Shared fixtures: the real sample data, broken inputs, one small prepared corpus."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from procmix_cli import main
from support import s3
from support.data import (
    DATA,
    EVALSETS,
    REPORT_SOURCES,
    prepare_quietly,
    read_jsonl_gz,
    write_bad_inputs,
    write_jsonl,
)

# Commands (tldr) and fiction (Gutenberg): what the two content types look like.
SMALL_SOURCES = {"tldr.jsonl.gz": 150, "gutenberg_literature.jsonl.gz": 60}


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not DATA.is_dir():
        pytest.fail(f"sample data not found at {DATA}; set PROCMIX_DATA")
    return DATA


@pytest.fixture(scope="session")
def evalset_index(tmp_path_factory) -> Path:
    """The shipped evaluation sets' index, built once (as `make decont-index` does)."""
    from pipeline.decont.index import build_index

    out = tmp_path_factory.mktemp("index") / "all"
    build_index(sorted(EVALSETS.glob("*.jsonl")), out)
    return out


@pytest.fixture()
def bad_inputs(tmp_path: Path) -> tuple[Path, dict[str, int]]:
    folder = tmp_path / "bad"
    return folder, write_bad_inputs(folder)


@pytest.fixture(scope="session")
def small_inputs(tmp_path_factory, data_dir) -> Path:
    """A folder of two real JSONL slices (``SMALL_SOURCES``)."""
    folder = tmp_path_factory.mktemp("small_inputs")
    for name, n in SMALL_SOURCES.items():
        write_jsonl(folder / name, read_jsonl_gz(name, n))
    return folder


@pytest.fixture(scope="session")
def small_corpus(small_inputs, tmp_path_factory) -> Path:
    """``small_inputs`` prepared and tagged: the corpus folder tests read but never change."""
    out = tmp_path_factory.mktemp("small_corpus") / "corpus"
    prepare_quietly(small_inputs, out, workers=2)
    return out


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A moto S3 server on loopback for the session; this process and every process it
    starts (Dask workers, CLI subprocesses) find it and its credentials in AWS_*."""
    with s3.moto_server() as endpoint, pytest.MonkeyPatch.context() as patch:
        for name, value in s3.environment(endpoint).items():
            patch.setenv(name, value)
        yield endpoint


@pytest.fixture()
def bucket(s3_endpoint) -> s3.Bucket:
    """A new, empty bucket on the session's server."""
    return s3.new_bucket(s3_endpoint)


@pytest.fixture(scope="session")
def report_corpus(data_dir, tmp_path_factory) -> Path:
    """``REPORT_SOURCES`` and the broken inputs, prepared and tagged."""
    root = tmp_path_factory.mktemp("report")
    write_bad_inputs(root / "bad")
    files = [str(data_dir / f) for f in REPORT_SOURCES]
    out = str(root / "corpus")
    assert main(["prepare", *files, str(root / "bad"), "-o", out, "--max-chars", "20000"]) == 0
    return root / "corpus"


@pytest.fixture(scope="session")
def report_sweep(report_corpus) -> Path:
    """A two-arm sweep of ``report_corpus``."""
    spec = report_corpus.parent / "spec.yaml"
    spec.write_text(
        f"name: small\ncorpus: {report_corpus}\ntokens: 1500000\nprocedural_share: 0.5\n"
        "shard: {mb: 2}\n"
    )
    out = report_corpus.parent / "sweep"
    assert main(["sweep", str(spec), "--levels", "2,3", "-o", str(out)]) == 0
    return out
