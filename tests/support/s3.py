"""A real S3 server on loopback for the object-storage tests: moto's server mode.

Nothing in the process is patched: procmix, pyarrow, DuckDB and Dask worker
processes all reach the server over HTTP, as they would reach a real bucket.
"""

from __future__ import annotations

import logging
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import boto3

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
        for key in self.keys(prefix):
            target = folder / key[len(prefix) + 1 :]
            target.parent.mkdir(parents=True, exist_ok=True)
            client.download_file(self.name, key, str(target))
        return folder

    def keys(self, prefix: str = "") -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.name, Prefix=prefix.rstrip("/") + "/" if prefix else ""
        )
        return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


def new_bucket(endpoint: str) -> Bucket:
    bucket = Bucket(endpoint, f"procmix-{uuid.uuid4().hex[:12]}")
    bucket.client.create_bucket(Bucket=bucket.name)
    return bucket
