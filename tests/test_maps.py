"""eurosat.maps and eurosat.charts: offline Leaflet assets, map layers, drawn-rectangle parsing, chart."""

from __future__ import annotations

import base64
from io import BytesIO

import folium
import numpy as np
import pytest
from PIL import Image

from eurosat import charts, maps
from eurosat.tiling import classify_area
from tests.rasters import SCENE_LONLAT, FakeClassifier, scene_like

BBOX = (12.55, 52.47, 12.65, 52.51)


@pytest.fixture(scope="module")
def area(tmp_path_factory):
    return classify_area(scene_like(tmp_path_factory.mktemp("s") / "scene.tif"), BBOX, FakeClassifier())


def _links(element) -> list[str]:
    """Every JS/CSS link streamlit-folium would make the browser load (its own walk)."""
    out = []
    for e in maps._walk(element):
        out += [url for _, url in getattr(e, "default_js", []) + getattr(e, "default_css", [])]
    return out


def test_scene_map_needs_no_network():
    m = maps.scene_map("data:image/webp;base64,AA", SCENE_LONLAT, "Contains modified Copernicus data")
    links = _links(m)
    assert links and all(u.startswith("data:") for u in links)
    html = m.get_root().render()
    assert 'src="http' not in html and 'href="http' not in html
    assert "L.Control.Draw" in html and '"rectangle"' in html and '"polygon": false' in html
    assert "Contains modified Copernicus data" in html
    assert "tile.openstreetmap" not in html  # no online base map unless asked


def test_online_base_map_is_optional():
    html = maps.scene_map("data:image/png;base64,AA", SCENE_LONLAT, "x", basemap=True).get_root().render()
    assert "tile.openstreetmap.org" in html


def test_offline_assets_inline_their_images():
    assets = maps.offline_assets()
    css = base64.b64decode(assets["draw_css"].split(",", 1)[1]).decode()
    assert "url('data:image/svg+xml;base64," in css and "images/spritesheet" not in css
    assert len(assets["leaflet_js"]) > 100_000


def test_result_layer_has_one_polygon_per_tile_tooltips_and_legend(area):
    layer = maps.result_layer(area)
    fc = maps.class_features(area)
    assert len(fc["features"]) == area.n_tiles
    assert {f["properties"]["class"] for f in fc["features"]} == set(area.summary()["class"])
    m = folium.Map(tiles=None)
    layer.add_to(m)
    html = m.get_root().render()
    assert "bindTooltip" in html and "Calibrated probability" in html and "eurosat-legend" in html


@pytest.mark.parametrize(
    ("feature", "expected"),
    [
        ({"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [
            [[12.5, 52.4], [12.5, 52.5], [12.6, 52.5], [12.6, 52.4], [12.5, 52.4]]]}},
         (12.5, 52.4, 12.6, 52.5)),
        ({"type": "Polygon", "coordinates": [[[1, 2], [3, 2], [3, 4], [1, 2]]]}, (1, 2, 3, 4)),
        (None, None),
        ({"type": "Feature", "geometry": {"type": "Point", "coordinates": [1, 2]}}, None),
        ({"type": "Feature", "geometry": {"type": "Polygon", "coordinates": []}}, None),
    ],
)
def test_bbox_from_geojson(feature, expected):
    assert maps.bbox_from_geojson(feature) == expected


def test_image_data_url_round_trips():
    rgba = np.zeros((20, 30, 4), np.uint8)
    rgba[5:15, 5:25] = (200, 100, 50, 255)
    url = maps.image_data_url(rgba)
    img = Image.open(BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert img.size == (30, 20) and img.mode in ("RGBA", "RGB")
    assert np.asarray(img.convert("RGBA"))[0, 0, 3] == 0  # transparency kept outside the scene


def test_class_distribution_figure(area):
    fig = charts.class_distribution_figure(area.summary())
    bar = fig.data[0]
    assert list(bar.y)[::-1] == list(area.summary()["class"])  # largest at the top
    assert sum(bar.x) == pytest.approx(100.0)
    assert all("km²" in t for t in bar.text)
