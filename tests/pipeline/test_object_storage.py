"""prepare on a real (moto) S3 server: Dask workers sharing nothing but the bucket, a
worker killed in the middle of finalize, unreachable locations, credentials kept secret."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from pipeline.prepare import PrepareConfig, prepare
from procmix_cli import main
from support.data import prepare_quietly
from support.s3 import ACCESS_KEY, SECRET_KEY, file_digests, free_port, write_sample_inputs

# Given as --storage-options / storage_options only: it must reach the workers, no file.
OPTION_SECRET = "option-secret-9e107d9d372bb6826bd81d3542a419d6"


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    return write_sample_inputs(tmp_path_factory.mktemp("s3inputs") / "in")


@pytest.fixture(scope="module")
def local_reference(inputs, tmp_path_factory) -> Path:
    """The same inputs, local executor, local disk."""
    out = tmp_path_factory.mktemp("s3reference") / "out"
    prepare_quietly(inputs, out, workers=2, max_chars=20_000)
    return out


def _finalize_markers(bucket, prefix: str) -> int:
    return len(bucket.objects(f"{prefix}/_logs/finalize/completions"))


@pytest.mark.slow
def test_dask_on_a_bucket_survives_a_worker_killed_in_finalize(
    inputs, local_reference, bucket, tmp_path
):
    from dask.distributed import Client, LocalCluster

    ranks = len(list((local_reference / "docs").glob("*.parquet")))
    config = PrepareConfig(
        inputs=[bucket.upload(inputs, "in")],
        out=bucket.url("out"),
        workers=2,
        executor="dask",
        max_chars=20_000,
        storage_options={"key": ACCESS_KEY, "secret": OPTION_SECRET},
    )
    outcome: dict[str, object] = {}

    def first_run() -> None:
        try:
            outcome["summary"] = prepare(config, log=lambda message: None)
        except Exception as e:  # a killed worker may fail the run: the rerun must finish it
            outcome["error"] = e

    # Separate worker processes; each stages its ranks in a scratch folder of its own.
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        config.scheduler = cluster.scheduler_address
        victim = next(iter(client.run(os.getpid).values()))
        run = threading.Thread(target=first_run)
        run.start()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and _finalize_markers(bucket, "out") == 0:
            time.sleep(0.02)
        markers_at_kill = _finalize_markers(bucket, "out")
        os.kill(victim, signal.SIGKILL)
        run.join()
        assert 0 < markers_at_kill < ranks, "the worker was not killed during finalize"
        summary = prepare(config, log=lambda message: None)  # the same command again
    assert summary["kept"] == json.loads((local_reference / "summary.json").read_text())["kept"]
    result = bucket.download("out", tmp_path / "out")
    assert file_digests(result) == file_digests(local_reference)
    for key in bucket.objects():
        body = bucket.read(key)
        assert OPTION_SECRET.encode() not in body and SECRET_KEY.encode() not in body, key


def _one_error_line(capsys, url: str, *secrets: str) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert url in lines[0]
    for secret in secrets:
        assert secret not in captured.out + captured.err
    return lines[0]


def test_missing_bucket_and_wrong_endpoint_are_one_line_exit_2(inputs, bucket, capsys):
    missing = "s3://procmix-no-such-bucket/out"
    assert main(["prepare", str(inputs), "-o", missing]) == 2
    assert "does not exist" in _one_error_line(capsys, missing)
    for verb in (["query", missing, "SELECT 1"], ["stats", missing], ["verify", missing]):
        assert main(verb) == 2
        _one_error_line(capsys, missing)

    closed = f"http://127.0.0.1:{free_port()}"
    options = json.dumps(
        {"key": ACCESS_KEY, "secret": OPTION_SECRET, "client_kwargs": {"endpoint_url": closed}}
    )
    out = bucket.url("out")
    assert main(["prepare", str(inputs), "-o", out, "--storage-options", options]) == 2
    line = _one_error_line(capsys, out, OPTION_SECRET, SECRET_KEY)
    assert "cannot reach" in line
    assert main(["query", out, "SELECT 1", "--storage-options", options]) == 2
    _one_error_line(capsys, out, OPTION_SECRET, SECRET_KEY)
    assert main(["prepare", str(inputs), "-o", out, "--storage-options", "[1]"]) == 2
    assert "expected a JSON object" in _one_error_line(capsys, "--storage-options")
    assert bucket.objects() == []
