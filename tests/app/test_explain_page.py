"""AppTest of the Explain page: the three sources of a tile, the controls, and errors shown, not raised."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from eurosat import config
from eurosat.classes import NUM_CLASSES
from eurosat.ui.state import EXPLAIN_IMAGE, EXPLAIN_SOURCE, MAP_RESULT


def png(arr: np.ndarray) -> bytes:
    bio = io.BytesIO()
    Image.fromarray(arr).save(bio, "PNG")
    return bio.getvalue()


@dataclass
class StandInArea:
    """Duck-typed stand-in for the Map page's eurosat.tiling.AreaResult."""

    tiles: np.ndarray  # uint8 (N, 64, 64, 3)
    probs: np.ndarray  # float32 (N, 10)

    @property
    def labels(self) -> np.ndarray:
        return self.probs.argmax(axis=1)

    def tile_label(self, i: int) -> str:
        return f"tile #{i}"


def _app(**state) -> AppTest:
    at = AppTest.from_file(str(config.REPO_ROOT / "streamlit_app.py"), default_timeout=60)
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    at.switch_page("pages/explain.py").run()
    return at


def captions(at: AppTest) -> list[str]:
    return [c for img in at.image for c in img.captions]


@pytest.fixture
def tile(rng) -> np.ndarray:
    return rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)


def test_without_a_tile_the_page_explains_where_to_get_one(runs_dir):
    at = _app()
    assert not at.exception
    assert at.title[0].value == "Explain"
    assert at.radio(key="explain_source_choice").options == ["Upload a tile here"]
    assert "Upload" in at.info[0].value and "Map" in at.info[0].value


def test_tile_from_the_upload_page(runs_dir, tile):
    at = _app(**{EXPLAIN_IMAGE: tile, EXPLAIN_SOURCE: "field.png (Upload page)"})
    assert not at.exception and not at.error
    assert at.radio(key="explain_source_choice").value == "Image sent from the Upload page"
    caps = captions(at)
    assert caps[0] == "Input: field.png (Upload page)"
    assert caps[1].startswith("Grad-CAM for ")
    assert caps[2:] == ["no evidence → strongest evidence", "Overlay (opacity 50%)"]
    # the shipped model's last block: stage3_block2_out (2 blocks per stage) or stage3_block3_out (3)
    layer_caps = [c.value for c in at.main.caption if re.search(r"`stage3_block\d_out`", c.value)]
    assert layer_caps and "8 × 8 × 128" in layer_caps[0]
    # the class list starts with the predicted class; every method and another class render
    classes = at.selectbox[0]
    assert classes.label == "Class to explain" and len(classes.options) == NUM_CLASSES
    assert classes.value.endswith("(predicted)")
    assert not at.warning  # Grad-CAM: no caveat
    for method in ("gradcam++", "scorecam"):
        at.radio(key="explain_method").set_value(method).run()
        assert not at.exception
        assert any("Prefer Grad-CAM" in w.value for w in at.warning)
    at.selectbox[0].select_index(NUM_CLASSES - 1).run()  # widgets re-read after every run
    at.slider(key="explain_opacity").set_value(0.8).run()
    assert not at.exception
    caps = captions(at)
    assert caps[1].startswith("Score-CAM for ") and caps[3] == "Overlay (opacity 80%)"


def test_tile_of_the_classified_map_area(runs_dir, rng):
    probs = np.full((3, NUM_CLASSES), 0.05, np.float32)
    probs[0, 1], probs[1, 9], probs[2, 3] = 0.55, 0.95, 0.75  # Forest, SeaLake, Highway
    area = StandInArea(rng.integers(0, 256, (3, 64, 64, 3), dtype=np.uint8), probs)
    at = _app(**{MAP_RESULT: area})
    source = at.radio(key="explain_source_choice")
    assert source.options == ["A tile of the classified area (Map page)", "Upload a tile here"]
    assert source.value.startswith("A tile of the classified area")
    box = at.selectbox(key="map_tile")
    assert box.options == ["tile #1 — SeaLake 95%", "tile #2 — Highway 75%", "tile #0 — Forest 55%"]
    box.select("tile #0 — Forest 55%").run()
    assert not at.exception
    assert captions(at)[0] == "Input: Map area, tile #0"


def test_map_result_without_tiles_is_not_offered(runs_dir):
    area = StandInArea(np.zeros((0, 64, 64, 3), np.uint8), np.full((4, NUM_CLASSES), 0.1, np.float32))
    at = _app(**{MAP_RESULT: area})
    assert not at.exception
    assert at.radio(key="explain_source_choice").options == ["Upload a tile here"]


def test_upload_on_the_page(runs_dir, rng):
    at = _app()
    up = at.file_uploader(key="explain_file")
    up.set_value(("grey.png", png(rng.integers(0, 256, (128, 128), dtype=np.uint8)), "image/png")).run()
    assert not at.exception
    warnings = " ".join(w.value for w in at.warning)
    assert "Greyscale" in warnings and "Resized" in warnings
    assert captions(at)[0] == "Input: grey.png"


def test_bad_upload_is_an_error_message(runs_dir):
    at = _app()
    at.file_uploader(key="explain_file").set_value(("x.jpg", b"\xff\xd8\xff garbage", "image/jpeg")).run()
    assert not at.exception
    assert "'x.jpg'" in at.error[0].value and "JPEG, PNG or TIFF" in at.error[0].value
    assert captions(at) == []


def test_missing_keras_model_is_a_clear_error(runs_dir, tmp_path, monkeypatch, tile):
    monkeypatch.setenv("EUROSAT_MODELS_DIR", str(tmp_path))
    at = _app(**{EXPLAIN_IMAGE: tile, EXPLAIN_SOURCE: "x"})
    assert not at.exception
    assert any("Keras model" in e.value and "not found" in e.value for e in at.error)
