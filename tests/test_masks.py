"""eurosat.masks / eurosat.synthetic / eurosat.decision on small synthetic images with known answers,
and the no-data paths of real GeoTIFF files (nodata value, alpha band, int16 L2A-like files)."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio

from eurosat import exports
from eurosat.decision import (
    CLOUD_CODE,
    UNCERTAIN_CODE,
    Thresholds,
    choose_min_probability,
    code_label,
    model_thresholds,
    tile_codes,
)
from eurosat.geo import BandSpec, open_raster, read_rgb_masked
from eurosat.masks import (
    PixelMasks,
    nodata_from_raw,
    rgb_masks,
    scl_masks,
    tile_quality,
)
from eurosat.synthetic import add_cloud, add_nodata, add_shadow, cloud_field, outlier_tiles
from eurosat.tiling import classify_scene
from tests.rasters import FakeClassifier, write_tif


def land(h: int, w: int, seed: int = 0) -> np.ndarray:
    """Field-like land on the EuroSAT scale: green-brown patches with texture (uint8 (H, W, 3))."""
    gen = np.random.default_rng(seed)
    patches = gen.normal(0, 6, (h // 16 + 1, w // 16 + 1, 3)).repeat(16, 0).repeat(16, 1)[:h, :w]
    base = np.array([70, 85, 75], float) + patches
    return np.clip(base + gen.normal(0, 4, (h, w, 3)), 0, 255).astype(np.uint8)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max(1, (a | b).sum()))


def test_cloud_field_has_the_asked_coverage_and_soft_edges():
    rng = np.random.default_rng(1)
    for coverage in (0.2, 0.5, 0.8):
        a = cloud_field((128, 128), rng, coverage=coverage)
        assert abs((a > 0.5).mean() - coverage) < 0.02
        assert ((a > 0.05) & (a < 0.95)).any()  # soft edges exist
    assert cloud_field((8, 8), rng, 0).max() == 0 and cloud_field((8, 8), rng, 1).min() == 1


def test_clear_land_has_no_cloud_and_a_cloud_is_found_where_it_is():
    img = land(256, 256)
    clear = rgb_masks(img)
    assert clear.cloud.sum() == 0 and clear.shadow.sum() == 0 and clear.usable.all()
    rng = np.random.default_rng(2)
    opacity = cloud_field((256, 256), rng, coverage=0.3, scale_px=14)
    cloudy = rgb_masks(add_cloud(img, opacity))
    assert iou(cloudy.cloud, opacity > 0.5) > 0.7
    assert cloudy.cloud[opacity > 0.9].mean() > 0.99  # the thick part is all flagged
    assert not cloudy.cloud[ndimage_far_from(opacity > 0.05, 8)].any()  # far land is kept


def ndimage_far_from(mask: np.ndarray, px: int) -> np.ndarray:
    from scipy import ndimage

    return ~ndimage.binary_dilation(mask, iterations=px)


def test_small_bright_roofs_are_not_cloud():
    img = land(128, 128)
    img[40:44, 40:44] = 250  # a 40 m white roof
    img[80:85, 20:25] = (235, 235, 240)
    assert rgb_masks(img).cloud.sum() == 0


def test_shadow_is_found_beside_its_cloud():
    img = land(256, 256, seed=3)
    cloud = np.zeros((256, 256), np.float32)
    cloud[40:100, 40:110] = 1.0
    shadow = np.roll(np.roll(cloud, 60, axis=0), 50, axis=1)  # the shadow: 600 m south, 500 m east
    scene = add_cloud(add_shadow(img, shadow, darkness=0.35), cloud)
    masks = rgb_masks(scene)
    assert iou(masks.cloud, cloud > 0.5) > 0.8
    found = masks.shadow & (shadow > 0.5)
    assert found.sum() / (shadow > 0.5).sum() > 0.6  # most of it (the part under the cloud is cloud)
    assert masks.shadow[shadow == 0].mean() < 0.02


def test_no_cloud_means_no_shadow_even_on_dark_land():
    img = land(128, 128)
    img[:, :64] = (img[:, :64] * 0.3).astype(np.uint8)  # a dark forest half
    assert rgb_masks(img).shadow.sum() == 0


def test_nodata_from_raw_mask_nan_and_zero_fill():
    raw = np.ones((3, 4, 4), np.float32)
    raw[:, 0, 0] = np.nan
    raw[:, 1, 1] = 0
    mask = np.full((4, 4), 255, np.uint8)
    mask[2, 2] = 0
    nd = nodata_from_raw(raw, mask)
    assert nd.sum() == 3 and nd[0, 0] and nd[1, 1] and nd[2, 2]


def test_scl_classes_map_to_masks():
    scl = np.array([[0, 1, 3, 4], [5, 8, 9, 10], [11, 6, 7, 2]])
    m = scl_masks(scl)
    assert m.nodata.sum() == 2 and m.shadow.sum() == 1 and m.cloud.sum() == 3 and m.snow.sum() == 1
    assert m.usable.sum() == 12 - 7 and m.source == "scl"


def test_tile_quality_shares_per_tile_in_row_major_order():
    z = np.zeros((64, 128), bool)
    cloud = z.copy()
    cloud[:, 64:96] = True  # half of tile 1
    nodata = z.copy()
    nodata[:32, :64] = True  # half of tile 0
    q = tile_quality(PixelMasks(nodata, cloud, z.copy(), z.copy(), "rgb-tests"))
    np.testing.assert_allclose(q.clear, [0.5, 0.5])
    np.testing.assert_allclose(q.nodata, [0.5, 0.0])
    np.testing.assert_allclose(q.cloud, [0.0, 0.5])


def test_tile_codes_rule_and_labels():
    probs = np.array([[0.9] + [0.1 / 9] * 9, [0.3] + [0.7 / 9] * 9, [0.05] * 9 + [0.55]], np.float32)
    codes = tile_codes(probs, np.array([1.0, 1.0, 0.2]), Thresholds(min_clear=0.75, min_probability=0.5))
    assert codes.tolist() == [0, UNCERTAIN_CODE, CLOUD_CODE]
    assert code_label(253) == "Cloud / no data" and code_label(254) == "Uncertain"
    assert code_label(1) == "Forest" and code_label(255) == "Not classified"


def test_min_probability_is_chosen_for_the_target_error():
    rng = np.random.default_rng(0)
    conf = rng.uniform(0.3, 1.0, 4000)
    labels = np.zeros(4000, int)
    right = rng.uniform(size=4000) < conf  # calibrated: right with probability = confidence
    probs = np.zeros((4000, 10))
    probs[np.arange(4000), np.where(right, 0, 1)] = conf
    probs[:, 2] = 1 - conf
    chosen = choose_min_probability(probs, labels, target_error=0.02)
    kept = conf >= chosen["min_probability"]
    assert chosen["error_of_kept"] <= 0.02 and abs((~right[kept]).mean() - chosen["error_of_kept"]) < 1e-5
    assert 0.9 < chosen["min_probability"] < 1.0  # ~ where mean error of the kept tail reaches 2 %
    assert model_thresholds({"decision": chosen}).min_probability == chosen["min_probability"]
    assert model_thresholds({"decision": {"min_probability": "x"}}) == Thresholds()


def test_outlier_tiles_are_made_of_every_kind():
    clear = np.stack([land(64, 64, s) for s in range(4)])
    tiles, kinds = outlier_tiles(clear, 60, seed=1)
    assert tiles.shape == (60, 64, 64, 3) and tiles.dtype == np.uint8 and len(set(kinds.tolist())) == 6


# ---------------------------------------------------------------- files with no data


def _scene(tmp_path, data, **kw):
    return write_tif(tmp_path / "s.tif", data, **kw)


def test_nodata_value_in_an_int16_file_is_no_data_not_cloud(tmp_path):
    dn = np.full((3, 128, 192), 900, np.int16)  # L2A-like DN, dark land
    dn[:, :64, :64] = 32767  # a masked hole, tile (0, 0)
    path = tmp_path / "l2a.tif"
    with rasterio.open(path, "w", driver="GTiff", width=192, height=128, count=3, dtype="int16", nodata=32767,
                       crs="EPSG:32633", transform=rasterio.Affine(10, 0, 330000, 0, -10, 5822040)) as dst:
        dst.write(dn)
    with open_raster(path) as src:
        read = read_rgb_masked(src, BandSpec(), rasterio.windows.Window(0, 0, 192, 128))
    assert read.nodata[:64, :64].all() and not read.nodata[64:].any()
    assert read.rgb[:64, :64].max() == 0  # 32767 would have been bright white
    result = classify_scene(path, FakeClassifier())
    q = result.tile_quality
    assert q.nodata[0] == 1.0 and q.cloud[0] == 0.0 and result.codes[0] == CLOUD_CODE
    assert np.all(result.codes[1:] < 10)


def test_alpha_band_marks_no_data(tmp_path):
    rgb = np.full((3, 128, 128), 90, np.uint8)
    alpha = np.full((1, 128, 128), 255, np.uint8)
    alpha[:, 64:, 64:] = 0
    path = write_tif(tmp_path / "rgba.tif", np.concatenate([rgb, alpha]))
    with rasterio.open(path, "r+") as dst:
        dst.colorinterp = [rasterio.enums.ColorInterp.red, rasterio.enums.ColorInterp.green,
                           rasterio.enums.ColorInterp.blue, rasterio.enums.ColorInterp.alpha]
    result = classify_scene(path, FakeClassifier())
    assert result.codes.tolist()[3] == CLOUD_CODE and result.tile_quality.nodata[3] == 1.0
    assert np.all(result.codes[:3] < 10)


def test_exported_codes_read_back(tmp_path):
    img = np.moveaxis(land(128, 192), -1, 0).copy()
    cloudy = np.moveaxis(add_cloud(np.moveaxis(img, 0, -1), np.ones((128, 192), np.float32)), -1, 0)
    img[:, :64, :64] = cloudy[:, :64, :64]  # tile (0, 0): cloud
    img = np.moveaxis(add_nodata(np.moveaxis(img, 0, -1), _box(128, 192, 0, 64, 128, 192)), -1, 0)
    path = write_tif(tmp_path / "scene.tif", img)

    class Unsure(FakeClassifier):
        def predict(self, tiles):
            p = super().predict(tiles)
            p[1] = 0.1  # tile (0, 1): flat answer
            return p

    result = classify_scene(path, Unsure())
    out = exports.write_geotiff(result, tmp_path / "classes.tif")
    with rasterio.open(out) as src:
        grid = src.read(1)
        tags = src.tags()
        cmap = src.colormap(1)
    assert grid[0, 0] == CLOUD_CODE and grid[0, 1] == UNCERTAIN_CODE and grid[0, 2] == CLOUD_CODE
    assert np.all(grid[1] < 10)
    assert tags["CODE_253"] == "Cloud / no data" and tags["CODE_254"] == "Uncertain"
    assert tags["MIN_CLEAR_FRACTION"] == "0.75" and tags["MASK_SOURCE"] == "rgb-tests"
    assert cmap[253][:3] != cmap[254][:3] and cmap[255][3] == 0
    import json

    doc = json.loads(exports.geojson_bytes(result))
    props = [f["properties"] for f in doc["features"]]
    assert [p["status"] for p in props[:3]] == ["cloud", "uncertain", "cloud"]
    assert props[0]["cloud_fraction"] > 0.9 and props[2]["nodata_fraction"] == 1.0
    assert doc["provenance"]["mask_source"] == "rgb-tests"
    head = exports.csv_bytes(result).decode().splitlines()[0].split(",")
    assert {"status", "clear_fraction", "model_class"} <= set(head)


def _box(h, w, r0, r1, c0, c1):
    m = np.zeros((h, w), bool)
    m[r0:r1, c0:c1] = True
    return m


@pytest.mark.parametrize("coverage", [0.0, 1.0])
def test_area_result_summaries_count_land_only(tmp_path, coverage):
    img = land(128, 128)
    if coverage:
        img = add_cloud(img, np.ones((128, 128), np.float32))
    path = write_tif(tmp_path / "s.tif", np.moveaxis(img, -1, 0).copy())
    result = classify_scene(path, FakeClassifier())
    status = result.status_summary()
    assert status["tiles"].sum() == 4
    if coverage:
        assert result.dominant_class is None and result.summary().empty and status.iloc[1]["tiles"] == 4
    else:
        assert result.dominant_class is not None and result.summary()["tiles"].sum() == 4
