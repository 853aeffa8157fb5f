"""Regression tests for the hostile-use report (issue "Reliability under hostile use"), one per row."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
import rasterio
from streamlit.testing.v1 import AppTest

from eurosat import config, runs
from eurosat.errors import DataNotFoundError, ImageError, TrainingError
from eurosat.images import MAX_DECODE_BYTES, TILES, analyse_uploads, decode_image
from eurosat.registry import active_model, active_pointer, model_facts
from tests.rasters import FakeClassifier
from tests.test_runs import write_fake_run

PAGES = ["pages/home.py", "pages/map.py", "pages/upload.py", "pages/explain.py", "pages/train.py"]


def _float64_bomb(path: Path, side: int = 5000) -> Path:
    """A deflate TIFF of ``side``² × 3 float64 zeros, written block by block (small on disk)."""
    with rasterio.open(path, "w", driver="GTiff", width=side, height=side, count=3, dtype="float64",
                       compress="deflate", tiled=True, blockxsize=512, blockysize=512) as dst:
        block = np.zeros((3, 512, 512))
        for r in range(0, side, 512):
            for c in range(0, side, 512):
                h, w = min(512, side - r), min(512, side - c)
                dst.write(block[:, :h, :w], window=rasterio.windows.Window(c, r, w, h))
    return path


def _child_peak_mb(code: str) -> float:
    """Peak RSS (MB) of a fresh Python child running ``code`` (Linux ru_maxrss is in kB)."""
    out = subprocess.run([sys.executable, "-c", code + "\nimport resource\n"
                          "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"],
                         cwd=config.REPO_ROOT, capture_output=True, text=True, timeout=300, check=True)
    return int(out.stdout.strip().splitlines()[-1]) / 1024


def test_row2_a_float64_bomb_is_refused_from_its_header(tmp_path):
    bomb = _float64_bomb(tmp_path / "bomb.tif")
    assert bomb.stat().st_size < 5_000_000
    with pytest.raises(ImageError, match="would decode to 600 MB"):
        decode_image(bomb.read_bytes(), "bomb.tif")
    with pytest.raises(ImageError, match="would decode to|tiles"):
        decode_image(bomb.read_bytes(), "bomb.tif", TILES)
    base = _child_peak_mb("from eurosat import images")
    peak = _child_peak_mb(
        "from pathlib import Path\nfrom eurosat import images\n"
        f"data = Path({str(bomb)!r}).read_bytes()\n"
        "try:\n    images.decode_image(data, 'bomb.tif', images.TILES)\nexcept images.ImageError:\n    pass")
    assert peak - base < 300, (base, peak)  # the bar: ≤ +300 MB over idle
    assert 600e6 > MAX_DECODE_BYTES


def test_row12_a_session_keeps_a_bounded_number_of_tiles():
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.full((640, 640, 3), 90, np.uint8)).save(buf, "PNG")  # 100 tiles each
    items = [(i, f"img{i}.png", buf.getvalue()) for i in range(5)]
    out = analyse_uploads(items, TILES, FakeClassifier(), max_tiles=250)
    kept = [r for r in out if hasattr(r, "probs")]
    assert len(kept) == 2 and sum(r.n_tiles for r in kept) == 200
    assert all("a session keeps at most 250" in r.message or "over the 250" in r.message
               for r in out if not hasattr(r, "probs"))


@pytest.mark.parametrize("name", ["train.lock.tmp", "active.json", "train.lock", "promoted", "x.tmp",
                                  "a.json"])
def test_row3_reserved_run_names_are_refused_before_anything_starts(runs_dir, tmp_path, name):
    pool = tmp_path / "pool.zip"
    pool.write_bytes(b"PK")
    with pytest.raises(TrainingError, match="not allowed"):
        runs.launch_run(runs.TrainSettings(data=str(pool), name=name), runs_dir)
    assert not (runs_dir / name).exists() and not (runs_dir / runs.LOCK_FILE).exists()


def _promote_by_hand(runs_dir: Path, metrics: dict) -> Path:
    d = runs_dir / "promoted" / "odd"
    d.mkdir(parents=True)
    for name in (config.TFLITE_DYNAMIC, config.TFLITE_INT8, config.KERAS_FILE):
        (d / name).write_bytes((config.models_dir() / name).read_bytes())
    (d / config.METRICS_FILE).write_text(json.dumps(metrics))
    active_pointer().write_text(json.dumps({"run": "odd", "directory": str(d)}))
    return d


def _every_page(check) -> None:
    for page in PAGES:
        at = AppTest.from_file("../streamlit_app.py", default_timeout=120)
        at.run()
        at.switch_page(page).run()
        assert not at.exception, (page, at.exception)
        check(at)


def test_row5_malformed_metrics_of_a_promoted_run_break_no_page(runs_dir):
    _promote_by_hand(runs_dir, {"test": [], "parameters": "many", "calibration": [1], "decision": {}})
    assert active_model().name == "odd"
    facts = model_facts(active_model().metrics)
    assert facts.parameters is None and facts.test_accuracy is None and facts.test_ece is None
    _every_page(lambda at: None)


@pytest.mark.parametrize("pointer", ["{not json", '{"run": {"a": 1}, "directory": "/x"}', '["a"]',
                                     '{"run": "gone", "directory": "/nonexistent/dir"}'])
def test_row5_a_broken_pointer_falls_back_with_a_warning(runs_dir, pointer):
    active_pointer().write_text(pointer)
    info = active_model()
    assert info.source == "shipped" and info.warning
    assert str(active_pointer()) in info.warning or "'gone' lacks" in info.warning

    def warned(at):
        assert any("using the shipped model" in w.value for w in at.sidebar.warning), at.sidebar.warning

    _every_page(warned)


def test_row5_a_run_dict_is_not_a_model_name(runs_dir):
    active_pointer().write_text(json.dumps({"run": {"a": 1}, "directory": str(config.models_dir())}))
    assert active_model().name == config.MODEL_BASENAME and active_model().warning


def test_row6_uploads_are_private_atomic_and_rewritten_when_damaged():
    from eurosat.ui import map_helpers as mh

    assert mh.UPLOAD_DIR.stat().st_mode & 0o077 == 0  # only this server's user
    assert mh.UPLOAD_DIR.name.startswith("eurosat_uploads_")  # one folder per server process
    data = b"II*\x00" + bytes(1000)
    path = mh.save_upload("scene.tif", data)
    path.write_bytes(data[:10])  # a truncated leftover
    assert mh.save_upload("scene.tif", data).read_bytes() == data
    assert not list(path.parent.glob("*.part"))
    for i in range(mh.MAX_KEPT_UPLOADS + 3):
        mh.save_upload("s.tif", bytes([i]) * 10)
    assert len([d for d in mh.UPLOAD_DIR.iterdir() if d.is_dir()]) <= mh.MAX_KEPT_UPLOADS


def test_row7_the_app_caps_gdals_block_cache():
    code = "import eurosat.ui.frame, os\nprint(os.environ['GDAL_CACHEMAX'])"
    env = {k: v for k, v in os.environ.items() if k != "GDAL_CACHEMAX"}
    out = subprocess.run([sys.executable, "-c", code], cwd=config.REPO_ROOT, capture_output=True, text=True,
                         timeout=60, check=True, env=env)
    assert out.stdout.strip().splitlines()[-1] == "64"


def test_row10_users_see_no_tracebacks():
    cfg = tomllib.loads((config.REPO_ROOT / ".streamlit" / "config.toml").read_text())
    assert cfg["client"]["showErrorDetails"] == "none"


def test_row1_and_row5_train_page_lists_a_run_with_unknown_result_keys(runs_dir):
    run = write_fake_run(runs_dir, "newer", with_models=True)
    results = json.loads((run / "results.json").read_text())
    results["test"]["keras_tta"] = results["test"]["keras"]
    results["test"]["some_future_model"] = results["test"]["keras"]
    (run / "results.json").write_text(json.dumps(results))
    at = AppTest.from_file("../streamlit_app.py", default_timeout=60)
    at.run()
    at.switch_page("pages/train.py").run()
    assert not at.exception, at.exception
    for key in results["test"]:
        at.radio[0].set_value(key).run()
        assert not at.exception, (key, at.exception)
    assert "some_future_model" in at.radio[0].options


def _tif(path: Path, crs, transform) -> Path:
    with rasterio.open(path, "w", driver="GTiff", width=128, height=128, count=3, dtype="uint8", crs=crs,
                       transform=transform) as dst:
        dst.write(np.full((3, 128, 128), 90, np.uint8))
    return path


@pytest.mark.parametrize(("crs", "transform", "words"), [
    ('LOCAL_CS["arbitrary",UNIT["metre",1],AXIS["X",EAST],AXIS["Y",NORTH]]',
     rasterio.Affine(10, 0, 0, 0, -10, 1000), r"local \(engineering\) coordinate system"),
    ("EPSG:32633", rasterio.Affine(10, 0, 1e12, 0, -10, 1e12),
     "cannot be placed on the Earth|outside the Earth"),
    ("EPSG:32633", rasterio.Affine(10, 0, 330000, 0, 10, 5822040), "south-up"),
    ("EPSG:4326", rasterio.Affine(0.001, 0, 179.99, 0, -0.001, 10.0), "antimeridian|outside the Earth"),
])
def test_row4_and_row11_odd_georeferencing_is_a_clear_error(tmp_path, capsys, crs, transform, words):
    from eurosat import classify
    from eurosat.errors import GeoError
    from eurosat.geo import inspect_scene

    path = _tif(tmp_path / "odd.tif", rasterio.crs.CRS.from_user_input(crs), transform)
    with pytest.raises(GeoError, match=words):
        inspect_scene(path)
    assert classify.main([str(path), "--out", str(tmp_path / "c.tif"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("error: ")


def test_row9_the_data_field_reveals_no_paths_and_never_walks_the_disk(runs_dir, tmp_path):
    messages = []
    for data in ("/", "/etc", "/no/such/place", str(tmp_path)):
        with pytest.raises(DataNotFoundError) as info:
            runs.launch_run(runs.TrainSettings(data=data, name="probe"), runs_dir)
        messages.append(str(info.value).replace(data, "PATH"))
    assert len(set(messages)) == 1  # the same words whether the path exists or not
    assert not (runs_dir / "probe").exists()
