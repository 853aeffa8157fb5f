"""eurosat.scaleout: task planning and strip merging (fast), and a real Dask cluster (slow) whose class
maps must be identical to the single-process command line's on copies and crops of the real scene."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import rasterio
from hypothesis import given, settings
from hypothesis import strategies as st
from rasterio.windows import Window

from eurosat import classify, scaleout
from eurosat.classes import CLASS_NAMES
from eurosat.geo import BandSpec
from eurosat.inference import TFLiteClassifier
from eurosat.registry import shipped_model
from eurosat.tiling import classify_scene
from tests.rasters import scene_like, write_tif

# ---------------------------------------------------------------- planning (no cluster)


@settings(max_examples=60, deadline=None)
@given(n_rows=st.integers(0, 300), n_cols=st.integers(0, 200), per_task=st.integers(1, 10_000),
       block_rows=st.integers(1, 8))
def test_split_rows_covers_every_row_once_in_order(n_rows, n_cols, per_task, block_rows):
    strips = scaleout.split_rows(n_rows, n_cols, per_task, block_rows)
    if n_rows == 0 or n_cols == 0:
        assert strips == []
        return
    assert strips[0][0] == 0 and strips[-1][1] == n_rows
    assert all(a[1] == b[0] for a, b in zip(strips, strips[1:], strict=False))
    sizes = [r1 - r0 for r0, r1 in strips]
    assert all(s >= 1 for s in sizes)
    # every strip but the last has the same size: a multiple of the block rows when a block row fits
    assert len(set(sizes[:-1])) <= 1 and sizes[-1] <= sizes[0]
    if per_task // n_cols >= block_rows and len(strips) > 1:  # (a single strip is the whole scene)
        assert sizes[0] % block_rows == 0 and sizes[0] * n_cols <= per_task


def test_output_paths_are_unique_per_scene(tmp_path):
    scenes = [tmp_path / "a" / "s.tif", tmp_path / "s_2.tif", tmp_path / "b" / "s.tif", tmp_path / "t.tiff"]
    outs = scaleout.output_paths(scenes, tmp_path / "out")
    assert [p.name for p in outs] == ["s_classes.tif", "s_2_classes.tif", "s_3_classes.tif", "t_classes.tif"]


def test_plan_scene_reports_unusable_files(tmp_path):
    good = scene_like(tmp_path / "good.tif")
    bad = tmp_path / "bad.tif"
    bad.write_bytes(b"not a tiff at all")
    small = write_tif(tmp_path / "small.tif", np.zeros((3, 40, 90), np.uint8))
    plan = scaleout.plan_scene(good, tmp_path / "o.tif", tiles_per_task=100)
    assert plan.error is None and (plan.n_rows, plan.n_cols) == (12, 24)
    assert plan.strips == [(0, 4), (4, 8), (8, 12)]  # 4 rows of 24 tiles = one 256-px block row
    assert "cannot be read as a GeoTIFF" in scaleout.plan_scene(bad, tmp_path / "o.tif").error
    assert "smaller than one 64×64 tile" in scaleout.plan_scene(small, tmp_path / "o.tif").error
    assert "do not exist" in scaleout.plan_scene(good, tmp_path / "o.tif", bands=(1, 2, 5)).error


def test_strips_merged_equal_the_whole_scene(tmp_path):
    scene = scene_like(tmp_path / "scene.tif")
    model = shipped_model().tflite
    whole = classify_scene(scene, TFLiteClassifier(model), keep_tiles=False)
    parts = [scaleout.classify_strip(scene, r0, r1, BandSpec(), model.read_bytes())
             for r0, r1 in [(0, 5), (5, 6), (6, 12)]]
    merged = scaleout.merge_results(parts)
    for name in ("probs", "rows", "cols", "footprints", "areas_km2"):
        np.testing.assert_array_equal(getattr(merged, name), getattr(whole, name))
    assert (merged.transform, merged.crs_wkt, merged.scene_path) == (whole.transform, whole.crs_wkt,
                                                                      whole.scene_path)
    # the model is loaded once per process and reused by every task
    assert scaleout.worker_classifier(model.read_bytes()) is scaleout.worker_classifier(model.read_bytes())


# ---------------------------------------------------------------- a real local cluster (slow)


def _crop(src_path, out, window: Window, dtype: str = "uint8", blocksize: int | None = 256):
    with rasterio.open(src_path) as src:
        data = src.read(window=window)
        transform = src.window_transform(window)
        crs = src.crs.to_string()
    if dtype == "uint16":  # the same picture as Sentinel-2 digital numbers (scaled back exactly)
        data = np.rint(data.astype(np.float64) * 2750 / 255).astype(np.uint16)
    return write_tif(out, data, crs=crs, transform=transform, blocksize=blocksize)


@pytest.fixture(scope="module")
def cluster():
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      scheduler_kwargs={"dashboard_address": ":0"}) as c:
        yield c


@pytest.fixture(scope="module")
def scenes(scene_path, tmp_path_factory):
    """Copies and crops of the real scene, and one made twice as tall (split into window strips)."""
    d = tmp_path_factory.mktemp("scenes")
    copy = d / "copy.tif"
    copy.write_bytes(scene_path.read_bytes())
    crop = _crop(scene_path, d / "crop_offset.tif", Window(100, 37, 1000, 600))  # off the tile grid
    crop16 = _crop(scene_path, d / "crop_uint16_striped.tif", Window(640, 128, 896, 640), "uint16", None)
    with rasterio.open(scene_path) as src:
        img, crs, transform = src.read(), src.crs.to_string(), src.transform
    tall = write_tif(d / "tall.tif", np.concatenate([img, img[:, ::-1]], axis=1), crs=crs,
                     transform=transform)
    return [scene_path, copy, crop, crop16, tall]


def _single_process(scene, out):
    assert classify.main([str(scene), "--out", str(out), "--quiet"]) == 0
    return out


@pytest.mark.slow
def test_cluster_class_maps_identical_to_single_process(cluster, scenes, tmp_path, runs_dir, capsys):  # noqa: ARG001
    bad = tmp_path / "broken.tif"
    bad.write_bytes(scenes[0].read_bytes()[:5000])  # truncated: header only
    out = tmp_path / "out"
    argv = [*map(str, scenes), str(bad), "--out", str(out), "--scheduler", cluster.scheduler_address,
            "--tiles-per-task", "100", "--quiet"]
    assert scaleout.main(argv) == 2  # the broken file fails, alone
    err = capsys.readouterr().err
    assert "error: broken.tif:" in err and "Traceback" not in err
    summary = pd.read_csv(out / "summary.csv")
    assert summary["status"].tolist() == ["ok"] * 5 + ["error"]
    # strips of 4 tile rows (one 256-px block row, <= 100 tiles); the striped crop: 7 rows of 14 tiles
    assert summary["tasks"].tolist()[:5] == [3, 3, 3, 2, 6]
    info = json.loads((out / "summary.json").read_text())
    assert info["workers"] == 2 and info["tiles"] == summary["tiles"].sum()
    for scene, row in zip(scenes, summary.itertuples(), strict=False):
        ref = _single_process(scene, tmp_path / "single" / f"{scene.stem}.tif")
        with rasterio.open(ref) as a, rasterio.open(row.output) as b:
            assert np.array_equal(a.read(1), b.read(1)), scene.name
            assert a.transform == b.transform and a.crs == b.crs and a.tags() == b.tags()
        if scene.name != "sentinel2_scene.tif":
            continue
        assert ref.read_bytes() == (out / "sentinel2_scene_classes.tif").read_bytes()  # the very same file
        with rasterio.open(ref) as a:
            counts = np.bincount(a.read(1).ravel(), minlength=10)[:10]
        assert [getattr(row, c) for c in CLASS_NAMES] == counts.tolist()
        assert row.dominant_class == CLASS_NAMES[int(counts.argmax())] and row.tiles == 288


@pytest.mark.slow
def test_default_local_cluster_from_the_command_line(scenes, tmp_path, runs_dir, capsys):  # noqa: ARG001
    out = tmp_path / "out"
    assert scaleout.main([str(scenes[2]), "--out", str(out), "--workers", "2", "--quiet"]) == 0
    printed = capsys.readouterr()
    assert "local cluster of 2 worker processes" in printed.err and "1/1 scenes" in printed.out
    ref = _single_process(scenes[2], tmp_path / "single.tif")
    assert ref.read_bytes() == (out / "crop_offset_classes.tif").read_bytes()
