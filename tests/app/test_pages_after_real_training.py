"""Smoke test: every page, through the router, after a REAL tiny training with the default settings,
and again after promoting that run. A trainer that writes a result the pages do not expect (the
``keras_tta`` key once killed the Train page) must fail here, not in a user's hands."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from eurosat import train
from eurosat.registry import active_model

PAGES = ["pages/home.py", "pages/map.py", "pages/upload.py", "pages/compare.py", "pages/accuracy.py",
         "pages/data.py", "pages/explain.py", "pages/analysis.py", "pages/train.py"]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained_runs_dir(tmp_path_factory, eurosat_zip):
    """A runs folder holding one run made by the real trainer with every default but size."""
    runs = tmp_path_factory.mktemp("runs")
    code = train.main(["--data", str(eurosat_zip), "--out", str(runs / "tiny-default"),
                       "--epochs", "1", "--subset", "0.01"])
    assert code == 0, (runs / "tiny-default" / "status.json").read_text()
    return runs


def open_page(page: str) -> AppTest:
    at = AppTest.from_file("../../streamlit_app.py", default_timeout=120)
    at.run()
    at.switch_page(page)
    at.run()
    return at


def every_page_opens() -> None:
    for page in PAGES:
        at = open_page(page)
        assert not at.exception, (page, at.exception)
        assert not at.error, (page, [e.value for e in at.error])


def test_every_page_after_a_default_training_then_after_promoting_it(trained_runs_dir, monkeypatch):
    monkeypatch.setenv("EUROSAT_RUNS_DIR", str(trained_runs_dir))
    every_page_opens()

    at = open_page("pages/train.py")
    assert at.selectbox(key="train_history_run").value == "tiny-default"  # the newest run is preselected
    labels = at.radio[0].options
    for key in train.json.loads((trained_runs_dir / "tiny-default" / "results.json").read_text())["test"]:
        at.radio[0].set_value(key).run()  # every tested model of the run can be shown
        assert not at.exception, (key, at.exception)
    assert all(isinstance(label, str) and label for label in labels)
    promote = next(b for b in at.button if b.label.startswith("Promote 'tiny-default'"))
    assert not promote.disabled
    promote.click().run()
    assert not at.exception, at.exception
    assert active_model().name == "tiny-default"

    every_page_opens()

    # the promoted tiny run has no analysis yet: compute it from the page, then every panel shows
    at = open_page("pages/analysis.py")
    assert any("No test analysis is stored" in i.value for i in at.info)
    next(b for b in at.button if b.label == "Compute the analysis").click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert (active_model().directory / "analysis_test.npz").is_file()  # stored beside the promoted model
    assert [m.label for m in at.metric] == ["Accuracy", "Macro F1", "ECE (served)", "Errors"]
    assert len(at.get("plotly_chart")) == 5
