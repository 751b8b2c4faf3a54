"""The code blocks of the README and the guides, and ``make docs-check``, which runs them.

A fenced block tagged ``sh`` or ``python`` is an example to run as written,
from the repository folder with the venv's ``procmix`` on the path; a block
tagged ``text`` (a synopsis, a file listing, or code needing what procmix does
not install) is read, and its ``procmix`` lines are checked against the
parser by ``tests/test_docs.py``; ``output`` is what a command printed, and
``yaml`` a spec, which that test parses.

    PYTHONPATH=tests .venv/bin/python -m support.docs README.md docs/*.md
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RUN = ("sh", "python")
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


@dataclass
class Block:
    path: Path
    line: int
    language: str
    code: str

    def __str__(self) -> str:
        return f"{self.path.relative_to(REPO)}:{self.line} ({self.language})"


def blocks(path: Path) -> list[Block]:
    """Every fenced code block of a Markdown file, in order."""
    text = path.read_text()
    return [
        Block(path, text.count("\n", 0, m.start()) + 1, m.group(1), m.group(2))
        for m in _FENCE.finditer(text)
    ]


def commands(block: Block) -> list[str]:
    """The commands of a shell or synopsis block: one per line, continuations joined,
    comments dropped."""
    joined = re.sub(r"\n\s+(?=\[)", " ", block.code)  # a synopsis wrapped with indents
    lines = [line.split(" #")[0].strip() for line in joined.replace("\\\n", " ").splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def run(block: Block) -> subprocess.CompletedProcess:
    """Run one example block as a user would, from the repository folder."""
    # As a user's shell has it: the venv first, and no PYTHONPATH (this script's own
    # puts tests/ first, whose pipeline/ folder would shadow the package).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PATH"] = f"{REPO / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}"
    if block.language == "sh":
        command = ["bash", "-euo", "pipefail", "-c", block.code]
    else:
        command = [str(REPO / ".venv" / "bin" / "python"), "-c", block.code]
    return subprocess.run(command, cwd=REPO, env=env)


def main(paths: list[str]) -> int:
    failed = []
    for path in paths:
        for block in blocks(Path(path).resolve()):
            if block.language not in RUN:
                continue
            print(f"== {block}", flush=True)
            if run(block).returncode != 0:
                failed.append(block)
    for block in failed:
        print(f"FAILED {block}", file=sys.stderr)
    print(f"docs-check: {'all examples ran' if not failed else f'{len(failed)} failed'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
