"""AppTest of the Upload page: uploads go through the real st.file_uploader (AppTest supports it)."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from eurosat import config
from eurosat.classes import CLASS_NAMES
from eurosat.images import tile_options
from eurosat.ui.state import EXPLAIN_IMAGE, EXPLAIN_SOURCE, UPLOAD_RESULTS


def png(arr: np.ndarray) -> bytes:
    bio = io.BytesIO()
    Image.fromarray(arr).save(bio, "PNG")
    return bio.getvalue()


@pytest.fixture
def at(runs_dir) -> AppTest:  # runs_dir isolates the registry from real promoted runs
    app = AppTest.from_file(str(config.REPO_ROOT / "streamlit_app.py"), default_timeout=60)
    app.run()
    app.switch_page("pages/upload.py").run()
    assert not app.exception
    return app


def texts(at: AppTest, kind: str) -> str:
    return " ".join(str(e.value) for e in getattr(at, kind))


def test_empty_page_invites_an_upload(at):
    assert at.title[0].value == "Upload"
    assert "Upload one or several images" in texts(at, "info")
    assert len(at.file_uploader) == 1 and at.file_uploader[0].accept_multiple_files
    assert {"jpg", "png", "tif", "tiff"} <= {t.lstrip(".") for t in at.file_uploader[0].allowed_type}


def test_one_64px_tile(at, rng):
    at.file_uploader[0].set_value(
        ("tile.png", png(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)), "image/png")
    )
    at.run()
    assert not at.exception and not at.error
    assert at.subheader[0].value == "tile.png"
    results = at.session_state[UPLOAD_RESULTS]
    assert len(results) == 1 and results[0].how == "as is"
    predicted = CLASS_NAMES[int(results[0].mean_probs.argmax())]
    assert predicted in texts(at, "markdown")
    assert len(at.get("plotly_chart")) == 1  # top-3 bar only: no tile grid for one tile
    assert at.button(key="explain0").label == "Explain this image"


def test_several_files_tiles_and_bad_inputs(at, rng):
    area = rng.integers(0, 256, (130, 200, 3), dtype=np.uint8)
    rgba = np.dstack([rng.integers(0, 256, (64, 64, 3), dtype=np.uint8), np.full((64, 64), 200, np.uint8)])
    at.file_uploader[0].set_value(
        [
            ("area.png", png(area), "image/png"),
            ("empty.png", b"", "image/png"),
            ("notes.tif", b"II*\x00 this is not really a tiff", "image/tiff"),
            ("rgba.png", png(rgba), "image/png"),
        ]
    )
    at.run()
    assert not at.exception
    assert [s.value for s in at.subheader] == ["area.png", "empty.png", "notes.tif", "rgba.png"]
    errors = [e.value for e in at.error]
    assert len(errors) == 2 and "empty" in errors[0] and "damaged" in errors[1]
    assert "2 × 3 = 6 tiles" in texts(at, "info") and "not classified" in texts(at, "info")
    assert "alpha" in texts(at, "warning") and "tiles" not in texts(at, "warning")
    assert len(at.get("plotly_chart")) == 3 + 1  # area: top-3, tile grid, distribution; rgba: top-3
    tile_box = at.selectbox(key="tile0")
    assert len(tile_box.options) == 6 and "row " in tile_box.options[0]


def test_resize_mode(at, rng):
    at.radio[0].set_value("resize")
    at.file_uploader[0].set_value(
        ("big.png", png(rng.integers(0, 256, (300, 300, 3), dtype=np.uint8)), "image/png")
    )
    at.run()
    assert not at.exception
    res = at.session_state[UPLOAD_RESULTS][0]
    assert res.how == "resized" and res.n_tiles == 1
    assert "640 m" in texts(at, "info")


def test_explain_button_hands_the_tile_to_the_explain_page(at, rng):
    area = rng.integers(0, 256, (128, 128, 3), dtype=np.uint8)
    at.file_uploader[0].set_value(("area.png", png(area), "image/png"))
    at.run()
    box = at.selectbox(key="tile0")
    box.select_index(3).run()  # the least confident tile
    at.button(key="explain0").click().run()
    assert not at.exception
    assert at.title[0].value == "Explain"
    res = at.session_state[UPLOAD_RESULTS][0]
    order = [i for i, _ in tile_options(res.probs, [res.tile_label(t) for t in range(4)])]
    np.testing.assert_array_equal(at.session_state[EXPLAIN_IMAGE], res.tiles[order[3]])
    assert at.session_state[EXPLAIN_SOURCE] == f"area.png, tile {res.tile_label(order[3])} (Upload page)"


def test_missing_model_is_a_clear_error(tmp_path, monkeypatch, runs_dir, rng):
    monkeypatch.setenv("EUROSAT_MODELS_DIR", str(tmp_path))
    app = AppTest.from_file(str(config.REPO_ROOT / "streamlit_app.py"), default_timeout=60)
    app.run()
    app.switch_page("pages/upload.py").run()
    app.file_uploader[0].set_value(
        ("t.png", png(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)), "image/png")
    )
    app.run()
    assert not app.exception
    assert any("not found" in e.value for e in app.error)


_NO_TF_SCRIPT = """
import io, json, sys
import numpy as np
from PIL import Image
from streamlit.testing.v1 import AppTest
bio = io.BytesIO(); Image.fromarray(np.zeros((128, 64, 3), np.uint8)).save(bio, "PNG")
at = AppTest.from_file(sys.argv[1], default_timeout=60)
at.run()
at.switch_page("pages/upload.py").run()
at.file_uploader[0].set_value(("t.png", bio.getvalue(), "image/png"))
at.run()
print(json.dumps({"ok": not at.exception and len(at.subheader) == 1,
                  "tf": sorted(m for m in ("tensorflow", "keras", "tf_keras_vis") if m in sys.modules)}))
"""


def test_upload_path_never_imports_tensorflow(runs_dir):
    """In a fresh interpreter: open the app, upload, classify — TensorFlow must stay unloaded."""
    out = subprocess.run(
        [sys.executable, "-c", _NO_TF_SCRIPT, str(config.REPO_ROOT / "streamlit_app.py")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=config.REPO_ROOT,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == {"ok": True, "tf": []}
