"""python -m eurosat.classify: the real code path (main([...])) with the shipped LiteRT model."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import rasterio

from eurosat import config
from eurosat.classify import main
from tests.rasters import scene_like, tile_pattern, write_tif


def test_cli_writes_geotiff_geojson_csv(tmp_path, runs_dir, capsys):  # noqa: ARG001
    scene = scene_like(tmp_path / "scene.tif")
    out, gj, csv = tmp_path / "out" / "classes.tif", tmp_path / "tiles.geojson", tmp_path / "tiles.csv"
    assert main([str(scene), "--out", str(out), "--geojson", str(gj), "--csv", str(csv), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "288 tiles" in printed and "dominant class" in printed
    with rasterio.open(out) as ds:
        assert ds.crs.to_epsg() == 32633 and (ds.width, ds.height) == (24, 12)
        assert tuple(ds.transform)[:6] == (640, 0, 330000, 0, -640, 5822040)
        grid = ds.read(1)
    assert grid.max() < 10  # every cell of a whole scene is classified
    features = json.loads(gj.read_text())["features"]
    table = pd.read_csv(csv)
    assert len(features) == len(table) == 288
    np.testing.assert_array_equal(grid[table["row"], table["col"]], table["class_index"])


def test_cli_16bit_four_band_with_options(tmp_path, runs_dir, capsys):  # noqa: ARG001
    dn = (tile_pattern(2, 3)[0].astype(np.uint16) * 10 + 1000).astype(np.uint16)
    path = write_tif(tmp_path / "s2.tif", np.stack([dn, dn, dn, dn]), descriptions=("B2", "B3", "B4", "B8"),
                     blocksize=None)
    assert main([str(path), "--out", str(tmp_path / "c.tif"), "--bands", "3", "2", "1", "--offset",
                 "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "6 tiles" in err and "bands (3, 2, 1), offset -1000 DN" in err


@pytest.mark.parametrize(
    ("data", "kwargs", "message"),
    [
        (np.zeros((3, 64, 64), np.uint8), {"crs": None, "transform": None}, "no georeferencing"),
        (np.zeros((1, 64, 64), np.uint8), {}, "has 1 band"),
        (np.zeros((3, 64, 64), np.int32), {}, "int32"),
    ],
)
def test_cli_bad_input_is_one_clear_line(tmp_path, runs_dir, capsys, data, kwargs, message):  # noqa: ARG001
    path = write_tif(tmp_path / "bad.tif", data, **kwargs)
    assert main([str(path), "--out", str(tmp_path / "c.tif"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err
    assert not (tmp_path / "c.tif").exists()


def test_cli_bad_band_choice(tmp_path, runs_dir, capsys):  # noqa: ARG001
    scene = scene_like(tmp_path / "scene.tif")
    assert main([str(scene), "--out", str(tmp_path / "c.tif"), "--bands", "1", "2", "4", "--quiet"]) == 2
    assert "do not exist" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_module_on_the_real_scene(scene_path, tmp_path, runs_dir):  # noqa: ARG001
    out = tmp_path / "classes.tif"
    proc = subprocess.run([sys.executable, "-m", "eurosat.classify", str(scene_path), "--out", str(out)],
                          cwd=config.REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "288 tiles" in proc.stdout and "288/288" in proc.stderr  # summary and the tqdm bar
    with rasterio.open(out) as ds:
        assert ds.read(1).shape == (12, 24) and ds.colormap(1)[255][3] == 0
