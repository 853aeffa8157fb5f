"""AppTest of the Accuracy page through the router, on a class map of the real scene made the Map page's
way: draw a sample, label cells one by one, read the estimates; the states real use leaves behind (no map
yet, labels made then another map classified, a scene file gone)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from eurosat import config
from eurosat.accuracy import UNLABELLED
from eurosat.classes import CLASS_NAMES
from eurosat.inference import TFLiteClassifier
from eurosat.tiling import classify_area
from eurosat.ui.state import ACCURACY, MAP_RESULT

BBOX = (12.55, 52.47, 12.65, 52.51)


@pytest.fixture(scope="module")
def area(scene_path, tmp_path_factory):
    """A classified area of a private copy of the real scene (a test may delete the copy)."""
    copy = tmp_path_factory.mktemp("scene") / "scene.tif"
    shutil.copy(scene_path, copy)
    clf = TFLiteClassifier(config.models_dir() / config.TFLITE_DYNAMIC)
    return classify_area(copy, BBOX, clf, stride=32)


def open_page(result=None) -> AppTest:
    at = AppTest.from_file(str(config.REPO_ROOT / "streamlit_app.py"), default_timeout=60)
    at.run()
    if result is not None:
        at.session_state[MAP_RESULT] = result
    at.switch_page("pages/accuracy.py").run()
    assert not at.exception, at.exception
    return at


def test_without_a_map_the_page_says_where_to_start(runs_dir):  # noqa: ARG001
    at = open_page()
    assert at.title[0].value.startswith("Accuracy")
    assert any("Classify an area on the Map page first" in i.value for i in at.info)
    assert not at.error


def test_draw_label_and_estimate(area, runs_dir):  # noqa: ARG001
    at = open_page(area)
    at.number_input(key="accuracy_w_total").set_value(40).run()
    at.number_input(key="accuracy_w_minimum").set_value(3).run()
    next(b for b in at.button if b.label == "Draw the sample").click().run()
    assert not at.exception, at.exception
    result, sample, pos = at.session_state[ACCURACY]
    assert result is area and sample.n == 40 and pos == 0
    assert len(at.get("image")) == 1  # the cell with its context
    assert "Cell 1 of 40" in at.get("image")[0].captions[0]
    assert any("The estimates appear here" in i.value for i in at.info)
    # label the first cell as Forest: the next unlabelled cell comes up
    at.radio(key="accuracy_w_label_1_0").set_value("Forest").run()
    next(b for b in at.button if b.label == "Save and next").click().run()
    assert not at.exception, at.exception
    _, sample, pos = at.session_state[ACCURACY]
    assert sample.reference[0] == CLASS_NAMES.index("Forest") and pos == 1
    assert at.radio(key="accuracy_w_label_1_1").value is None  # a new cell starts unanswered
    # back shows the first cell with its label
    next(b for b in at.button if b.label == "Back").click().run()
    assert at.radio(key="accuracy_w_label_1_0").value == "Forest"
    # an answer chosen but not saved does not carry over into a new draw (blind labelling)
    next(b for b in at.button if b.label == "Save and next").click().run()
    at.radio(key="accuracy_w_label_1_1").set_value("River").run()
    at.checkbox(key="accuracy_w_discard").check().run()
    next(b for b in at.button if b.label == "Draw the sample").click().run()
    _, fresh, pos = at.session_state[ACCURACY]
    assert pos == 0 and fresh.n_done == 0
    assert at.radio(key="accuracy_w_label_2_0").value is None
    next(b for b in at.button if b.label == "Skip").click().run()
    assert at.radio(key="accuracy_w_label_2_1").value is None
    at.radio(key="accuracy_w_label_2_1").set_value("Forest").run()
    next(b for b in at.button if b.label == "Save and next").click().run()
    _, sample, _ = at.session_state[ACCURACY]
    assert sample is fresh and sample.reference[1] == CLASS_NAMES.index("Forest")
    # the rest labelled as the map says (a perfect map): overall accuracy 100 %, areas = the map's
    sample.reference[:] = np.where(sample.sample_strata < 10, sample.sample_strata, 0)
    at.run()
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Overall accuracy of the classified land"] == "100.0 % ± 0.0"
    assert metrics["Cells labelled"] == "40 of 40"
    assert len(at.get("plotly_chart")) == 1
    assert {b.label for b in at.get("download_button")} == {"Sample (CSV)", "Estimates (CSV)"}


def test_another_map_keeps_the_labels_and_redrawing_asks_first(area, runs_dir):  # noqa: ARG001
    at = open_page(area)
    next(b for b in at.button if b.label == "Draw the sample").click().run()
    _, sample, _ = at.session_state[ACCURACY]
    sample.reference[:3] = [1, 1, 2]
    # the Map page classifies another area: the sample and its labels stay, with a word
    clf = TFLiteClassifier(config.models_dir() / config.TFLITE_DYNAMIC)
    other = classify_area(area.scene_path, (12.56, 52.48, 12.62, 52.50), clf, stride=64)
    at.session_state[MAP_RESULT] = other
    at.run()
    assert not at.exception, at.exception
    assert any("drawn from an earlier map" in i.value for i in at.info)
    assert at.session_state[ACCURACY][1].n_done == 3
    draw = next(b for b in at.button if b.label == "Draw the sample")
    assert draw.disabled  # three labels would be lost: tick the box first
    at.checkbox(key="accuracy_w_discard").check().run()
    next(b for b in at.button if b.label == "Draw the sample").click().run()
    _, new, _ = at.session_state[ACCURACY]
    assert new is not sample and (new.reference == UNLABELLED).all()


def test_a_scene_file_gone_is_a_message(area, runs_dir, tmp_path):  # noqa: ARG001
    at = open_page(area)
    next(b for b in at.button if b.label == "Draw the sample").click().run()
    moved = tmp_path / "away.tif"
    shutil.move(area.scene_path, moved)
    try:
        at.run()
        assert not at.exception, at.exception
        assert any("not found" in e.value for e in at.error)
        assert at.radio(key="accuracy_w_label_1_0") is not None  # the labels and the CSV route stay
    finally:
        shutil.move(moved, area.scene_path)


def test_ranges_read_as_a_person_expects():
    from eurosat.ui.accuracy_helpers import _range

    assert _range(0.815, 0.41, 1.0) == "81.5 % (41–100)"
    assert _range(0.029, 0.027, 0.031) == "2.9 % (2.7–3.1)"  # not "(3–3)"
    assert _range(1.0, 1.0, 1.0) == "100.0 %"
    assert _range(float("nan"), 0.1, 0.2) == "—"
