"""eurosat.tiling: tile grid and footprint maths on the scene's published grid, area selection,
strip-by-strip classification (with a deterministic fake model), and AreaResult."""

from __future__ import annotations

import re

import numpy as np
import pytest
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Transformer
from rasterio.windows import Window

from eurosat.classes import CLASS_NAMES
from eurosat.errors import GeoError
from eurosat.geo import BandSpec, inspect_scene, lonlat_bounds, open_raster
from eurosat.tiling import (
    AreaResult,
    classify_area,
    classify_scene,
    footprints_lonlat,
    grid_shape,
    inside_bbox,
    iter_strips,
    select_area,
    tile_corners,
    tiles_in_window,
)
from tests.rasters import (
    SCENE_CRS,
    SCENE_LONLAT,
    SCENE_TRANSFORM,
    FakeClassifier,
    expected_class,
    scene_like,
    tile_pattern,
    write_tif,
)

W, S, E, N = SCENE_LONLAT


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    return scene_like(tmp_path_factory.mktemp("scene") / "scene.tif")


# ---------------------------------------------------------------- grid maths


def test_published_scene_has_288_tiles_24_by_12():
    assert grid_shape(768, 1536) == (12, 24)


@pytest.mark.parametrize(
    ("window", "expected"),
    [
        (Window(0, 0, 1536, 768), (0, 12, 0, 24)),
        (Window(-50, -50, 5000, 5000), (0, 12, 0, 24)),  # clipped to the grid
        (Window(10, 10, 130, 70), (1, 1, 1, 2)),  # rows 10..80: no whole tile row
        (Window(64, 128, 192, 64), (2, 3, 1, 4)),  # exactly aligned
        (Window(63.9999999, 0, 64.0000002, 64), (0, 1, 1, 2)),  # float noise from reprojection
        (Window(65, 0, 126, 64), (0, 1, 2, 2)),  # 65..191: no whole tile column
    ],
)
def test_tiles_in_window(window, expected):
    assert tiles_in_window(window, 768, 1536) == expected


def test_tile_corners_on_published_transform():
    xs, ys = tile_corners(SCENE_TRANSFORM, np.array([3]), np.array([5]))
    # tile r3 c5: x 330000 + 5*640 .. +640, y 5822040 - 3*640 .. -640; corners ll, lr, ur, ul
    np.testing.assert_array_equal(xs[0], [333200, 333840, 333840, 333200])
    np.testing.assert_array_equal(ys[0], [5819480, 5819480, 5820120, 5820120])


def test_footprints_round_trip_to_utm():
    rows, cols = np.array([0, 11, 5]), np.array([0, 23, 12])
    fp = footprints_lonlat(SCENE_TRANSFORM, SCENE_CRS, rows, cols)
    assert fp.shape == (3, 4, 2)
    back = Transformer.from_crs("EPSG:4326", SCENE_CRS, always_xy=True)
    x, y = back.transform(fp[..., 0].ravel(), fp[..., 1].ravel())
    xs, ys = tile_corners(SCENE_TRANSFORM, rows, cols)
    np.testing.assert_allclose(x, xs.ravel(), atol=1e-4)
    np.testing.assert_allclose(y, ys.ravel(), atol=1e-4)
    # corners of the scene: first tile's ul and last tile's lr inside the published lon/lat box
    assert W - 1e-4 <= fp[0, 3, 0] <= W + 0.01 and N - 0.01 <= fp[0, 3, 1] <= N + 1e-4
    assert E - 0.01 <= fp[1, 1, 0] <= E + 1e-4 and S - 1e-4 <= fp[1, 1, 1] <= S + 0.01


def test_iter_strips_groups_tile_rows():
    rows = np.array([0, 0, 1, 3, 4, 4, 7, 8])
    groups = [rows[g].tolist() for g in iter_strips(rows, 4)]
    assert groups == [[0, 0, 1, 3], [4, 4, 7], [8]]


# ---------------------------------------------------------------- area selection


def test_scene_bounds_select_all_288_tiles(scene):
    # the published 4-decimal bounds, widened by their rounding (5e-5 degrees)
    padded = (W - 5e-5, S - 5e-5, E + 5e-5, N + 5e-5)
    with open_raster(scene) as src:
        rows, cols = select_area(src, padded)
        assert len(select_area(src, inspect_scene(scene).bounds_lonlat)[0]) == 288
    assert len(rows) == 288 and rows.max() == 11 and cols.max() == 23


def _all_footprints():
    rr, cc = np.meshgrid(np.arange(12), np.arange(24), indexing="ij")
    return rr.ravel(), cc.ravel(), footprints_lonlat(SCENE_TRANSFORM, SCENE_CRS, rr.ravel(), cc.ravel())


@settings(max_examples=25, deadline=None)
@given(
    fx=st.tuples(st.floats(0.0, 1.0), st.floats(0.0, 1.0)),
    fy=st.tuples(st.floats(0.0, 1.0), st.floats(0.0, 1.0)),
)
def test_selected_tiles_are_exactly_those_inside(scene, fx, fy):
    w, e = sorted(W - 0.01 + (E - W + 0.02) * f for f in fx)
    s, n = sorted(S - 0.01 + (N - S + 0.02) * f for f in fy)
    bbox = (w, s, e + 1e-6, n + 1e-6)
    rows, cols, fps = _all_footprints()
    inside = inside_bbox(fps, bbox)
    with open_raster(scene) as src:
        if not inside.any():
            with pytest.raises(GeoError):
                select_area(src, bbox)
            return
        sel_rows, sel_cols = select_area(src, bbox)
    # every selected tile is inside the rectangle, and no tile inside was left out
    selected = set(zip(sel_rows.tolist(), sel_cols.tolist(), strict=True))
    assert selected == set(zip(rows[inside].tolist(), cols[inside].tolist(), strict=True))


def test_rectangle_too_small_for_a_tile(scene):
    with open_raster(scene) as src, pytest.raises(GeoError, match="too small"):
        select_area(src, (12.60, 52.49, 12.605, 52.493))  # about 340 m × 330 m


def test_rectangle_over_the_tile_limit(scene):
    with open_raster(scene) as src, pytest.raises(GeoError, match="limit is 10 per area"):
        select_area(src, SCENE_LONLAT, max_tiles=10)


def test_rectangle_partly_outside_keeps_inside_tiles(scene):
    with open_raster(scene) as src:
        rows, cols = select_area(src, (W - 0.5, S - 0.5, W + 0.05, N + 0.5))
    assert set(cols.tolist()) <= set(range(5)) and len(set(rows.tolist())) == 12


# ---------------------------------------------------------------- classification


@pytest.mark.parametrize("strip_rows", [1, 4, 5])
def test_classify_scene_puts_every_class_at_its_tile(scene, strip_rows):
    clf = FakeClassifier()
    seen = []
    result = classify_scene(scene, clf, strip_rows=strip_rows, progress=lambda d, t: seen.append((d, t)))
    assert result.n_tiles == 288 and result.tiles.shape == (288, 64, 64, 3) and result.tiles.dtype == np.uint8
    assert result.probs.shape == (288, 10) and result.probs.dtype == np.float32
    np.testing.assert_array_equal(result.labels, expected_class(result.rows, result.cols, 24))
    # tiles hold the pixels of their own position (no transpose / order mix-up)
    expected = 4 + expected_class(result.rows, result.cols, 24) * 20
    np.testing.assert_array_equal(result.tiles[:, 0, 0, 0], expected)
    done = [d for d, _ in seen]
    assert seen[-1] == (288, 288) and done == sorted(set(done))
    assert result.bbox is None and result.spec == BandSpec()


def test_keep_tiles_false_keeps_only_probabilities(scene):
    a = classify_scene(scene, FakeClassifier(), keep_tiles=False)
    b = classify_scene(scene, FakeClassifier())
    assert a.tiles.shape == (0, 64, 64, 3)
    np.testing.assert_array_equal(a.probs, b.probs)


def test_classify_scene_refuses_above_limit(scene):
    with pytest.raises(GeoError, match="command line"):
        classify_scene(scene, FakeClassifier(), max_tiles=100)


def test_classify_area_on_16bit_four_band_file(tmp_path):
    pattern = tile_pattern(4, 6).astype(np.uint16)[0]  # uint8 values 0..180
    dn = (pattern.astype(np.float64) * 2750 / 255 + 1000).round().astype(np.uint16)  # with the offset
    data = np.stack([np.zeros_like(dn), dn, dn, dn])  # B8 first, then B2, B3, B4
    path = write_tif(tmp_path / "s2.tif", data, descriptions=("B8", "B2", "B3", "B4"),
                     tags={"PROCESSING_BASELINE": "04.00"}, blocksize=None)
    with open_raster(path) as src:
        bbox = lonlat_bounds(src)
    result = classify_area(path, bbox, FakeClassifier())
    assert result.spec == BandSpec((4, 3, 2), True)
    np.testing.assert_array_equal(result.labels, expected_class(result.rows, result.cols, 6))


def test_area_result_helpers(scene):
    bbox = (12.55, 52.47, 12.65, 52.51)
    result = classify_area(scene, bbox, FakeClassifier())
    assert result.bbox == bbox and np.all(inside_bbox(result.footprints, bbox))
    label = result.tile_label(0)
    assert re.fullmatch(r"tile r\d+ c\d+ \(52\.\d\d°N, 12\.\d\d°E\)", label), label
    summary = result.summary()
    assert summary["tiles"].sum() == result.n_tiles
    assert summary["share"].sum() == pytest.approx(1.0)
    assert summary["area_km2"].sum() == pytest.approx(result.total_area_km2)
    assert result.areas_km2 == pytest.approx(0.4096, rel=0.002)  # 640 m × 640 m, UTM scale ~0.9996
    assert result.dominant_class == summary["class"].iloc[0] and result.dominant_class in CLASS_NAMES
    grid = result.class_grid()
    r0, r1, c0, c1 = result.grid_bounds()
    assert grid.shape == (r1 - r0, c1 - c0) and (grid != 255).sum() == result.n_tiles
    assert result.grid_transform() == Affine(640, 0, 330000 + c0 * 640, 0, -640, 5822040 - r0 * 640)


def test_area_result_is_a_plain_dataclass_for_other_pages():
    probs = np.eye(10, dtype=np.float32)[[1, 1, 9]]
    fp = footprints_lonlat(SCENE_TRANSFORM, SCENE_CRS, np.array([0, 0, 1]), np.array([0, 1, 0]))
    r = AreaResult(tiles=np.zeros((3, 64, 64, 3), np.uint8), probs=probs, rows=np.array([0, 0, 1]),
                   cols=np.array([0, 1, 0]), footprints=fp, areas_km2=np.full(3, 0.4096), crs_wkt="",
                   transform=tuple(SCENE_TRANSFORM)[:6], scene_path="x.tif")
    assert r.labels.tolist() == [1, 1, 9] and r.dominant_class == "Forest"
    assert r.tile_label(2).startswith("tile r1 c0 (")


@pytest.mark.slow
def test_real_scene_with_the_shipped_model(scene_path, runs_dir):  # noqa: ARG001
    from eurosat.inference import TFLiteClassifier
    from eurosat.registry import active_model

    result = classify_scene(scene_path, TFLiteClassifier(active_model().tflite))
    assert result.n_tiles == 288 and result.class_grid().shape == (12, 24)
    np.testing.assert_allclose(result.probs.sum(axis=1), 1.0, atol=1e-3)
    np.testing.assert_allclose(result.footprints[..., 0].min(), W, atol=1e-3)
    np.testing.assert_allclose(result.footprints[..., 1].max(), N, atol=1e-3)
