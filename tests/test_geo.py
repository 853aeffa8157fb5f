"""eurosat.geo: validation, lon/lat geometry against the scene's published grid, radiometry, bands."""

from __future__ import annotations

import numpy as np
import pytest
from affine import Affine
from pyproj import Transformer
from rasterio.windows import Window

from eurosat.errors import GeoError
from eurosat.geo import (
    BandSpec,
    bbox_window,
    chw_to_hwc,
    default_rgb_bands,
    inspect_scene,
    open_raster,
    overlay_rgba,
    read_rgb,
    to_eurosat_scale,
)
from tests.rasters import SCENE_LONLAT, SCENE_SHAPE, SCENE_TRANSFORM, scene_like, write_tif


@pytest.fixture
def scene(tmp_path):
    return scene_like(tmp_path / "scene.tif")


# ---------------------------------------------------------------- the published grid


def test_inspect_matches_published_scene_facts(scene):
    info = inspect_scene(scene)
    assert (info.height, info.width) == SCENE_SHAPE
    assert info.crs_name == "EPSG:32633"
    assert Affine(*info.transform) == SCENE_TRANSFORM
    np.testing.assert_allclose(info.bounds_lonlat, SCENE_LONLAT, atol=1e-4)
    assert info.pixel_size_m == pytest.approx(10.0, abs=0.01)
    assert info.pixel_size_ok
    assert info.default_bands == (1, 2, 3) and not info.is_dn


def test_window_of_scene_bounds_is_whole_raster(scene):
    with open_raster(scene) as src:
        info = inspect_scene(scene)
        win = bbox_window(src, info.bounds_lonlat)
    assert (win.col_off, win.row_off, win.width, win.height) == (0, 0, 1536, 768)


def test_window_of_small_rectangle_reprojects_to_utm(scene):
    # A rectangle whose corners are known UTM points: the window must be their envelope in pixels.
    to_ll = Transformer.from_crs("EPSG:32633", "EPSG:4326", always_xy=True)
    (w, e), (s, n) = to_ll.transform([335000, 338000], [5816000, 5819000])
    with open_raster(scene) as src:
        win = bbox_window(src, (min(w, e), min(s, n), max(w, e), max(s, n)))
    # x 335000 -> col 500, y 5819000 -> row 304; the lon/lat box is a little larger than the UTM square
    assert 490 <= win.col_off <= 500 + 1e-6 and 285 <= win.row_off <= 304 + 1e-6
    assert 300 <= win.width <= 320 and 300 <= win.height <= 320


def test_bbox_outside_scene_is_a_clear_error(scene):
    with open_raster(scene) as src, pytest.raises(GeoError, match="outside the scene"):
        bbox_window(src, (13.0, 52.0, 13.1, 52.1))


def test_invalid_bbox_is_a_clear_error(scene):
    with open_raster(scene) as src, pytest.raises(GeoError, match="west < east"):
        bbox_window(src, (12.6, 52.5, 12.5, 52.6))


# ---------------------------------------------------------------- validation


def test_no_crs_is_rejected(tmp_path):
    path = write_tif(tmp_path / "plain.tif", np.zeros((3, 64, 64), np.uint8), crs=None, transform=None)
    with pytest.raises(GeoError, match="no georeferencing"):
        inspect_scene(path)


def test_one_band_is_rejected(tmp_path):
    path = write_tif(tmp_path / "gray.tif", np.zeros((1, 64, 64), np.uint8))
    with pytest.raises(GeoError, match="has 1 band;"):
        inspect_scene(path)


def test_float_data_is_rejected(tmp_path):
    path = write_tif(tmp_path / "refl.tif", np.zeros((3, 64, 64), np.float32))
    with pytest.raises(GeoError, match="float32"):
        inspect_scene(path)


def test_not_a_tiff_and_missing_file(tmp_path):
    bad = tmp_path / "bad.tif"
    bad.write_text("not an image")
    with pytest.raises(GeoError, match="cannot be read as a GeoTIFF"):
        inspect_scene(bad)
    with pytest.raises(GeoError, match="not found"):
        inspect_scene(tmp_path / "missing.tif")


# ---------------------------------------------------------------- radiometry


def test_uint8_passes_as_is(rng):
    x = rng.integers(0, 256, (3, 8, 8), dtype=np.uint8)
    np.testing.assert_array_equal(to_eurosat_scale(x), x)


def test_uint16_dn_scaled_to_eurosat():
    dn = np.array([0, 1375, 2750, 5000, 65535], dtype=np.uint16)
    np.testing.assert_array_equal(to_eurosat_scale(dn), [0, 128, 255, 255, 255])  # 127.5 rounds to 128
    np.testing.assert_array_equal(to_eurosat_scale(np.array([530], np.uint16)), [49])  # round(49.15)


def test_uint16_offset_removed_before_scaling():
    dn = np.array([500, 1000, 2375, 3750], dtype=np.uint16)
    np.testing.assert_array_equal(to_eurosat_scale(dn, offset=True), [0, 0, 128, 255])


def test_16bit_file_with_declared_offset(tmp_path):
    data = np.stack([np.full((64, 64), v, np.uint16) for v in (3750, 2375, 1000)])
    path = write_tif(tmp_path / "l2a.tif", data, band_tags={1: {"BOA_ADD_OFFSET": "-1000"}})
    info = inspect_scene(path)
    assert info.is_dn and info.offset_in_file and info.default_spec().offset
    with open_raster(path) as src:
        with_offset = read_rgb(src, info.default_spec())
        without = read_rgb(src, BandSpec(info.default_bands, offset=False))
    assert with_offset.shape == (64, 64, 3) and with_offset.dtype == np.uint8
    np.testing.assert_array_equal(with_offset[0, 0], [255, 128, 0])
    np.testing.assert_array_equal(without[0, 0], [255, 220, 93])


def test_16bit_file_processing_baseline_tag(tmp_path):
    data = np.zeros((3, 64, 64), np.uint16)
    path = write_tif(tmp_path / "pb.tif", data, tags={"PROCESSING_BASELINE": "05.09"})
    assert inspect_scene(path).offset_in_file
    path = write_tif(tmp_path / "old.tif", data, tags={"PROCESSING_BASELINE": "02.04"})
    assert not inspect_scene(path).offset_in_file


# ---------------------------------------------------------------- bands


def test_four_band_file_picks_b4_b3_b2_by_description(tmp_path):
    data = np.stack([np.full((64, 64), v, np.uint16) for v in (275, 550, 825, 1100)])  # B2 B3 B4 B8
    path = write_tif(tmp_path / "s2.tif", data, descriptions=("B2", "B3", "B4", "B8"))
    info = inspect_scene(path)
    assert info.count == 4 and info.default_bands == (3, 2, 1)
    with open_raster(path) as src:
        rgb = read_rgb(src, info.default_spec())
    np.testing.assert_array_equal(rgb[5, 5], [76, 51, 26])  # B4, B3, B2 scaled (76.5 rounds to even)
    with open_raster(path) as src, pytest.raises(GeoError, match="do not exist"):
        read_rgb(src, BandSpec((5, 2, 1)))


@pytest.mark.parametrize(
    ("descriptions", "expected"),
    [
        (("B04 (red)", "B03 (green)", "B02 (blue)"), (1, 2, 3)),
        (("B02", "B03", "B04", "B08"), (3, 2, 1)),
        (("blue", "green", "red"), (3, 2, 1)),
        (("B8", "B11", "B12"), (1, 2, 3)),  # nothing recognisable: first three
        ((None, None, None, None), (1, 2, 3)),
    ],
)
def test_default_rgb_bands(descriptions, expected):
    assert default_rgb_bands(descriptions) == expected


def test_chw_to_hwc():
    chw = np.arange(2 * 3 * 4).reshape(2, 3, 4)
    hwc = chw_to_hwc(chw)
    assert hwc.shape == (3, 4, 2) and hwc.flags.c_contiguous
    assert hwc[1, 2, 1] == chw[1, 1, 2]


# ---------------------------------------------------------------- overlay


def test_overlay_is_web_mercator_picture_of_the_scene(scene):
    with open_raster(scene) as src:
        rgba, bounds = overlay_rgba(src, BandSpec(), max_size=512)
    assert rgba.dtype == np.uint8 and rgba.shape[2] == 4 and max(rgba.shape[:2]) <= 560
    np.testing.assert_allclose(bounds, SCENE_LONLAT, atol=2e-3)
    alpha = rgba[..., 3]
    assert alpha[0, 0] == 0 and alpha[-1, -1] == 0  # rotated UTM grid: corners outside the scene
    assert alpha[alpha.shape[0] // 2, alpha.shape[1] // 2] == 255
    assert 0.8 < (alpha > 0).mean() < 1.0


@pytest.mark.slow
def test_real_scene_matches_its_readme(scene_path):
    info = inspect_scene(scene_path)
    assert (info.width, info.height, info.count, info.dtype) == (1536, 768, 3, "uint8")
    assert Affine(*info.transform) == SCENE_TRANSFORM and info.crs_name == "EPSG:32633"
    np.testing.assert_allclose(info.bounds_lonlat, SCENE_LONLAT, atol=1e-4)
    assert info.attribution == "Contains modified Copernicus Sentinel data 2017"
    with open_raster(scene_path) as src:
        rgb = read_rgb(src, info.default_spec(), window=Window(0, 0, 1536, 768))
    np.testing.assert_allclose(rgb.reshape(-1, 3).mean(axis=0), (107, 111, 137), atol=1.5)
