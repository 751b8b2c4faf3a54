"""Where procmix reads and writes: a local path or an fsspec URL (``s3://bucket/prefix``).

A ``Location`` is a URL plus storage options held as JSON text, so it pickles
as two strings: Dask workers and pool processes build their own filesystem
from it, lazily and once per process (fsspec's instance cache, which fsspec
clears in a forked child), and never receive a live filesystem or an event
loop. Credentials and the endpoint come from the usual places: the
environment (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
``AWS_ENDPOINT_URL``, ~/.aws, which s3fs reads itself), ``--storage-options
JSON`` or a spec's ``storage_options:``. They are never written into an
output; ``redact`` removes them from any message before it is printed.

Object stores have no rename, so a run never writes an output in place: it
writes complete files in a local scratch folder (``Workspace``) and uploads each
one whole (a PUT makes its object appear complete or not at all), completion
markers after the outputs they vouch for.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from fsspec.core import url_to_fs

from procmix_core.atomic import json_text, write_json

# Option names whose values are secrets (s3fs's and botocore's spellings).
SECRET_OPTIONS = (
    "secret",
    "key",
    "token",
    "password",
    "aws_secret_access_key",
    "aws_session_token",
    "aws_access_key_id",
    "session_token",
)
SECRET_ENV = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID")
REDACTED = "***"


class StorageError(Exception):
    """A location that cannot be used (unreachable, missing bucket, bad options); exit 2."""

    exit_code = 2


def is_url(location: str | os.PathLike) -> bool:
    """Whether ``location`` names object storage (or any non-local fsspec protocol)."""
    text = str(location)
    return "://" in text and not text.startswith("file://")


def parse_options(text: str | None) -> dict:
    """``--storage-options`` JSON as a dict (``{}`` when not given)."""
    if not text:
        return {}
    try:
        options = json.loads(text)
    except json.JSONDecodeError as e:
        raise StorageError(f"--storage-options: not valid JSON ({e.msg} at {e.pos})") from None
    if not isinstance(options, dict):
        raise StorageError(
            f"--storage-options: expected a JSON object, found {type(options).__name__}"
        )
    return options


def _secrets(value: object) -> Iterator[str]:
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, str) and k.lower() in SECRET_OPTIONS:
                yield v
            else:
                yield from _secrets(v)
    elif isinstance(value, list):
        for v in value:
            yield from _secrets(v)


def redact(text: str, options: dict | None = None) -> str:
    """``text`` with every credential in ``options`` and the environment replaced by ***."""
    secrets = list(_secrets(options or {})) + [os.environ.get(name, "") for name in SECRET_ENV]
    for secret in sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


@dataclass(frozen=True)
class Location:
    """A file or folder: ``url`` (a local path or URL) and its storage options as JSON."""

    url: str
    options_json: str = "{}"

    @classmethod
    def of(cls, url: str | os.PathLike, options: dict | None = None) -> Location:
        text = str(url)
        if not is_url(text):
            text = os.path.abspath(text.removeprefix("file://"))
        return cls(text.rstrip("/") or "/", json.dumps(options or {}, sort_keys=True))

    @property
    def options(self) -> dict:
        return json.loads(self.options_json)

    @property
    def remote(self) -> bool:
        return is_url(self.url)

    @property
    def name(self) -> str:
        return self.url.rstrip("/").rsplit("/", 1)[-1]

    def __repr__(self) -> str:
        # Options may hold credentials: a repr only says whether there are any.
        return f"Location({self.url!r}{', with storage options' if self.options else ''})"

    __str__ = __repr__

    def __getstate__(self) -> dict:
        # The cached filesystem never travels: the receiving process builds its own.
        return {"url": self.url, "options_json": self.options_json}

    def __setstate__(self, state: dict) -> None:
        for key, value in state.items():
            object.__setattr__(self, key, value)

    def join(self, *parts: str) -> Location:
        return Location("/".join([self.url.rstrip("/"), *parts]), self.options_json)

    @cached_property
    def _fs_path(self):
        try:
            return url_to_fs(self.url, **self.options)
        except (ImportError, ValueError, TypeError) as e:
            raise StorageError(redact(f"cannot open {self.url}: {e}", self.options)) from None

    @property
    def fs(self):
        """The fsspec filesystem, built in this process on first use."""
        return self._fs_path[0]

    @property
    def path(self) -> str:
        """The path as the filesystem names it (``bucket/prefix`` for s3)."""
        return self._fs_path[1]

    def local_path(self) -> Path:
        if self.remote:
            raise ValueError(f"{self.url} is not a local path")
        return Path(self.url)

    def open(self, mode: str = "rb"):
        if not self.remote:
            return open(self.url, mode)
        return self.fs.open(self.path, mode)

    def exists(self) -> bool:
        return self.fs.exists(self.path)

    def size(self) -> int:
        return int(self.fs.size(self.path))

    def read_text(self) -> str:
        with self.open("rb") as f:
            return f.read().decode()

    def write_json(self, obj: object) -> None:
        """Write a JSON file whole: renamed into place locally, one PUT on object storage."""
        if self.remote:
            self.fs.pipe_file(self.path, json_text(obj).encode())
        else:
            write_json(self.url, obj)

    def files(self) -> list[str]:
        """Every file under this folder, as paths relative to it, sorted ([] when missing)."""
        base = self.path.rstrip("/")
        if not self.fs.isdir(base):
            return []
        return sorted(p[len(base) + 1 :] for p in self.fs.find(base))

    def remove(self) -> None:
        """Delete this folder and everything under it (nothing when missing)."""
        if self.fs.exists(self.path):
            self.fs.rm(self.path, recursive=True)

    def check(self) -> None:
        """Raise ``StorageError`` naming the URL when it cannot be reached or has no bucket."""
        if not self.remote:
            return
        root = self.path.split("/", 1)[0]
        try:
            # s3fs's exists() answers False for an unreachable endpoint too: ask S3 itself.
            if hasattr(self.fs, "call_s3"):
                self.fs.call_s3("head_bucket", Bucket=root)
            elif not self.fs.exists(root):
                raise FileNotFoundError(root)
        except FileNotFoundError:
            raise StorageError(
                f"cannot use {self.url}: bucket {root!r} does not exist "
                "(or these credentials cannot see it)"
            ) from None
        except Exception as e:  # connection, credentials, DNS: whatever the client raises
            raise StorageError(
                redact(f"cannot reach {self.url}: {type(e).__name__}: {e}", self.options)
            ) from None

    def datafolder(self):
        """This folder as a datatrove ``DataFolder`` (what datatrove's executors log to)."""
        from datatrove.io import DataFolder

        return DataFolder(self.path, fs=self.fs)


def location_of(url: str | os.PathLike | Location, options: dict | None = None) -> Location:
    return url if isinstance(url, Location) else Location.of(url, options)


def fetch(remote: Location, names: Iterable[str], local: Path, cache: Path | None = None) -> None:
    """Download ``remote/name`` to ``local/name`` for each name not already there.

    One call for all of them: s3fs runs the transfers concurrently, so a rank
    waits for about one round trip, not one per file. With ``cache`` (a folder
    the processes of one host share for one stage), each file is downloaded
    there once and hard-linked into ``local``: tasks of a stage that read the
    same intermediates (every bucket task reads all signatures) fetch them once.
    """
    missing = [n for n in dict.fromkeys(names) if not (local / n).exists()]
    if cache is not None:
        fetch(remote, missing, cache)
        for name in missing:
            (local / name).parent.mkdir(parents=True, exist_ok=True)
            os.link(cache / name, local / name)
        return
    for name in missing:
        (local / name).parent.mkdir(parents=True, exist_ok=True)
    # Each file lands under a name of this process's, then is renamed: another process
    # filling the same cache never sees, nor links, a partial file.
    parts = [str(local / f"{n}.{os.getpid()}.part") for n in missing]
    if missing:
        remote.fs.get([remote.join(n).path for n in missing], parts)
    for name, part in zip(missing, parts, strict=True):
        os.replace(part, local / name)


def push(local: Path, names: Iterable[str], remote: Location) -> None:
    """Upload ``local/name`` to ``remote/name`` (concurrently), each object appearing whole."""
    names = list(names)
    if names:
        remote.fs.put([str(local / n) for n in names], [remote.join(n).path for n in names])


def local_files(folder: Path) -> list[str]:
    """Every file under ``folder``, relative to it, sorted."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


@dataclass
class Workspace:
    """A local folder standing in for ``remote`` (or ``remote`` itself when it is local).

    Code that reads and writes local paths works in ``local``; ``fetch`` brings
    in the remote files it needs, ``publish`` uploads what it wrote.
    """

    remote: Location
    local: Path

    @property
    def staged(self) -> bool:
        return self.remote.remote

    def fetch(self, names: Iterable[str]) -> None:
        if self.staged:
            fetch(self.remote, names, self.local)

    def fetch_folder(self, folder: str) -> None:
        """Every remote file under ``folder``."""
        if self.staged:
            fetch(
                self.remote, [f"{folder}/{n}" for n in self.remote.join(folder).files()], self.local
            )

    def publish(self, names: Iterable[str]) -> None:
        if self.staged:
            push(self.local, names, self.remote)


@contextmanager
def workspace(remote: Location, prefix: str = "procmix-") -> Iterator[Workspace]:
    """A ``Workspace`` for ``remote``: a fresh scratch folder, removed afterwards, when it is
    remote; ``remote``'s own path when it is local."""
    if not remote.remote:
        yield Workspace(remote, remote.local_path())
        return
    scratch = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield Workspace(remote, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def add_storage_option(parser: argparse.ArgumentParser) -> None:
    """``--storage-options JSON`` on a verb that takes URL paths (one flag, one meaning)."""
    parser.add_argument(
        "--storage-options",
        metavar="JSON",
        default=None,
        help='fsspec options for s3:// (or other URL) paths, e.g. \'{"client_kwargs": '
        '{"endpoint_url": "http://host:9000"}}\'; credentials may instead come from AWS_* '
        "variables. Never written to any output or printed",
    )


def local_copy(remote: Location, names: Iterable[str] = ("",)) -> tempfile.TemporaryDirectory:
    """A temporary local copy of the files and folders ``names`` under ``remote`` ("" is all
    of it). The copy is deleted when the returned object is cleaned up or collected, so an
    object holding it keeps its files for as long as it lives."""
    copy = tempfile.TemporaryDirectory(prefix="procmix-copy-")
    everything = remote.files()
    wanted = [
        f for f in everything if any(n == "" or f == n or f.startswith(n + "/") for n in names)
    ]
    fetch(remote, wanted, Path(copy.name))
    return copy
