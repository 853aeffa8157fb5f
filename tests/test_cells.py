"""Finer maps: the cell grid maths (eurosat.cells), blending, rectangles cutting cells, the same map
from every path at each stride, and the GIS outputs (COG, probability raster, QGIS style, STAC item)."""

from __future__ import annotations

import json
from xml.etree import ElementTree as ET

import numpy as np
import pytest
import rasterio
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st

from eurosat import cells, classify, exports, scaleout
from eurosat.cells import CellBlend, Span
from eurosat.classes import CLASS_COLORS, CLASS_NAMES, hex_to_rgb
from eurosat.errors import GeoError
from eurosat.geo import BandSpec, open_raster
from eurosat.inference import TFLiteClassifier
from eurosat.registry import shipped_model
from eurosat.tiling import classify_area, classify_scene, footprints_lonlat, inside_bbox, select_area
from tests.rasters import SCENE_TRANSFORM, FakeClassifier, scene_like, write_tif

# ---------------------------------------------------------------- grid maths


def test_strides_and_shapes():
    assert [cells.windows_per_cell(s) for s in (64, 32, 16)] == [1, 2, 4]
    with pytest.raises(GeoError, match="64, 32, 16"):
        cells.check_stride(24)
    assert cells.cell_grid_shape(768, 1536, 32) == (24, 48)
    assert cells.window_grid_shape(768, 1536, 32) == (23, 47)
    assert cells.window_grid_shape(100, 70, 16) == (3, 1)  # starts 0, 16, 32 (32 + 64 <= 100)
    assert cells.cell_grid_shape(63, 500, 16) == (0, 0)  # no whole window: no cell


@settings(max_examples=80, deadline=None)
@given(h=st.integers(64, 400), w=st.integers(64, 400), stride=st.sampled_from([64, 32, 16]))
def test_every_cell_is_covered_by_the_windows_that_contain_it(h, w, stride):
    n_cells = cells.cell_grid_shape(h, w, stride)
    n_win = cells.window_grid_shape(h, w, stride)
    k = cells.windows_per_cell(stride)
    win = cells.windows_covering(Span(0, n_cells[0], 0, n_cells[1]), stride, n_win)
    assert (win.r0, win.c0, win.r1, win.c1) == (0, 0, *n_win)
    blend = CellBlend(cells.cells_of_windows(win, stride), stride)
    rr, cc = np.meshgrid(np.arange(n_win[0]), np.arange(n_win[1]), indexing="ij")
    blend.add(rr.ravel(), cc.ravel(), np.full((rr.size, 10), 0.1), np.ones(rr.size))
    count = blend.windows_per_cell[: n_cells[0], : n_cells[1]]
    assert count.min() >= 1 and count.max() <= k * k  # every whole cell is covered, by at most k² windows
    # brute force: window (i, j) covers pixel rows s·i .. s·i + 63, so cell R is in windows R-k+1 .. R
    for r in {0, n_cells[0] // 2, n_cells[0] - 1}:
        expect = sum(1 for i in range(n_win[0]) if i * stride <= r * stride < i * stride + 64)
        assert count[r, 0] == expect * sum(1 for j in range(n_win[1]) if j * stride <= 0 < j * stride + 64)
    # the cells the windows reach end with the last whole cell
    assert blend.cells.r1 == n_cells[0] and blend.cells.c1 == n_cells[1]


def test_centre_weights_and_window_means():
    np.testing.assert_array_equal(cells.centre_weights(4, True)[0], [1, 2, 2, 1])
    np.testing.assert_array_equal(cells.centre_weights(4, False), np.ones((4, 4)))
    np.testing.assert_array_equal(cells.centre_weights(2, True), np.ones((2, 2)))
    v = np.arange(30, dtype=float).reshape(5, 6)
    got = cells.window_means(v, 2)
    want = np.array([[v[i:i + 2, j:j + 2].mean() for j in range(5)] for i in range(4)])
    np.testing.assert_allclose(got, want)


def test_blend_weights_windows_by_clear_share():
    blend = CellBlend(Span(0, 3, 0, 3), 32)  # k = 2
    a, b = np.eye(10)[[0]], np.eye(10)[[1]]
    blend.add(np.array([0]), np.array([0]), a, np.array([1.0]))  # clear window: cells (0..1, 0..1)
    blend.add(np.array([1]), np.array([1]), b, np.array([0.0]))  # all-cloud window: cells (1..2, 1..2)
    p = blend.probabilities()
    assert p[0, 0].argmax() == 0 and p[2, 2].argmax() == 1  # only one window each: its answer
    assert p[1, 1, 0] > 0.99  # shared cell: the clear window's answer outweighs the cloudy one
    assert np.allclose(p[0, 2], 0)  # no window: zeros (such cells are never in a result)


# ---------------------------------------------------------------- classification at a stride


class WaterShare:
    """Fake model: P(SeaLake) is the share of blue pixels in the window, the rest Forest."""

    def predict(self, tiles):
        blue = (np.asarray(tiles)[..., 2] > 150).mean(axis=(1, 2))
        out = np.zeros((len(tiles), 10), np.float32)
        out[:, CLASS_NAMES.index("SeaLake")] = blue
        out[:, CLASS_NAMES.index("Forest")] = 1 - blue
        return out


def _half_water(path, boundary_px=200, h=256, w=448):
    img = np.zeros((3, h, w), np.uint8)
    img[1] = 90  # forest green
    img[:, :, boundary_px:] = np.array([30, 60, 200], np.uint8)[:, None, None]  # water east of the boundary
    return write_tif(path, img)


@pytest.mark.parametrize("stride", [64, 32, 16])
def test_half_water_half_forest_boundary(tmp_path, stride):
    scene = _half_water(tmp_path / "half.tif")
    r = classify_scene(scene, WaterShare(), tests=None, stride=stride)
    grid = r.class_grid()
    assert grid.shape == (256 // stride, 448 // stride) and r.cell == stride
    water_cols = np.flatnonzero((grid == CLASS_NAMES.index("SeaLake")).all(axis=0))
    edge = water_cols.min() * stride  # west edge of the first all-water column of cells, px
    assert abs(edge - 200) <= stride  # within one cell of the truth
    assert (np.flatnonzero((grid == CLASS_NAMES.index("Forest")).all(axis=0)).max() + 1) * stride <= edge
    if stride == 16:
        assert abs(edge - 200) <= 16 and r.tile_label(0).startswith("cell r0 c0")
    # the grid transform: cell × cell pixels from the scene's origin
    assert r.grid_transform() == SCENE_TRANSFORM * Affine.scale(stride)
    assert r.provenance["stride_px"] == stride


def test_kept_tiles_are_each_cells_central_window(tmp_path):
    scene = scene_like(tmp_path / "s.tif")
    r = classify_scene(scene, FakeClassifier(), stride=16)
    with rasterio.open(scene) as src:
        img = np.moveaxis(src.read(), 0, -1)
    for i in (0, 100, len(r.rows) - 1):
        row, col = int(r.rows[i]), int(r.cols[i])
        wr = min(max(row - 2, 0), (768 - 64) // 16)
        wc = min(max(col - 2, 0), (1536 - 64) // 16)
        np.testing.assert_array_equal(r.tiles[i], img[wr * 16:wr * 16 + 64, wc * 16:wc * 16 + 64])


def test_stride_64_is_the_tile_map(tmp_path):
    scene = scene_like(tmp_path / "s.tif")
    a = classify_scene(scene, FakeClassifier())
    b = classify_scene(scene, FakeClassifier(), stride=64, strip_rows=1)
    np.testing.assert_array_equal(a.probs, b.probs)
    assert a.unit == "tile" and a.tile_label(0).startswith("tile r0 c0")


@pytest.mark.parametrize("stride", [32, 16])
def test_rectangle_cut_to_the_cell(tmp_path, stride):
    scene = scene_like(tmp_path / "s.tif")
    bbox = (12.55, 52.47, 12.60, 52.50)
    with open_raster(scene) as src:
        rows, cols = select_area(src, bbox, stride=stride)
        # brute force: every cell of the scene whose footprint is inside, none other
        rr, cc = np.meshgrid(np.arange(768 // stride), np.arange(1536 // stride), indexing="ij")
        inside = inside_bbox(footprints_lonlat(src.transform, src.crs, rr.ravel(), cc.ravel(), stride), bbox)
        assert set(zip(rows.tolist(), cols.tolist(), strict=True)) == set(
            zip(rr.ravel()[inside].tolist(), cc.ravel()[inside].tolist(), strict=True))
        tiles64 = len(select_area(src, bbox)[0])
    assert len(rows) * stride**2 > tiles64 * 64**2  # finer cells cover more of the rectangle
    r = classify_area(scene, bbox, FakeClassifier(), stride=stride)
    assert np.all(inside_bbox(r.footprints, bbox)) and r.n_tiles == len(rows)
    assert r.total_area_km2 == pytest.approx(len(rows) * (stride * 10 / 1000) ** 2, rel=1e-3)


def test_window_limit_counts_windows(tmp_path):
    scene = scene_like(tmp_path / "s.tif")
    with open_raster(scene) as src, pytest.raises(GeoError, match="coarser stride"):
        select_area(src, (12.50, 52.46, 12.72, 52.52), max_tiles=1000, stride=16)
    with pytest.raises(GeoError, match="at stride 16"):
        classify_scene(scene, FakeClassifier(), max_tiles=4000, stride=16)


# ---------------------------------------------------------------- one map from every path


@pytest.mark.parametrize("stride", [64, 32, 16])
def test_strips_and_tasks_give_the_whole_scene_map(tmp_path, stride):
    """Dask tasks (any cut of cell rows) and any reading strip height give the single-process map."""
    scene = scene_like(tmp_path / "s.tif")
    model = shipped_model().tflite
    whole = classify_scene(scene, TFLiteClassifier(model), keep_tiles=False, stride=stride)
    n = 768 // stride
    cuts = [(0, 5), (5, 6), (6, n)]
    parts = [scaleout.classify_strip(scene, r0, r1, BandSpec(), model.read_bytes(), stride=stride)
             for r0, r1 in cuts]
    merged = scaleout.merge_results(parts)
    np.testing.assert_array_equal(merged.probs, whole.probs)
    np.testing.assert_array_equal(merged.codes, whole.codes)
    assert merged.cell == stride


@pytest.mark.parametrize("stride", [32, 16])
def test_page_path_and_cli_give_the_same_map(tmp_path, runs_dir, stride):  # noqa: ARG001
    from eurosat.ui.map_helpers import classify as page_classify

    scene = scene_like(tmp_path / "s.tif")
    bbox = (12.55, 52.47, 12.65, 52.50)
    page = page_classify(scene, ("area", bbox), BandSpec(), stride=stride)
    out = tmp_path / "cli.tif"
    assert classify.main([str(scene), "--bbox", *map(str, bbox), "--out", str(out), "--stride", str(stride),
                          "--quiet"]) == 0
    with rasterio.open(out) as ds:
        np.testing.assert_array_equal(ds.read(1), page.class_grid())
        assert ds.transform == page.grid_transform()


# ---------------------------------------------------------------- GIS outputs


@pytest.fixture(scope="module")
def fine(tmp_path_factory):
    """Stride 16 over a 2,048-px scene: an 128 × 128 cell grid (large enough for overviews)."""
    d = tmp_path_factory.mktemp("fine")
    img = np.kron(4 + 20 * (np.arange(64).reshape(8, 8) % 10), np.ones((256, 256), np.int64)).astype(np.uint8)
    scene = write_tif(d / "big.tif", np.stack([img, img, img]))
    return classify_scene(scene, FakeClassifier(), keep_tiles=False, stride=16), d


def test_class_map_is_a_valid_cog(fine):
    result, d = fine
    path = exports.write_geotiff(result, d / "classes.tif")
    with rasterio.open(path) as ds:
        assert ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"  # GDAL's COG layout marker
        assert ds.profile["tiled"] and ds.block_shapes[0] == (exports.COG_BLOCK, exports.COG_BLOCK)
        assert ds.overviews(1) == [2, 4]  # 128 -> 64 -> 32
        assert ds.nodata == 255 and ds.colormap(1)[9][:3] == hex_to_rgb(CLASS_COLORS["SeaLake"])
        np.testing.assert_array_equal(ds.read(1), result.class_grid())
        assert ds.tags()["CELL_SIZE_PX"] == "16" and ds.res == (160.0, 160.0)
        over = ds.read(1, out_shape=(32, 32))  # the coarsest overview: mode, so real codes only
    assert set(np.unique(over)) <= set(np.unique(result.class_grid()))
    assert exports.geotiff_bytes(result)[:4] in (b"II*\x00", b"MM\x00*")


def test_probability_raster_bands_sum_to_255(fine):
    result, d = fine
    path = exports.write_probabilities(result, d / "probs.tif")
    with rasterio.open(path) as ds:
        assert ds.count == 10 and ds.descriptions == tuple(CLASS_NAMES) and ds.dtypes[0] == "uint8"
        data = ds.read().astype(int)
        assert ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
    assert (data.sum(axis=0) == 255).all()
    r0, _, c0, _ = result.grid_bounds()
    np.testing.assert_array_equal(data.argmax(axis=0)[result.rows - r0, result.cols - c0], result.labels)


def test_probabilities_uint8_largest_remainder():
    p = np.array([[1 / 3, 1 / 3, 1 / 3, 0, 0, 0, 0, 0, 0, 0], [0.5, 0.5, 0, 0, 0, 0, 0, 0, 0, 0]])
    q = exports.probabilities_uint8(p)
    assert q.sum(axis=1).tolist() == [255, 255] and q[0, :3].tolist() == [85, 85, 85]
    assert sorted(q[1, :2].tolist()) == [127, 128]


def test_qml_style_parses_with_every_code(tmp_path):
    path = exports.write_qml(tmp_path / "classes.tif")
    assert path.name == "classes.qml"
    root = ET.parse(path).getroot()
    entries = root.findall(".//rasterrenderer[@type='paletted']/colorPalette/paletteEntry")
    assert len(entries) >= 10
    labels = {int(e.get("value")): e.get("label") for e in entries}
    assert labels[9] == "SeaLake" and labels[253].startswith("Cloud") and labels[254] == "Uncertain"
    assert all(e.get("color").startswith("#") and len(e.get("color")) == 7 for e in entries)


def test_stac_item_validates_and_describes_the_outputs(fine):
    import pystac
    from pystac.extensions.classification import ClassificationExtension
    from pystac.extensions.mlm import MLMExtension
    from pystac.validation import validate_dict

    from eurosat.stac_item import build_item, write_item

    result, d = fine
    classes = exports.write_geotiff(result, d / "c.tif")
    probs = exports.write_probabilities(result, d / "p.tif")
    item = build_item(result, d / "item.json", classes, probs, style=exports.write_qml(classes))
    item_path = write_item(item, d / "item.json")
    data = json.loads(item_path.read_text())
    # the core Item schema ships with pystac (the extension schemas would need the network)
    validate_dict(data, extensions=[])
    item = pystac.Item.from_file(str(item_path))
    assert item.assets["classes"].href == "c.tif" and item.assets["probabilities"].href == "p.tif"
    assert item.assets["classes"].media_type == pystac.MediaType.COG
    got = ClassificationExtension.ext(item.assets["classes"]).classes
    assert [c.value for c in got][:10] == list(range(10)) and got[9].name == "SeaLake"
    assert any(c.value == 255 and c.nodata for c in got)
    mlm = MLMExtension.ext(item)
    assert mlm.tasks == ["classification"] and mlm.input[0].input.shape == [-1, 64, 64, 3]
    assert [c.name for c in mlm.output[0].classes] == list(CLASS_NAMES)
    assert item.properties["proj:code"] == "EPSG:32633" and item.properties["eurosat:cell_size_px"] == 16
    w, s, e, n = item.bbox
    assert w < e and s < n


def test_cli_writes_every_gis_output(tmp_path, runs_dir, capsys):  # noqa: ARG001
    scene = scene_like(tmp_path / "s.tif")
    out = tmp_path / "o"
    argv = [str(scene), "--out", str(out / "classes.tif"), "--stride", "32",
            "--probs", str(out / "probs.tif"), "--stac-item", str(out / "item.json"),
            "--geojson", str(out / "c.geojson"), "--csv", str(out / "c.csv"),
            "--quiet", "--model", str(shipped_model().tflite)]
    assert classify.main(argv) == 0
    printed = capsys.readouterr().out
    assert "cells of 32 px" in printed and "classes.qml" in printed
    for name in ("classes.tif", "classes.qml", "probs.tif", "item.json", "c.geojson", "c.csv"):
        assert (out / name).stat().st_size > 0, name
    features = json.loads((out / "c.geojson").read_text())["features"]
    with rasterio.open(out / "classes.tif") as ds:
        assert len(features) == ds.width * ds.height == 24 * 48
