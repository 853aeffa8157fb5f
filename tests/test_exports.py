"""eurosat.exports: class-map GeoTIFF (CRS, transform, values, colour table, nodata), GeoJSON, CSV."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
import rasterio
from rasterio.io import MemoryFile

from eurosat import exports
from eurosat.classes import CLASS_COLORS, CLASS_NAMES, hex_to_rgb
from eurosat.tiling import classify_area, classify_scene
from tests.rasters import FakeClassifier, expected_class, scene_like

BBOX = (12.50, 52.465, 12.72, 52.515)  # wide enough that the rotated grid leaves ragged edges


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    return scene_like(tmp_path_factory.mktemp("scene") / "scene.tif")


@pytest.fixture(scope="module")
def area(scene):
    return classify_area(scene, BBOX, FakeClassifier())


def _check_class_map(ds, result):
    assert ds.crs.to_epsg() == 32633
    assert ds.count == 1 and ds.dtypes[0] == "uint8" and ds.nodata == 255
    r0, r1, c0, c1 = result.grid_bounds()
    assert (ds.height, ds.width) == (r1 - r0, c1 - c0)
    assert tuple(ds.transform)[:6] == (640.0, 0.0, 330000.0 + 640 * c0, 0.0, -640.0, 5822040.0 - 640 * r0)
    grid = ds.read(1)
    np.testing.assert_array_equal(grid[result.rows - r0, result.cols - c0], result.labels)
    np.testing.assert_array_equal(grid[result.rows - r0, result.cols - c0],
                                  expected_class(result.rows, result.cols, 24))
    assert (grid == 255).sum() == grid.size - result.n_tiles
    cmap = ds.colormap(1)
    for i, name in enumerate(CLASS_NAMES):
        assert cmap[i][:3] == hex_to_rgb(CLASS_COLORS[name])
    assert ds.tags()["CLASS_9"] == "SeaLake"
    # each cell's centre is the centre of its tile in the scene grid
    x, y = ds.xy(int(result.rows[0] - r0), int(result.cols[0] - c0))
    assert (x, y) == (330000 + 640 * result.cols[0] + 320, 5822040 - 640 * result.rows[0] - 320)


def test_geotiff_bytes(area):
    data = exports.geotiff_bytes(area)
    with MemoryFile(data) as mem, mem.open() as ds:
        _check_class_map(ds, area)
    assert (area.class_grid() == 255).any()  # the drawn area does not fill its tile-grid box


def test_geotiff_file_whole_scene(scene, tmp_path):
    result = classify_scene(scene, FakeClassifier(), keep_tiles=False)
    path = exports.write_geotiff(result, tmp_path / "classes.tif")
    with rasterio.open(path) as ds:
        _check_class_map(ds, result)
        assert (ds.width, ds.height) == (24, 12) and ds.bounds == (330000, 5814360, 345360, 5822040)


def test_geojson(area, tmp_path):
    doc = json.loads(exports.geojson_bytes(area))
    assert doc["type"] == "FeatureCollection" and len(doc["features"]) == area.n_tiles
    w, s, e, n = BBOX
    for feature in doc["features"]:
        assert feature["type"] == "Feature" and feature["geometry"]["type"] == "Polygon"
        ring = np.asarray(feature["geometry"]["coordinates"][0])
        assert ring.shape == (5, 2) and (ring[0] == ring[-1]).all()
        assert (ring[:, 0] >= w).all() and (ring[:, 0] <= e).all()  # lon/lat inside the drawn rectangle
        assert (ring[:, 1] >= s).all() and (ring[:, 1] <= n).all()
        x, y = ring[:, 0], ring[:, 1]
        assert np.sum(x[:-1] * y[1:] - x[1:] * y[:-1]) > 0  # RFC 7946: exterior ring counter-clockwise
        props = feature["properties"]
        assert props["class"] in CLASS_NAMES and props["class"] == CLASS_NAMES[props["class_index"]]
        probs = [props[f"p_{c}"] for c in CLASS_NAMES]
        assert sum(probs) == pytest.approx(1.0, abs=1e-3)
        assert props["confidence"] == pytest.approx(max(probs))
    path = exports.write_geojson(area, tmp_path / "tiles.geojson")
    assert path.read_bytes() == exports.geojson_bytes(area)


def test_csv(area, tmp_path):
    df = pd.read_csv(io.BytesIO(exports.csv_bytes(area)))
    assert list(df.columns) == list(exports.CSV_COLUMNS)
    assert len(df) == area.n_tiles
    np.testing.assert_array_equal(df["class_index"], area.labels)
    np.testing.assert_allclose(df[[f"p_{c}" for c in CLASS_NAMES]].to_numpy(), area.probs, atol=1e-5)
    np.testing.assert_allclose(df[["lon", "lat"]].to_numpy(), area.centers, atol=1e-6)
    path = exports.write_csv(area, tmp_path / "tiles.csv")
    assert path.read_bytes() == exports.csv_bytes(area)
