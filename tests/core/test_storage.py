"""procmix_core.storage: what travels to a worker, what a message may show."""

from __future__ import annotations

import pickle

import pytest

from procmix_core.storage import Location, StorageError, parse_options, redact

SECRET = "s3cr3t-value-that-must-not-leak"
OPTIONS = {"key": "AKIAEXAMPLE", "secret": SECRET, "client_kwargs": {"region_name": "x"}}


def test_a_location_pickles_as_its_url_and_options_never_its_filesystem(tmp_path):
    where = Location.of(tmp_path / "out", OPTIONS)
    assert where.fs is not None  # built and cached in this process
    payload = pickle.dumps(where)
    assert b"LocalFileSystem" not in payload and b"fsspec" not in payload
    back = pickle.loads(payload)
    assert back == where and back.options == OPTIONS
    assert back.fs.exists(str(tmp_path))  # the receiver builds its own


def test_credentials_stay_out_of_reprs_and_messages(monkeypatch):
    where = Location.of("s3://bucket/prefix", OPTIONS)
    assert SECRET not in repr(where) and SECRET not in str(where)
    message = f"cannot reach {where.url}: signature for {SECRET} and AKIAEXAMPLE refused"
    assert redact(message, OPTIONS) == (
        "cannot reach s3://bucket/prefix: signature for *** and *** refused"
    )
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "from-the-environment")
    assert redact("x from-the-environment y") == "x *** y"


def test_storage_options_must_be_a_json_object():
    assert parse_options(None) == {}
    assert parse_options('{"anon": true}') == {"anon": True}
    for bad in ("[1]", "{not json"):
        with pytest.raises(StorageError, match="--storage-options"):
            parse_options(bad)
