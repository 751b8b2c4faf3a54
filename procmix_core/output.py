"""Claiming an output folder: the one rule ``prepare``, ``mix`` and ``sweep`` follow.

A command writes into a folder that is new, empty, or already its own (then
``--overwrite`` clears it first); it never deletes a folder holding anything
else.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path


class FolderInUse(Exception):
    """``out`` cannot be claimed as asked; ``kind`` says why, for the caller's message.

    - ``file``: ``out`` is a file, not a folder;
    - ``occupied``: ``out`` holds files and ``--overwrite`` was not given
      (``owned`` tells whether they are the command's own);
    - ``foreign``: ``--overwrite`` was given, but ``out`` holds files that are not
      the command's own.
    """

    def __init__(self, out: Path, kind: str, owned: bool):
        super().__init__(f"{out}: {kind}")
        self.out = out
        self.kind = kind
        self.owned = owned


def claim_output_folder(out: Path, overwrite: bool, owned: Callable[[Path], bool]) -> None:
    """Make ``out`` an empty folder, or raise ``FolderInUse``.

    ``owned(out)`` tells whether a non-empty ``out`` holds only what the command
    itself writes; only such a folder is cleared, and only with ``overwrite``.
    """
    if out.exists() and not out.is_dir():
        raise FolderInUse(out, "file", owned=False)
    if out.exists() and any(out.iterdir()):
        ours = owned(out)
        if not overwrite:
            raise FolderInUse(out, "occupied", owned=ours)
        if not ours:
            raise FolderInUse(out, "foreign", owned=False)
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
