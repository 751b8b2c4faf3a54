"""The report pages in a real browser: headless Chromium (Debian's ``chromium``)
loads each page, logs no console message and paints a screenshot that is not blank.

``make report-check`` installs Chromium when it is missing and runs these tests;
``make test`` leaves them out (marker ``browser``), CI runs both.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from procmix_report import write

pytestmark = pytest.mark.browser
WINDOW = (1000, 2400)


def screenshot(page: Path, png: Path) -> list[str]:
    """Screenshot ``page`` into ``png``; return the console messages Chromium logged."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.fail("chromium not found: run `make report-check` (apt-get install chromium)")
    result = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",  # CI runs as root
            "--disable-gpu",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
            f"--window-size={WINDOW[0]},{WINDOW[1]}",
            f"--screenshot={png}",
            page.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0 and png.exists(), result.stderr[-2000:]
    return [line for line in result.stderr.splitlines() if ":CONSOLE" in line]


def _painted(png: Path) -> float:
    """Share of pixels that are not the page's white background."""
    pixels = np.asarray(Image.open(png).convert("L"))
    return float((pixels < 245).mean())


def test_the_check_sees_console_errors_and_blank_pages(tmp_path):
    page = tmp_path / "bad.html"
    page.write_text("<!DOCTYPE html><title>x</title><script>console.error('boom')</script>")
    messages = screenshot(page, tmp_path / "bad.png")
    assert any("boom" in m for m in messages)
    assert _painted(tmp_path / "bad.png") < 0.001


@pytest.mark.parametrize("kind", ["corpus", "sweep"])
def test_report_pages_render_in_chromium(kind, report_corpus, report_sweep, tmp_path):
    page = tmp_path / f"{kind}.html"
    write(report_corpus if kind == "corpus" else report_sweep, page)
    png = tmp_path / f"{kind}.png"
    assert screenshot(page, png) == []
    assert Image.open(png).size == WINDOW
    # Charts, text and tables cover a good part of the first screens.
    assert _painted(png) > 0.03
