"""AppTest of the Map page on a synthetic scene (the shipped scene's grid) in a tmp EUROSAT_DATA_DIR.

How a rectangle is supplied: the page reads the drawn rectangle from
``st.session_state[MAP_DRAWING]`` — the value streamlit-folium's ``on_change`` stores there when
a user draws (see ``eurosat.ui.map_helpers``). The test sets that key to the same GeoJSON a
browser sends, so the page runs its real path: rectangle -> tiles -> LiteRT model -> result.
"""

from __future__ import annotations

import multiprocessing

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from eurosat import config
from eurosat.tiling import AreaResult
from eurosat.ui.state import MAP_BBOX, MAP_DRAWING, MAP_RESULT
from tests.rasters import scene_like

BBOX = (12.55, 52.47, 12.65, 52.51)


def rectangle(w: float, s: float, e: float, n: float) -> dict:
    """What streamlit-folium returns after a rectangle is drawn (Leaflet's layer.toGeoJSON())."""
    ring = [[w, s], [w, n], [e, n], [e, s], [w, s]]
    return {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [ring]}}


@pytest.fixture
def data_dir(tmp_path, monkeypatch, runs_dir):  # noqa: ARG001
    d = tmp_path / "data"
    d.mkdir()
    scene_like(d / "sentinel2_scene.tif")
    monkeypatch.setenv("EUROSAT_DATA_DIR", str(d))
    return d


def open_map_page() -> AppTest:
    at = AppTest.from_file(str(config.REPO_ROOT / "streamlit_app.py"), default_timeout=60)
    at.run()
    at.switch_page("pages/map.py")
    at.run()
    assert not at.exception, at.exception
    return at


def draw(at: AppTest, bbox) -> AppTest:
    at.session_state[MAP_DRAWING] = {"last_active_drawing": rectangle(*bbox)}
    at.run()
    assert not at.exception, at.exception
    return at


def test_page_opens_on_the_default_scene(data_dir):
    at = open_map_page()
    assert at.title[0].value.startswith("Map")
    assert not at.error
    assert any("No area classified yet" in i.value for i in at.info)
    # default cell size 32 px: 23 × 47 overlapping windows over the 12 × 24-tile scene
    assert any(b.label.startswith("Classify the whole scene (1,081 windows)") for b in at.button)
    assert any("Copernicus" in c.value for c in at.caption)


def test_drawn_rectangle_is_classified(data_dir):
    at = draw(open_map_page(), BBOX)
    assert not at.error, [e.value for e in at.error]
    result = at.session_state[MAP_RESULT]
    assert isinstance(result, AreaResult) and result.bbox == BBOX
    assert result.tiles.shape == (result.n_tiles, 64, 64, 3) and result.probs.shape == (result.n_tiles, 10)
    assert at.session_state[MAP_BBOX] == BBOX
    assert at.metric[0].label == "Dominant class (drawn area)" and at.metric[0].value == result.dominant_class
    assert result.cell == 32 and any(f"{result.n_tiles:,} cells of 32×32 px" in c.value for c in at.caption)
    downloads = {"GeoTIFF", "QGIS style", "Probabilities", "GeoJSON", "CSV"}
    assert {b.label for b in at.get("download_button")} == downloads
    # an unrelated rerun (same rectangle) keeps the result and does not reclassify
    at.run()
    assert at.session_state[MAP_RESULT] is result
    # it was classified in a worker process (eurosat.workers), not in the server's thread
    assert any(c.name == "eurosat-classify-worker" for c in multiprocessing.active_children())


def test_without_worker_processes_the_server_thread_gives_the_same_map(data_dir, monkeypatch):
    in_worker = draw(open_map_page(), BBOX).session_state[MAP_RESULT]
    monkeypatch.setenv("EUROSAT_WORKER_PROCESSES", "0")
    at = draw(open_map_page(), BBOX)
    assert not at.error, [e.value for e in at.error]
    in_thread = at.session_state[MAP_RESULT]
    np.testing.assert_allclose(in_thread.probs, in_worker.probs, atol=1e-6)
    assert in_thread.codes.tolist() == in_worker.codes.tolist()


def test_whole_scene_button(data_dir):
    at = open_map_page()
    next(b for b in at.button if b.label.startswith("Classify the whole scene")).click().run()
    result = at.session_state[MAP_RESULT]
    assert result.n_tiles == 24 * 48 and result.bbox is None and result.cell == 32
    assert at.metric[0].label == "Dominant class (whole scene)"


def test_cell_size_change_classifies_the_area_again(data_dir):
    at = draw(open_map_page(), BBOX)
    fine = at.session_state[MAP_RESULT]
    at.radio(key="map_w_stride").set_value(64).run()
    coarse = at.session_state[MAP_RESULT]
    assert not at.error and coarse is not fine and coarse.cell == 64 and coarse.bbox == BBOX
    assert any(f"{coarse.n_tiles:,} tiles of 64×64 px" in c.value for c in at.caption)
    assert next(b for b in at.button if b.label.startswith("Classify the whole scene")).label.startswith(
        "Classify the whole scene (288 tiles)")
    # finer cells cover more of the drawn rectangle than whole tiles can
    assert fine.total_area_km2 > coarse.total_area_km2


def test_typed_rectangle(data_dir):
    at = open_map_page()
    for label, value in zip(("West", "South", "East", "North"), BBOX, strict=True):
        next(w for w in at.number_input if w.label == label).set_value(value)
    next(b for b in at.button if b.label == "Classify this rectangle").click().run()
    assert not at.error, [e.value for e in at.error]
    assert at.session_state[MAP_RESULT].bbox == pytest.approx(BBOX)


@pytest.mark.parametrize(
    ("bbox", "message"),
    [
        ((13.0, 52.0, 13.1, 52.1), "outside the scene"),
        ((12.60, 52.49, 12.605, 52.493), "too small"),
    ],
)
def test_bad_rectangles_show_one_clear_error(data_dir, bbox, message):
    at = draw(open_map_page(), bbox)
    assert len(at.error) == 1 and message in at.error[0].value
    assert at.session_state[MAP_RESULT] is None


def test_scene_without_georeference_is_an_error_not_a_traceback(tmp_path, monkeypatch, runs_dir):  # noqa: ARG001
    from tests.rasters import write_tif

    d = tmp_path / "data"
    d.mkdir()
    write_tif(d / "sentinel2_scene.tif", np.zeros((3, 128, 128), np.uint8), crs=None, transform=None)
    monkeypatch.setenv("EUROSAT_DATA_DIR", str(d))
    at = open_map_page()
    assert len(at.error) == 1 and "no georeferencing" in at.error[0].value
