"""eurosat.change: known edits between two synthetic dates are found, nothing else changes; the outputs
and the CLI contract; pairs that cannot be compared; the real scene with the real model (slow)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio
from affine import Affine

from eurosat import change
from eurosat.errors import GeoError
from eurosat.synthetic import add_cloud, edited_copy
from tests.rasters import SCENE_TRANSFORM, FakeClassifier, expected_class, tile_pattern, write_tif

MOVES = [((1, 1), (1, 2)), ((2, 3), (0, 0)), ((3, 2), (2, 5))]  # (to, from) tiles of a 4 × 6 grid
STEP = 18  # grey levels 4..166: every tile stays below the cloud tests after the gain


def clf() -> FakeClassifier:
    return FakeClassifier(STEP)


def inner(r) -> np.ndarray:
    """Tiles wholly covered by the shifted second date (row 0 and column 0 lose 12 / 20 px)."""
    return (r.before.rows >= 1) & (r.before.cols >= 1)


def tiles_of(r, mask) -> set[tuple[int, int]]:
    return {(int(a), int(b)) for a, b in zip(r.before.rows[mask], r.before.cols[mask], strict=True)}


def pair(tmp_path, shift=(12, 20), gain=1.0, offset=0.0, noise=0.0, crs_after="EPSG:32633"):
    """A 4 × 6-tile pattern scene and its edited, shifted copy (georeferenced to match)."""
    before = np.moveaxis(tile_pattern(4, 6, step=STEP), 0, -1)
    after, (dy, dx) = edited_copy(before, MOVES, gain=gain, offset=offset, noise=noise, shift=shift)
    b = write_tif(tmp_path / "before.tif", np.moveaxis(before, -1, 0).copy())
    t = SCENE_TRANSFORM * Affine.translation(dx, dy)
    a = write_tif(tmp_path / "after.tif", np.moveaxis(after, -1, 0).copy(), transform=t)
    if crs_after != "EPSG:32633":
        from rasterio.warp import calculate_default_transform, reproject

        with rasterio.open(a) as src:
            tr, w, h = calculate_default_transform(src.crs, crs_after, src.width, src.height, *src.bounds,
                                                   resolution=16.4)  # ≈ 10 m on the ground at 52.5°N
            data = np.zeros((3, h, w), np.uint8)
            for k in range(3):
                reproject(src.read(k + 1), data[k], src_transform=src.transform, src_crs=src.crs,
                          dst_transform=tr, dst_crs=crs_after)
        a = write_tif(tmp_path / "after_3857.tif", data, crs=crs_after, transform=tr)
    return b, a


def test_moved_tiles_change_and_nothing_else(tmp_path):
    before, after = pair(tmp_path, gain=1.02, offset=1.0, noise=0.8)
    r = change.detect_change(before, after, clf())
    assert r.before.n_tiles == 24 and (r.after.rows == r.before.rows).all()
    assert tiles_of(r, r.changed & inner(r)) == {to for to, _ in MOVES}
    moved_to = [to for to, _ in MOVES]
    i = [int(np.flatnonzero((r.before.rows == tr) & (r.before.cols == tc))[0]) for tr, tc in moved_to]
    assert r.after.labels[i].tolist() == [int(expected_class(fr, fc, 6)) for _, (fr, fc) in MOVES]
    assert r.comparable[inner(r)].all()
    m = r.matrix_km2()
    assert m.values.sum() == pytest.approx(r.before.areas_km2[r.comparable].sum())
    assert np.trace(m.values) == pytest.approx(r.before.areas_km2[r.comparable & ~r.changed].sum())
    s = r.summary()
    assert s["changed_tiles"] == r.changed.sum() and 0 < s["comparable_share"] <= 1
    assert r.flows()["tiles"].sum() == r.changed.sum()


def test_tiles_the_second_date_does_not_cover_are_not_comparable(tmp_path):
    before, after = pair(tmp_path, shift=(12, 40))
    r = change.detect_change(before, after, clf())
    left = r.before.cols == 0  # 40 of its 64 columns have no data on the second date
    assert (r.after.tile_quality.nodata[left] > 0.6).all() and not r.comparable[left].any()
    assert set(r.change_codes[left]) == {change.NOT_COMPARABLE}


def test_cloud_on_either_date_is_not_comparable(tmp_path):
    before, after = pair(tmp_path)
    with rasterio.open(after) as src:
        data, profile = src.read(), src.profile
    img = np.moveaxis(data, 0, -1)
    img[:64, :128] = add_cloud(img[:64, :128], np.ones((64, 128), np.float32))
    with rasterio.open(after, "w", **profile) as dst:
        dst.write(np.moveaxis(img, -1, 0))
    r = change.detect_change(before, after, clf())
    top = (r.before.rows == 0) & (r.before.cols <= 1)
    assert (r.after.codes[top] == 253).all() and not r.comparable[top].any()


def test_a_second_date_in_another_crs_is_aligned(tmp_path):
    before, after = pair(tmp_path, crs_after="EPSG:3857")
    r = change.detect_change(before, after, clf())
    assert {to for to, _ in MOVES} <= tiles_of(r, r.changed)  # resampling blurs edges, the moves stay


def test_min_gain_keeps_small_probability_moves_from_reading_as_change(tmp_path):
    before, after = pair(tmp_path)
    r = change.detect_change(before, after, clf(), rule=change.ChangeRule(min_gain=0.95))
    assert not r.changed.any()  # the fake model's gain is 0.80: under the rule
    r = change.detect_change(before, after, clf(), rule=change.ChangeRule(0.5))
    assert tiles_of(r, r.changed & inner(r)) == {to for to, _ in MOVES}


def test_cli_writes_the_three_band_raster_matrix_and_geojson(tmp_path, capsys, monkeypatch):
    before, after = pair(tmp_path)
    monkeypatch.setattr("eurosat.inference.TFLiteClassifier", lambda *a, **k: clf())
    out, matrix, geo = tmp_path / "change.tif", tmp_path / "m.csv", tmp_path / "c.geojson"
    code = change.main([str(before), str(after), "--out", str(out), "--matrix", str(matrix),
                        "--geojson", str(geo)])
    assert code == 0, capsys.readouterr().err
    with rasterio.open(out) as src:
        assert src.count == 3 and src.dtypes == ("uint8",) * 3
        b1, b2, b3 = src.read()
        assert src.tags()["MIN_GAIN"] == f"{change.DEFAULT_MIN_GAIN:g}"
    assert (b3[1:, 1:] == 1).sum() == 3 and set(np.unique(b3)) <= {0, 1, 255}
    assert all(b3[to] == 1 for to, _ in MOVES)
    assert (b1[b3 == 1] != b2[b3 == 1]).all()
    lines = matrix.read_text().splitlines()
    assert len(lines) == 11 and lines[0].startswith("from")
    assert len(json.loads(geo.read_text())["features"]) == (b3 == 1).sum()
    assert f"{(b3 == 1).sum()} changed" in capsys.readouterr().out


@pytest.mark.parametrize(("make", "words"), [
    (lambda p: write_tif(p, tile_pattern(2, 2), transform=Affine(10, 0, 500000, 0, -10, 5822040)),
     "do not overlap"),
    (lambda p: write_tif(p, tile_pattern(2, 2),
                         transform=SCENE_TRANSFORM * Affine.translation(6 * 64 - 30, 0)), "less than one"),
    (lambda p: write_tif(p, tile_pattern(2, 2, tile=16), transform=Affine(40, 0, 330000, 0, -40, 5822040)),
     "pixel sizes differ"),
])
def test_pairs_that_cannot_be_compared_are_clear_errors(tmp_path, capsys, make, words):
    before, _ = pair(tmp_path)
    other = make(tmp_path / "other.tif")
    with pytest.raises(GeoError, match=words):
        change.detect_change(before, other, clf())
    assert change.main([str(before), str(other), "--out", str(tmp_path / "x.tif")]) == 2
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.slow
def test_real_scene_with_known_edits(tmp_path, scene_path, runs_dir):  # noqa: ARG001
    """The real scene and an edited, shifted, radiometrically different copy, with the real model."""
    import importlib.util

    from eurosat import config
    from eurosat.inference import TFLiteClassifier
    from eurosat.registry import active_model

    spec = importlib.util.spec_from_file_location("change_rates", config.REPO_ROOT / "benchmarks" /
                                                  "change_rates.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    clf = TFLiteClassifier(active_model().tflite)
    before, after, moved = bench.make_pair(tmp_path, clf, 30)
    r = change.detect_change(before, after, clf, thresholds=active_model().thresholds)
    comp = r.comparable
    assert comp.mean() > 0.3
    assert r.changed[moved & comp].mean() >= 0.6  # recall on the moved tiles that can be compared
    assert r.changed[~moved & comp].mean() <= 0.05  # false change on the untouched ones
