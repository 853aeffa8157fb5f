"""AppTest of the Map page's STAC source against the offline STAC API on 127.0.0.1 (tests/stac_server.py).

The page runs its real path: sidebar settings -> drawn rectangle -> search -> windowed COG reads
-> cached GeoTIFF -> tiles -> LiteRT model -> result, with item id, date, cloud cover and attribution.
"""

from __future__ import annotations

import datetime as dt

import pytest
from streamlit.testing.v1 import AppTest

from eurosat import config
from eurosat.sources import Imagery
from eurosat.tiling import AreaResult
from eurosat.ui import map_helpers as mh
from eurosat.ui.state import MAP_IMAGERY, MAP_RESULT
from tests.app.test_map_page import draw
from tests.stac_server import EAST, WEST, StacServer, build_catalogue, closed_port_url

ACROSS = (12.55, 52.47, 12.65, 52.51)


@pytest.fixture(scope="module")
def server(tmp_path_factory, scene_path):
    with StacServer(build_catalogue(tmp_path_factory.mktemp("stac_cogs"), scene_path)) as srv:
        yield srv


@pytest.fixture
def stac_cache(tmp_path, monkeypatch, runs_dir):  # noqa: ARG001
    monkeypatch.setenv("EUROSAT_STAC_CACHE", str(tmp_path / "stac_cache"))
    return tmp_path / "stac_cache"


def open_stac_page(url: str, max_cloud: int = 50) -> AppTest:
    at = AppTest.from_file(str(config.REPO_ROOT / "streamlit_app.py"), default_timeout=60)
    at.run()
    at.switch_page("pages/map.py")
    at.run()
    at.radio(key="map_w_source").set_value(mh.SOURCE_STAC).run()
    at.selectbox(key="map_w_stac_catalogue").set_value(mh.OTHER_CATALOGUE).run()
    next(t for t in at.text_input if t.label == "Catalogue URL").set_value(url)
    next(t for t in at.text_input if t.label.startswith("Collections")).set_value("s2-l1c")
    at.date_input(key="map_w_stac_dates").set_value((dt.date(2017, 1, 1), dt.date(2023, 12, 31)))
    at.slider(key="map_w_stac_cloud").set_value(max_cloud)
    at.run()
    assert not at.exception, at.exception
    return at


def test_stac_source_fetches_and_classifies_the_drawn_rectangle(server, stac_cache):
    at = open_stac_page(server.url)
    assert not at.error and any("least cloudy Sentinel-2 item" in i.value for i in at.info)
    draw(at, ACROSS)
    assert not at.error, [e.value for e in at.error]
    imagery, result = at.session_state[MAP_IMAGERY], at.session_state[MAP_RESULT]
    assert isinstance(imagery, Imagery) and isinstance(result, AreaResult)
    # the default cell size is 32 px: the 60 whole tiles of the rectangle and its edge cells
    assert result.bbox == ACROSS and result.cell == 32 and result.n_tiles >= 4 * 60
    assert result.scene_path == str(imagery.path)
    assert imagery.path.parent == stac_cache
    captions = " | ".join(c.value for c in at.caption)
    for text in (EAST, WEST, "2023-06-01", "cloud 5.0 %", "2017-02-16", "cloud 12.0 %",
                 "Contains modified Copernicus Sentinel data 2017, 2023"):
        assert text in captions, text
    assert at.metric[0].label == "Dominant class (drawn area)"
    # an unrelated rerun keeps the result and fetches nothing
    n = len(server.log)
    at.run()
    assert at.session_state[MAP_RESULT] is result and len(server.log) == n


@pytest.mark.parametrize(
    ("url", "max_cloud", "message"),
    [
        (None, 1, "cloudier than 1 %"),
        ("closed", 50, "cannot be reached"),
    ],
)
def test_stac_failures_are_one_clear_error(server, stac_cache, url, max_cloud, message):  # noqa: ARG001
    at = draw(open_stac_page(server.url if url is None else closed_port_url(), max_cloud), ACROSS)
    assert len(at.error) == 1 and message in at.error[0].value
    assert at.session_state[MAP_RESULT] is None and at.session_state[MAP_IMAGERY] is None
