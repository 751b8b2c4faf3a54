"""The layering of DESIGN.md, asserted: which procmix package may import which.

procmix_core imports none of the others; classifiers imports procmix_core only;
pipeline imports classifiers and procmix_core; mixtures imports procmix_core and
classifiers.taxonomy at most; only the top-level modules see all: the CLI
(procmix_cli) and the report (procmix_report), which reads what both pipeline and
mixtures wrote.
Checked twice: statically, every import statement of every module (also the
ones inside functions), and at run time, what importing every module of a
package in a fresh interpreter leaves in ``sys.modules``.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("procmix_core", "classifiers", "pipeline", "mixtures", "procmix_report")
# Per package: the procmix modules it may import, as exact names or "pkg.*" prefixes.
ALLOWED = {
    "procmix_core": {"procmix_core.*"},
    "classifiers": {"classifiers.*", "procmix_core.*"},
    "pipeline": {"pipeline.*", "classifiers.*", "procmix_core.*"},
    "mixtures": {"mixtures.*", "procmix_core.*", "classifiers", "classifiers.taxonomy"},
    "procmix_report": {
        "procmix_report.*",
        "mixtures.*",
        "pipeline.*",
        "classifiers.*",
        "procmix_core.*",
    },
}


def _allowed(package: str, module: str) -> bool:
    for rule in ALLOWED[package]:
        if rule.endswith(".*"):
            root = rule[:-2]
            if module == root or module.startswith(root + "."):
                return True
        elif module == rule:
            return True
    return False


def _imported(path: Path) -> set[str]:
    """Every procmix module an import statement in ``path`` names."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from classifiers import taxonomy` imports classifiers.taxonomy.
            subpackage = REPO / node.module.replace(".", "/")
            if subpackage.is_dir():
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
            else:
                names.add(node.module)
    return {n for n in names if n.split(".")[0] in (*PACKAGES, "procmix_cli")}


@pytest.mark.parametrize("package", PACKAGES)
def test_every_import_statement_follows_the_layering(package):
    files = sorted((REPO / package).rglob("*.py"))
    assert files
    wrong = {
        f"{path.relative_to(REPO)}: {name}"
        for path in files
        for name in _imported(path)
        if not _allowed(package, name)
    }
    assert not wrong, f"{package} imports what the layering forbids: {sorted(wrong)}"


_LOAD_ALL = """
import importlib, json, pkgutil, sys
package = importlib.import_module(sys.argv[1])
for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
    importlib.import_module(info.name)
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in sys.argv[2:])))
"""


@pytest.mark.parametrize("package", PACKAGES)
def test_importing_a_package_loads_only_what_the_layering_allows(package):
    result = subprocess.run(
        [sys.executable, "-c", _LOAD_ALL, package, *PACKAGES, "procmix_cli"],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
    )
    loaded = json.loads(result.stdout)
    assert f"{package}" in loaded
    wrong = [m for m in loaded if not _allowed(package, m)]
    assert not wrong, f"importing all of {package} loaded {wrong}"


def test_the_cli_sits_above_all_three_packages():
    names = _imported(REPO / "procmix_cli.py")
    assert {"pipeline.cli", "classifiers.cli", "mixtures.cli", "procmix_report.cli"} <= names
    # And no package imports it back.
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            assert "procmix_cli" not in {n.split(".")[0] for n in _imported(path)}, path
