"""A real S3 server on loopback for the object-storage tests: moto's server mode.

Nothing in the process is patched: procmix, pyarrow, DuckDB and Dask worker
processes all reach the server over HTTP, as they would reach a real bucket.
"""

from __future__ import annotations

import hashlib
import logging
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import boto3

from support.data import read_jsonl_gz, write_bad_inputs, write_jsonl

# Test credentials: the secret is distinctive so that a leak is easy to grep for.
ACCESS_KEY = "procmix-test-key"
SECRET_KEY = "procmix-test-secret-5d41402abc4b2a76"
REGION = "us-east-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def moto_server() -> Iterator[str]:
    """Start ``ThreadedMotoServer`` on 127.0.0.1 at a free port; yield its endpoint URL."""
    from moto.server import ThreadedMotoServer

    # Werkzeug logs every request at INFO on stderr; a test's output must stay readable.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def environment(endpoint: str) -> dict[str, str]:
    """The variables a procmix process (and its workers) find the server and credentials by."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_DEFAULT_REGION": REGION,
        # Fail fast on a wrong endpoint instead of botocore's retries with back-off.
        "AWS_MAX_ATTEMPTS": "1",
    }


@dataclass
class Bucket:
    """A fresh bucket on the server: ``url("in")`` is ``s3://<bucket>/in``."""

    endpoint: str
    name: str

    def url(self, *parts: str) -> str:
        return "/".join([f"s3://{self.name}", *parts])

    @property
    def client(self):
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name=REGION,
        )

    def upload(self, folder: Path, prefix: str) -> str:
        """Every file under ``folder`` to ``prefix/<relative path>``; return the prefix's URL."""
        client = self.client
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            client.upload_file(str(path), self.name, f"{prefix}/{path.relative_to(folder)}")
        return self.url(prefix)

    def download(self, prefix: str, folder: Path) -> Path:
        """Every object under ``prefix/`` to ``folder``, keeping relative keys; return folder."""
        client = self.client
        for key in self.objects(prefix):
            target = folder / key[len(prefix) + 1 :]
            target.parent.mkdir(parents=True, exist_ok=True)
            client.download_file(self.name, key, str(target))
        return folder

    def read(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.name, Key=key)["Body"].read()

    def objects(self, prefix: str = "") -> list[str]:
        """The keys under ``prefix/`` (every key when empty), sorted."""
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.name, Prefix=prefix.rstrip("/") + "/" if prefix else ""
        )
        return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


def new_bucket(endpoint: str) -> Bucket:
    bucket = Bucket(endpoint, f"procmix-{uuid.uuid4().hex[:12]}")
    bucket.client.create_bucket(Bucket=bucket.name)
    return bucket


# Slices of four shared sources (commands, maths, encyclopaedia, recipes): enough short
# documents for a mixture to meet verify's tolerances, small enough for moto.
SAMPLE_SLICES = {
    "tldr.jsonl.gz": 300,
    "gsm8k.jsonl.gz": 300,
    "wikipedia.jsonl.gz": 120,
    "beeton_household.jsonl.gz": 150,
}


def write_sample_inputs(folder: Path) -> Path:
    """``SAMPLE_SLICES`` plus every kind of bad input (``bad/``) under ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, n in SAMPLE_SLICES.items():
        write_jsonl(folder / name, read_jsonl_gz(name, n))
    write_bad_inputs(folder / "bad")
    return folder


def file_digests(folder: Path, parts: tuple[str, ...] = ("docs", "ledger", "quarantine")) -> dict:
    """sha256 of every file under ``folder/part``, by relative path."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for part in parts
        for p in sorted((folder / part).rglob("*"))
        if p.is_file()
    }
