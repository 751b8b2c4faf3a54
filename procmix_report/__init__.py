"""``procmix report PATH -o report.html``: one self-contained HTML page (inline SVG,
no script, no external reference) for a corpus folder, a mixture or a sweep.

It reads both what ``pipeline`` wrote (the corpus's DuckDB views) and what
``mixtures`` wrote, so it sits beside ``procmix_cli``, above both packages.
The layout and styles are in ``template.html``; this package gathers the numbers
(``corpus_page``, ``mixture_page``) as sections of a figure plus the table of the
numbers behind it, and renders them. The same input gives the same bytes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import jinja2

from mixtures import MANIFEST, SWEEP_FILE
from procmix_core.atomic import atomic_path
from procmix_core.layout import CorpusLayout

TEMPLATE = "template.html"


class ReportError(ValueError):
    """PATH is not a folder the report can read; the message says what it expected."""


@dataclass
class Table:
    id: str
    columns: list[str]
    rows: list[list]
    caption: str = ""


@dataclass
class Section:
    id: str
    title: str
    caption: str
    figures: list[str] = field(default_factory=list)  # inline <svg> markup
    tables: list[Table] = field(default_factory=list)
    text: str | None = None  # preformatted (the spec)


@dataclass
class Page:
    title: str
    subtitle: str
    facts: list[tuple[str, str]]
    sections: list[Section]


def _cell(value: object) -> str:
    """Table cells: integers in full, floats to 6 significant digits, none as a dash."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list | tuple):
        return ", ".join(_cell(v) for v in value)
    return str(value)


def _cell_class(value: object) -> str:
    """Numbers align right; a failed check or verdict is marked."""
    if isinstance(value, bool):
        return "" if value else "no"
    if isinstance(value, int | float):
        return "num"
    return value if value in ("pass", "FAIL") else ""


def render(page: Page) -> str:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["cell"] = _cell
    env.filters["cell_class"] = _cell_class
    return env.get_template(TEMPLATE).render(page=page)


def kind_of(path: Path) -> str:
    """``corpus``, ``sweep`` or ``mixture``; raises ReportError for anything else."""
    if not path.is_dir():
        raise ReportError(f"no such folder: {path}")
    if (path / SWEEP_FILE).exists():
        return "sweep"
    if (path / MANIFEST).exists():
        return "mixture"
    if CorpusLayout(path).stats_db.exists():
        return "corpus"
    raise ReportError(
        f"{path} is neither a corpus folder (stats.duckdb from `procmix prepare`), a mixture "
        f"({MANIFEST}) nor a sweep ({SWEEP_FILE})"
    )


def build(path: str | os.PathLike, sample: int = 1000, seed: int = 0) -> str:
    """The report page of ``path`` as HTML; ``sample`` and ``seed`` set the corpus
    page's within-type diversity (a mixture's comes from its manifest)."""
    path = Path(path)
    kind = kind_of(path)
    if kind == "corpus":
        from procmix_report.corpus_page import corpus_page

        return render(corpus_page(path, sample, seed))
    from procmix_report.mixture_page import mixture_page

    return render(mixture_page(path, kind))


def write(
    path: str | os.PathLike, out: str | os.PathLike, sample: int = 1000, seed: int = 0
) -> int:
    """Write the report of ``path`` to ``out`` atomically; return its size in bytes."""
    html = build(path, sample, seed)
    with atomic_path(out) as tmp:
        tmp.write_text(html, encoding="utf-8")
    return len(html.encode())
