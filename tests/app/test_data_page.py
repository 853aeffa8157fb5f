"""AppTest of the Data page through the router: the real pool and scene, and no data at all."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from streamlit.testing.v1 import AppTest

from eurosat import config
from eurosat.geo import BandSpec
from eurosat.ui.state import MAP_RESULT
from tests.rasters import write_tif

TITLE = "Data — EuroSAT and your imagery"


def open_data_page() -> AppTest:
    at = AppTest.from_file(str(config.REPO_ROOT / "streamlit_app.py"), default_timeout=120)
    at.run()
    at.switch_page("pages/data.py").run()
    assert not at.exception, at.exception
    return at


def texts(at: AppTest, kind: str) -> str:
    return " ".join(str(e.value) for e in getattr(at, kind))


def test_data_page_with_the_real_pool_and_scene(eurosat_zip, scene_path, runs_dir):  # noqa: ARG001
    at = open_data_page()
    assert at.title[0].value == TITLE
    assert not at.error, [e.value for e in at.error]
    assert not at.warning, [w.value for w in at.warning]
    assert [h.value for h in at.header] == ["The pool and the split", "Sample images per class",
                                           "Colours per class", "Augmentation preview",
                                           "Your imagery against EuroSAT"]
    assert len(at.get("plotly_chart")) == 4  # split, EuroSAT histograms, mean colours, scene vs EuroSAT
    assert len(at.dataframe) == 3  # split, colours, comparison
    # the shipped winter scene is brighter and bluer than EuroSAT, and the page says so
    sentence = texts(at, "markdown")
    assert "sentinel2_scene.tif` is brighter than EuroSAT" in sentence and "bluer" in sentence
    images = len(at.get("image"))
    assert images == 12 + 1  # the gallery and the enlarged image
    # another class, another image to enlarge
    at.selectbox(key="data_w_class").set_value("SeaLake").run()
    assert not at.exception
    enlarge = at.selectbox(key="data_w_enlarge_SeaLake")
    enlarge.set_value(enlarge.options[3]).run()
    assert not at.exception and "SeaLake_" in at.get("image")[-1].captions[0]
    # the augmentation preview runs the trainer's augment_batch on the picked image
    next(b for b in at.button if b.label.startswith("Show augmentations of SeaLake_")).click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert len(at.get("image")) == images + 4 + 8  # original, 3 flips, 8 random draws


def test_data_page_without_data_warns(tmp_path, runs_dir, monkeypatch):  # noqa: ARG001
    empty = tmp_path / "no_data"
    empty.mkdir()
    monkeypatch.setenv("EUROSAT_DATA_DIR", str(empty))
    at = open_data_page()
    assert at.title[0].value == TITLE
    assert not at.error, [e.value for e in at.error]
    warnings = texts(at, "warning")
    assert "No EuroSAT images to show" in warnings and "EuroSAT data not found" in warnings
    assert "No scene to compare" in warnings
    assert len(at.get("plotly_chart")) == 1  # the split still shows
    assert len(at.dataframe) == 1


def test_the_scene_of_the_last_map_result_is_compared(eurosat_zip, tmp_path, runs_dir):  # noqa: ARG001
    data = np.zeros((3, 128, 128), dtype=np.uint8)
    data[:, :, 16:] = np.array([30, 40, 35], dtype=np.uint8)[:, None, None]  # dark, not blue; 16 cols no data
    scene = write_tif(tmp_path / "dark_scene.tif", data)
    at = AppTest.from_file(str(config.REPO_ROOT / "streamlit_app.py"), default_timeout=120)
    at.run()
    at.session_state[MAP_RESULT] = SimpleNamespace(scene_path=str(scene), spec=BandSpec())
    at.switch_page("pages/data.py").run()
    assert not at.exception, at.exception
    assert "dark_scene.tif`, the scene of your last Map result: 14,336 valid pixels" in texts(at, "caption")
    sentence = texts(at, "markdown")
    assert "dark_scene.tif` is darker than EuroSAT" in sentence and "less blue" in sentence
    # a Map result whose file has gone: the shipped scene instead, with a word
    at.session_state[MAP_RESULT] = SimpleNamespace(scene_path=str(tmp_path / "gone.tif"), spec=BandSpec())
    at.run()
    assert not at.exception and "is gone; showing the shipped scene" in texts(at, "warning")
