"""Small inline-SVG charts for the report: stacked horizontal bars, grouped vertical
bars and dots with intervals. Each returns one ``<svg>`` element as a string, with
a ``<title>`` on every mark so hovering shows its number. Coordinates are rounded
to 0.1 px so the same numbers always give the same bytes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

FONT = 11
ROW = 16  # px per bar row
LEFT = 150  # px for row labels
WIDTH = 860
# Colour-blind-safe qualitative palette (Tableau 10 plus two), in order of use.
PALETTE = (
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
    "#1f3b73",
    "#8cd17d",
)


def colours(names: Sequence[str]) -> dict[str, str]:
    return {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(names)}


def _n(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def _fmt(v: float) -> str:
    if v == int(v) and abs(v) >= 1:
        return f"{int(v):,}"
    return f"{v:.4g}"


def _ticks(top: float, count: int = 5) -> list[float]:
    """Round tick values from 0 to at least ``top``."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    step = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * step:
            step *= m
            break
    return [i * step for i in range(int(math.ceil(top / step - 1e-9)) + 1)]


def _text(x: float, y: float, s: str, anchor: str = "start", extra: str = "") -> str:
    return (
        f'<text x="{_n(x)}" y="{_n(y)}" text-anchor="{anchor}" font-size="{FONT}"{extra}>'
        f"{escape(s)}</text>"
    )


def _legend(names: Sequence[str], cols: dict[str, str], y: float) -> tuple[list[str], float]:
    parts, x = [], LEFT
    for name in names:
        width = 18 + 6.5 * len(name)
        if x + width > WIDTH:
            x, y = LEFT, y + ROW
        parts.append(
            f'<rect x="{_n(x)}" y="{_n(y - 9)}" width="10" height="10" fill="{cols[name]}"/>'
        )
        parts.append(_text(x + 14, y, name))
        x += width + 10
    return parts, y + ROW


def _svg(height: float, body: list[str], label: str) -> str:
    return (
        f'<svg viewBox="0 0 {WIDTH} {_n(height)}" width="{WIDTH}" height="{_n(height)}" '
        f'role="img" aria-label="{escape(label)}">' + "".join(body) + "</svg>"
    )


def stacked_bars(
    rows: Sequence[str],
    series: Sequence[str],
    values: dict[tuple[str, str], float],
    label: str,
    unit: str = "",
) -> str:
    """One horizontal bar per row, stacked by series (a legend when more than one)."""
    cols = colours(series)
    body, y = [], 14.0
    if len(series) > 1:
        legend, y = _legend(series, cols, y)
        body += legend
    totals = [sum(values.get((r, s), 0.0) for s in series) for r in rows]
    ticks = _ticks(max(totals, default=0.0))
    scale = (WIDTH - LEFT - 20) / ticks[-1]
    top = y
    for r in rows:
        x = float(LEFT)
        body.append(_text(LEFT - 6, y + ROW - 5, r[:24], "end"))
        for s in series:
            v = values.get((r, s), 0.0)
            if v <= 0:
                continue
            w = v * scale
            body.append(
                f'<rect x="{_n(x)}" y="{_n(y + 2)}" width="{_n(max(w, 0.5))}" height="{ROW - 4}" '
                f'fill="{cols[s]}"><title>{escape(r)} / {escape(s)}: {_fmt(v)}{unit}</title></rect>'
            )
            x += w
        y += ROW
    body += _axis_x(ticks, scale, top, y, unit)
    return _svg(y + 30, body, label)


def _axis_x(ticks: list[float], scale: float, top: float, bottom: float, unit: str) -> list[str]:
    parts = []
    for t in ticks:
        x = LEFT + t * scale
        parts.append(
            f'<line x1="{_n(x)}" y1="{_n(top)}" x2="{_n(x)}" y2="{_n(bottom)}" stroke="#ddd"/>'
        )
        parts.append(_text(x, bottom + 14, _fmt(t) + unit, "middle"))
    return parts


def grouped_bars(
    groups: Sequence[str],
    series: Sequence[str],
    values: dict[tuple[str, str], float],
    label: str,
    log_y: bool = False,
    height: float = 220,
) -> str:
    """Vertical bars, one group per entry of ``groups``, one bar per series inside it;
    ``log_y`` draws counts on a log10 axis (zero bars are left out)."""
    cols = colours(series)
    body, y = [], 14.0
    if len(series) > 1:
        legend, y = _legend(series, cols, y)
        body += legend
    bottom = y + 6 + height
    left = 60.0
    peak = max(values.values(), default=0.0)
    if log_y:
        exp_top = max(1, math.ceil(math.log10(max(peak, 1.0)) + 1e-9))
        ticks = [10.0**e for e in range(exp_top + 1)]

        def ypos(v: float) -> float:
            return bottom - (math.log10(max(v, 1.0)) / exp_top) * height
    else:
        ticks = _ticks(peak)

        def ypos(v: float) -> float:
            return bottom - v / ticks[-1] * height

    for t in ticks:
        body.append(
            f'<line x1="{_n(left)}" y1="{_n(ypos(t))}" x2="{WIDTH - 10}" y2="{_n(ypos(t))}" '
            'stroke="#ddd"/>'
        )
        body.append(_text(left - 4, ypos(t) + 4, _fmt(t), "end"))
    slot = (WIDTH - 10 - left) / max(len(groups), 1)
    # Bars no wider than 28 px, centred in their group's slot.
    bar = min(28.0, max(1.0, (slot - 4) / max(len(series), 1)))
    for i, g in enumerate(groups):
        x0 = left + i * slot + (slot - bar * len(series)) / 2
        for j, s in enumerate(series):
            v = values.get((g, s), 0.0)
            if v <= 0:
                continue
            yv = ypos(v)
            body.append(
                f'<rect x="{_n(x0 + j * bar)}" y="{_n(yv)}" width="{_n(max(bar - 0.5, 0.5))}" '
                f'height="{_n(bottom - yv)}" fill="{cols[s]}"><title>{escape(g)} / {escape(s)}: '
                f"{_fmt(v)}</title></rect>"
            )
        if len(groups) <= 24 or i % math.ceil(len(groups) / 24) == 0:
            body.append(_text(left + (i + 0.5) * slot, bottom + 14, g, "middle"))
    return _svg(bottom + 24, body, label)


def interval_dots(
    rows: Sequence[str],
    series: Sequence[str],
    points: dict[tuple[str, str], tuple[float, float, float]],
    label: str,
) -> str:
    """Per row, one dot per series with a line over its interval (value, low, high)."""
    cols = colours(series)
    body, y = [], 14.0
    if len(series) > 1:
        legend, y = _legend(series, cols, y)
        body += legend
    ticks = _ticks(max((p[2] for p in points.values()), default=1.0))
    scale = (WIDTH - LEFT - 20) / ticks[-1]
    lane = max(ROW, 6 * len(series) + 6)
    top = y
    for r in rows:
        body.append(_text(LEFT - 6, y + lane / 2 + 4, r[:24], "end"))
        for j, s in enumerate(series):
            if (r, s) not in points:
                continue
            v, lo, hi = points[(r, s)]
            cy = y + 5 + j * 6 if len(series) > 1 else y + lane / 2
            body.append(
                f'<line x1="{_n(LEFT + lo * scale)}" y1="{_n(cy)}" x2="{_n(LEFT + hi * scale)}" '
                f'y2="{_n(cy)}" stroke="{cols[s]}" stroke-width="2"/>'
            )
            body.append(
                f'<circle cx="{_n(LEFT + v * scale)}" cy="{_n(cy)}" r="3.5" fill="{cols[s]}">'
                f"<title>{escape(r)} / {escape(s)}: {_fmt(v)} ({_fmt(lo)}-{_fmt(hi)})</title>"
                "</circle>"
            )
        y += lane
    body += _axis_x(ticks, scale, top, y, "")
    return _svg(y + 30, body, label)
