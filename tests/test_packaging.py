"""A wheel works as a new user installs it: built from the sources, installed in a fresh
venv (dependencies from the configured index), ``procmix prepare`` tags documents."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from support.data import REPO, read_jsonl_gz, write_jsonl

# What a source tree holds that a build must not see: environments, outputs, caches.
NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv*", "out", "build", "dist", "*.egg-info", "__pycache__", ".*_cache"
)


def _run(command: list[str], cwd: Path) -> None:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    assert result.returncode == 0, f"{' '.join(command)}:\n{result.stdout}\n{result.stderr}"


@pytest.mark.slow
def test_a_wheel_installed_in_a_fresh_venv_prepares_and_tags(tmp_path):
    # A copy of the sources: an in-tree build leaves build/ behind, whose stale
    # modules a later wheel would carry.
    source = tmp_path / "src"
    shutil.copytree(REPO, source, ignore=NOT_SOURCE)
    dist = tmp_path / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), "."], source)
    (wheel,) = dist.glob("procmix-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for packaged in (
        "procmix_cli.py",
        "procmix_core/readers.py",
        "classifiers/models/content_type.ftz",
        "classifiers/models/task_type.confusion.json",
        "classifiers/vectors/minilm_words.npz",
        "classifiers/templates/model_card.md",
    ):
        assert packaged in names

    venv = tmp_path / "venv"
    try:
        _run([sys.executable, "-m", "venv", str(venv)], tmp_path)
        _run([str(venv / "bin" / "pip"), "install", "-q", str(wheel)], tmp_path)
        # Away from the sources, so only the installed wheel can be imported.
        work = tmp_path / "work"
        work.mkdir()
        write_jsonl(work / "tldr.jsonl.gz", read_jsonl_gz("tldr.jsonl.gz", 40))
        prepare = [str(venv / "bin" / "procmix"), "prepare", "tldr.jsonl.gz", "-o", "out"]
        _run([*prepare, "--workers", "1"], work)
        docs = pq.read_table(work / "out" / "docs").to_pylist()
        assert len(docs) == 40
        assert sum(d["content_type"] == "procedural" for d in docs) >= 30
        assert all(d["task_type"] is not None and len(d["task_top3"]) == 3 for d in docs)
    finally:
        # The venv holds every dependency (about 1 GB): not worth keeping.
        shutil.rmtree(venv, ignore_errors=True)
