"""MODEL_CARD.md is generated: the template filled from report.json and the bench figures."""

from __future__ import annotations

import json
import shutil

from classifiers.card import CARD, render_card
from classifiers.model import MODELS_DIR
from support.data import REPO

BENCH = REPO / "bench" / "results" / "classifiers.json"


def test_the_shipped_card_is_what_the_template_and_reports_give(tmp_path):
    models = tmp_path / "models"
    shutil.copytree(MODELS_DIR, models)
    bench = json.loads(BENCH.read_text())
    render_card(models, bench)
    assert (models / CARD).read_text() == (MODELS_DIR / CARD).read_text()


def test_the_card_states_the_figures_it_is_given(tmp_path):
    models = tmp_path / "models"
    shutil.copytree(MODELS_DIR, models)
    report = json.loads((models / "report.json").read_text())
    report["task_type"]["loso"]["macro_f1"] = 0.4321
    (models / "report.json").write_text(json.dumps(report))
    bench = json.loads(BENCH.read_text())
    bench["tagging"]["mb_s_per_core"] = 7.25
    card = render_card(models, bench).read_text()
    assert "| task type macro-F1 | 0.85 | 0.432 | no |" in card
    assert "| both models inside prepare, MB/s per core | 10 | 7.25 | no | - |" in card
    assert "**7.25 MB/s per core**" in card
    untimed = render_card(models, None).read_text()
    assert "Not measured yet: run `make bench`." in untimed
    assert "MB/s per core | 10" not in untimed and "${" not in untimed
