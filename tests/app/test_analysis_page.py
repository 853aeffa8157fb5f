"""AppTest of the Model analysis page through the router, on the shipped model's stored test analysis."""

from __future__ import annotations

import json

from streamlit.testing.v1 import AppTest

from eurosat import config
from eurosat.ui.state import EXPLAIN_IMAGE, EXPLAIN_SOURCE


def open_analysis() -> AppTest:
    at = AppTest.from_file("../../streamlit_app.py", default_timeout=120)
    at.run()
    at.switch_page("pages/analysis.py").run()
    assert not at.exception, at.exception
    return at


def test_shipped_analysis_opens_with_every_panel(runs_dir, eurosat_zip):  # noqa: ARG001
    at = open_analysis()
    assert not at.error, [e.value for e in at.error]
    assert at.title[0].value == "Model analysis"
    assert [m.label for m in at.metric] == ["Accuracy", "Macro F1", "ECE (served)", "Errors"]
    card = json.loads((config.models_dir() / config.METRICS_FILE).read_text())
    # the model card's test accuracy of the served file, recomputed from the stored analysis
    assert at.metric[0].value == f"{card['test']['tflite_dynamic']['accuracy']:.2%}"
    # confusion matrix, ROC, PR, reliability, embedding
    assert len(at.get("plotly_chart")) == 5
    assert {h.value for h in at.header} >= {"Confusion matrix", "Curves and calibration", "Embedding map",
                                           "The network"}
    # the gallery opens on the hardest confusion: every image is that true / predicted pair
    true, pred = at.selectbox(key="analysis_true").value, at.selectbox(key="analysis_pred").value
    captions = [c for i in at.get("image") for c in i.captions]
    assert any(f"{true} → {pred}" in str(c) for c in captions), captions
    # another cell from the selectboxes (a click on the matrix sets the same keys)
    at.selectbox(key="analysis_true").set_value("Forest").run()
    at.selectbox(key="analysis_pred").set_value("Forest").run()
    assert not at.exception and any("True Forest, predicted Forest" in m.value for m in at.markdown)
    # an image goes to the Explain page for Grad-CAM
    next(b for b in at.button if b.label == "Grad-CAM").click().run()
    assert not at.exception, at.exception
    assert at.session_state[EXPLAIN_IMAGE].shape == (64, 64, 3)
    assert "Forest/" in at.session_state[EXPLAIN_SOURCE]


def test_a_split_without_analysis_offers_to_compute_it(runs_dir):  # noqa: ARG001
    at = open_analysis()
    at.radio(key="analysis_subset").set_value("val").run()
    assert not at.exception and any("No val analysis is stored" in i.value for i in at.info)
    assert any(b.label == "Compute the analysis" for b in at.button)
