"""``make bench``: ``procmix prepare`` on the demo data, local disk against a bucket.

The bucket is moto's S3 server on loopback, in a process of its own (as a real
endpoint would be), on the same cores as procmix. Both runs are the command a
user types (``procmix prepare DATA -o OUT --workers N``), as subprocesses; the
bucket run reads its inputs from the bucket and writes there. The report says
where the extra time goes: per stage, and the CPU seconds the S3 server itself
spent (time it took from the workers on a shared machine). It also checks that
both runs wrote the same bytes.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import boto3
import psutil

PROCMIX = Path(sys.executable).with_name("procmix")
MOTO = Path(sys.executable).with_name("moto_server")
BUCKET = "procmix-bench"
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_moto(port: int) -> subprocess.Popen:
    server = subprocess.Popen(
        [str(MOTO), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/", timeout=1)
            return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise RuntimeError("moto_server did not start")


def _cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def _prepare(inputs: str, out: str, workers: int, env: dict) -> dict:
    # --keep-work: the intermediates stay, so the report can say how many bytes each kind
    # is (what the ranks fetched); the published files are the same with or without it.
    command = [
        str(PROCMIX), "prepare", inputs, "-o", out, "--workers", str(workers), "--keep-work"
    ]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr}")
    return {"command": command, "wall_s": round(wall, 3)}


def _digest(files: dict[str, bytes]) -> str:
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return digest.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--out", default="bench/results/storage.json")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    data = Path(args.data).resolve()
    inputs = sorted(data.glob("*.jsonl.gz"))
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    env = {**os.environ, **CREDENTIALS, "AWS_ENDPOINT_URL": endpoint}
    server = _start_moto(port)
    try:
        s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region_name="us-east-1",
        )
        s3.create_bucket(Bucket=BUCKET)
        started = time.perf_counter()
        for path in inputs:
            s3.upload_file(str(path), BUCKET, f"in/{path.name}")
        upload_s = time.perf_counter() - started
        moto = psutil.Process(server.pid)
        with tempfile.TemporaryDirectory(prefix="procmix-storage-bench-") as scratch:
            local_out = Path(scratch) / "local"
            local = _prepare(str(data), str(local_out), args.workers, env)
            moto_before = _cpu_seconds(moto)
            bucket = _prepare(f"s3://{BUCKET}/in", f"s3://{BUCKET}/out", args.workers, env)
            bucket["s3_server_cpu_s"] = round(_cpu_seconds(moto) - moto_before, 3)
            runs = {"local": local, "bucket": bucket}
            runs["local"]["summary"] = json.loads((local_out / "summary.json").read_text())
            runs["bucket"]["summary"] = json.loads(
                s3.get_object(Bucket=BUCKET, Key="out/summary.json")["Body"].read()
            )
            published = ("docs/", "ledger/", "quarantine/")
            local_files = {
                str(p.relative_to(local_out)): p.read_bytes()
                for part in published
                for p in (local_out / part).rglob("*")
                if p.is_file()
            }
            pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix="out/")
            sizes = {o["Key"]: o["Size"] for page in pages for o in page.get("Contents", [])}
            keys = sorted(sizes)
            work_mb: dict[str, float] = {}
            for key, size in sizes.items():
                if key.startswith("out/_work/"):
                    kind = key.split("/")[2].removesuffix(".npy").removesuffix(".parquet")
                    work_mb[kind] = work_mb.get(kind, 0.0) + size / 1e6
            bucket_files = {
                key.removeprefix("out/"): s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
                for key in keys
                if key.removeprefix("out/").startswith(published)
            }
    finally:
        server.kill()
        server.wait()
    stages = {
        stage: {
            "local_s": runs["local"]["summary"]["stages"][stage],
            "bucket_s": runs["bucket"]["summary"]["stages"][stage],
        }
        for stage in runs["local"]["summary"]["stages"]
    }
    input_mb = runs["local"]["summary"]["input_mb"]
    report = {
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "date": datetime.date.today().isoformat(),
        "settings": {"data": args.data, "files": len(inputs), "workers": args.workers},
        "s3_server": "moto_server on 127.0.0.1, its own process, same cores",
        "upload_inputs_s": round(upload_s, 3),
        "input_mb": input_mb,
        "local": {
            "wall_s": runs["local"]["wall_s"],
            "mb_s": round(input_mb / runs["local"]["wall_s"], 3),
        },
        "bucket": {
            "wall_s": runs["bucket"]["wall_s"],
            "mb_s": round(input_mb / runs["bucket"]["wall_s"], 3),
            "s3_server_cpu_s": runs["bucket"]["s3_server_cpu_s"],
        },
        "bucket_over_local_x": round(runs["bucket"]["wall_s"] / runs["local"]["wall_s"], 3),
        "stages": stages,
        "intermediates_mb": {k: round(v, 3) for k, v in sorted(work_mb.items())},
        "objects_written": len(keys),
        "identical_outputs": _digest(local_files) == _digest(bucket_files),
        "published_files": len(local_files),
    }
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(f"prepare of {input_mb:.1f} MB ({len(inputs)} files, {args.workers} workers)")
    print(f"  local disk  {report['local']['wall_s']:7.1f} s  {report['local']['mb_s']:6.2f} MB/s")
    print(
        f"  bucket      {report['bucket']['wall_s']:7.1f} s  {report['bucket']['mb_s']:6.2f} MB/s"
        f"  (S3 server CPU {report['bucket']['s3_server_cpu_s']:.1f} s)"
    )
    for stage, times in stages.items():
        print(f"  {stage:<9} local {times['local_s']:6.1f} s  bucket {times['bucket_s']:6.1f} s")
    print(f"  intermediates (MB): {report['intermediates_mb']}")
    print(f"  identical outputs: {report['identical_outputs']}")


if __name__ == "__main__":
    main()
