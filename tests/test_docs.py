"""The README is a short guide, and the commands the docs show are ones procmix has.

``make docs-check`` runs every ``sh`` and ``python`` block; these tests keep
every block, run or not, in step with the CLI, the Makefile and the spec
parser, so a renamed verb or option fails here first.
"""

from __future__ import annotations

import re
import shlex

import pytest
import yaml

from mixtures.spec import parse_spec
from procmix_cli import build_parser
from support.docs import REPO, blocks, commands

DOCS = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
# sh, python: run by make docs-check; text: read, its procmix lines checked; output: what
# a command printed; yaml: a spec, parsed.
TAGGED = ("sh", "python", "text", "output", "yaml")


def _verbs() -> dict:
    parser = build_parser()
    (subparsers,) = [a for a in parser._actions if a.choices and a.dest == "verb"]
    return subparsers.choices


def _make_targets() -> set[str]:
    makefile = (REPO / "Makefile").read_text()
    return set(re.findall(r"^([a-z][a-z-]*):", makefile, re.MULTILINE))


def test_the_readme_is_a_short_guide():
    readme = (REPO / "README.md").read_text()
    assert len(readme.splitlines()) < 200
    for heading in ("## Set up", "## Make targets", "## A five-minute tour", "## Read more"):
        assert heading in readme
    # Every guide it sends a reader to exists.
    for path in re.findall(r"`((?:docs|classifiers/models|bench)/[\w/.-]+\.md)`", readme):
        assert (REPO / path).is_file(), path


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_code_block_says_whether_it_runs(doc):
    untagged = [str(b) for b in blocks(doc) if b.language not in TAGGED]
    assert not untagged, f"tag these blocks sh/python (run) or text/output/yaml (read): {untagged}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_procmix_commands_in_the_docs_are_ones_the_cli_has(doc):
    verbs = _verbs()
    for block in blocks(doc):
        if block.language not in ("sh", "text"):
            continue
        for command in commands(block):
            if not command.startswith("procmix "):
                continue
            words = shlex.split(command)
            assert words[1] in verbs, f"{block}: no verb {words[1]!r}"
            parser = verbs[words[1]]
            if block.language == "sh":
                # Run by make docs-check: it must parse exactly as written.
                parser.parse_args(words[2:])
            # A verb with verbs of its own (`decont index`): the options are the inner verb's.
            inner = [a for a in parser._actions if a.choices and a.dest.endswith("_verb")]
            if inner and len(words) > 2:
                assert words[2] in inner[0].choices, f"{block}: no verb {words[1]} {words[2]!r}"
                parser = inner[0].choices[words[2]]
            options = {o for a in parser._actions for o in a.option_strings}
            named = set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", command))
            assert named <= options, f"{block}: {sorted(named - options)} not options of {words[1]}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_make_targets_in_the_docs_exist(doc):
    targets = _make_targets()
    text = doc.read_text()
    named = set(re.findall(r"`make ([a-z][a-z-]*)", text))
    for block in blocks(doc):
        if block.language in ("sh", "text"):
            named |= {c.split()[1] for c in commands(block) if c.startswith("make ")}
    assert named and named <= targets or not named, sorted(named - targets)


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_specs_in_the_docs_are_valid(doc):
    for block in blocks(doc):
        if block.language == "yaml":
            parse_spec(yaml.safe_load(block.code), base=REPO / "mixtures" / "examples")
