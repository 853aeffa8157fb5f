"""STAC source, offline: a real STAC API and COG server on 127.0.0.1 (tests/stac_server.py).

The items point at COGs made from the shipped scene converted back to DN, split into a west item
(2017, 12 % cloud, no offset) and an east item (2023, 5 % cloud, baseline 04.00: DN + 1000), plus a
flat 80 %-cloud item over both. The STAC path must pick the right item, read only the windows it
needs, undo the offset, and give the same tiles and classes as the local-file path.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from eurosat import stac
from eurosat.errors import (
    CatalogueError,
    CatalogueTimeoutError,
    EuroSATError,
    GeoError,
    MissingBandError,
    NoImageryError,
    TooCloudyError,
)
from eurosat.sources import LocalGeoTIFF, classify_imagery, read_meta
from eurosat.stac import StacSource, band_offset, parse_date_range, target_grid, utm_crs
from tests.rasters import FakeClassifier
from tests.stac_server import (
    CLOUDY,
    EAST,
    L2A,
    SCL_CLOUD_BOX,
    SCL_SHADOW_BOX,
    WEST,
    Z32,
    Z33,
    StacServer,
    build_catalogue,
    closed_port_url,
)

DATES = "2017-01-01/2023-12-31"
ACROSS = (12.55, 52.47, 12.65, 52.51)  # spans the west and east items
WEST_BOX = (12.52, 52.48, 12.56, 52.51)
EAST_BOX = (12.65, 52.47, 12.70, 52.51)


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory, scene_path):
    return build_catalogue(tmp_path_factory.mktemp("stac_cogs"), scene_path)


@pytest.fixture(scope="module")
def server(catalogue):
    with StacServer(catalogue) as srv:
        yield srv


def source(url: str, tmp_path, collections=("s2-l1c",), max_cloud: float = 100, **kw) -> StacSource:
    return StacSource(url, collections, DATES, max_cloud, cache_dir=tmp_path / "cache", **kw)


# --------------------------------------------------------------------------- rules (no server)


@pytest.mark.parametrize(
    ("props", "asset", "offset", "origin", "warns"),
    [
        ({"s2:processing_baseline": "04.00"}, {}, 1000, "s2:processing_baseline 04.00", False),
        ({"s2:processing_baseline": "02.09"}, {}, 0, "s2:processing_baseline 02.09", False),
        ({"s2:processing_baseline": "05.10"}, {"raster:bands": [{"offset": -0.1, "scale": 0.0001}]}, 1000,
         "raster:bands offset", False),
        ({"s2:processing_baseline": "04.00"}, {"raster:bands": [{"offset": 0, "scale": 0.0001}]}, 0,
         "raster:bands offset", False),
        ({"s2:processing_baseline": "04.00", "earthsearch:boa_offset_applied": True}, {}, 0,
         "earthsearch:boa_offset_applied", False),
        ({"datetime": "2023-06-01T10:00:00Z"}, {}, 1000, "date rule (no metadata)", True),
        ({"datetime": "2019-06-01T10:00:00Z"}, {}, 0, "date rule (no metadata)", True),
    ],
)
def test_offset_comes_from_metadata_and_is_never_assumed_silently(props, asset, offset, origin, warns):
    value, source_, warning = band_offset({"id": "x", "properties": props}, asset)
    assert value == offset and source_ == origin and (warning is not None) == warns


def test_dates_zones_and_grid():
    assert parse_date_range("2023-05-01/2023-09-30") == (dt.date(2023, 5, 1), dt.date(2023, 9, 30))
    assert parse_date_range(None, today=dt.date(2024, 1, 1))[0] == dt.date(2023, 1, 1)
    with pytest.raises(GeoError, match="ends"):
        parse_date_range("2023-09-30/2023-05-01")
    with pytest.raises(GeoError, match="not understood"):
        parse_date_range("last summer")
    assert utm_crs(12.6, 52.5).to_epsg() == 32633 and utm_crs(11.99, 52.5).to_epsg() == 32632
    assert utm_crs(-70.6, -33.4).to_epsg() == 32719
    from affine import Affine

    grid = target_grid(ACROSS, utm_crs(12.6, 52.5), Affine(10, 0, 330000, 0, -10, 5822040))
    assert (grid.transform.c - 330000) % 640 == 0 and (5822040 - grid.transform.f) % 640 == 0
    assert grid.width % 64 == 0 and grid.height % 64 == 0


def test_local_geotiff_is_the_same_interface(scene_path):
    imagery = LocalGeoTIFF(scene_path).fetch(ACROSS)
    assert imagery.path == scene_path and imagery.spec.bands == (1, 2, 3) and imagery.meta.source == "file"
    assert imagery.meta.attribution == "Contains modified Copernicus Sentinel data 2017"
    with pytest.raises(GeoError, match="outside the scene"):
        LocalGeoTIFF(scene_path).fetch((13.0, 52.0, 13.1, 52.1))


def test_planetary_computer_is_signed():
    assert stac.needs_signing("https://planetarycomputer.microsoft.com/api/stac/v1")
    assert not stac.needs_signing("https://earth-search.aws.element84.com/v1")
    pc = stac.catalogue_for("https://planetarycomputer.microsoft.com/api/stac/v1/")
    assert pc is not None and pc.sign and pc.collections == ("sentinel-2-l2a",)
    assert callable(stac.planetary_computer_modifier())  # the optional package imports offline


# --------------------------------------------------------------------------- against the local API


def test_least_cloudy_item_is_chosen_and_the_offset_undone(server, tmp_path, scene_path):
    imagery = source(server.url, tmp_path).fetch(EAST_BOX)  # EAST (5 %) and CLOUDY (80 %) cover it
    meta = imagery.meta
    assert [i.id for i in meta.items] == [EAST]
    assert meta.items[0].offset_dn == (1000, 1000, 1000)
    assert meta.items[0].offset_source == "raster:bands offset"
    assert meta.attribution == "Contains modified Copernicus Sentinel data 2023"
    assert meta.coverage == 1.0 and not meta.warnings
    clf = FakeClassifier()
    got = classify_imagery(imagery, EAST_BOX, clf)
    want = classify_imagery(LocalGeoTIFF(scene_path).fetch(EAST_BOX), EAST_BOX, clf)
    assert got.n_tiles == want.n_tiles > 0
    assert np.abs(got.tiles.astype(int) - want.tiles).max() <= 1  # DN rounding on the 0-255 scale
    np.testing.assert_allclose(got.footprints, want.footprints, atol=1e-9)


def test_cloud_limit_leaves_out_cloudy_items(server, tmp_path):
    assert source(server.url, tmp_path, max_cloud=20).fetch(WEST_BOX).meta.items[0].id == WEST
    with pytest.raises(TooCloudyError, match=r"cloudier than 10 %.*least cloudy: " + WEST + r", 12\.0 %"):
        source(server.url, tmp_path, max_cloud=10).fetch(WEST_BOX)
    # with the limit at 100 the 80 % item is still second to the 12 % one
    assert source(server.url, tmp_path).fetch(WEST_BOX).meta.items[0].id == WEST


@pytest.mark.slow
def test_mosaic_gives_the_same_tiles_and_classes_as_the_local_file(server, tmp_path, scene_path, runs_dir):  # noqa: ARG001
    from eurosat.inference import TFLiteClassifier
    from eurosat.registry import active_model

    imagery = source(server.url, tmp_path).fetch(ACROSS)
    assert [i.id for i in imagery.meta.items] == [EAST, WEST]  # least cloudy first, the other fills the gap
    assert imagery.meta.items[1].offset_dn == (0, 0, 0) and imagery.meta.coverage == 1.0
    assert CLOUDY not in {i.id for i in imagery.meta.items}
    assert read_meta(imagery.path) == imagery.meta  # what the cache file says
    clf = TFLiteClassifier(active_model().tflite)
    got = classify_imagery(imagery, ACROSS, clf)
    want = classify_imagery(LocalGeoTIFF(scene_path).fetch(ACROSS), ACROSS, clf)
    assert got.n_tiles == want.n_tiles == 60
    assert np.abs(got.tiles.astype(int) - want.tiles).max() <= 1
    np.testing.assert_allclose(got.footprints, want.footprints, atol=1e-9)
    np.testing.assert_array_equal(got.labels, want.labels)


def needed_block_bytes(cog: Path, grid_transform, width: int, height: int, pad: int = 2) -> int:
    """Bytes of the COG's full-resolution blocks that a grid (same CRS and pixel size) overlaps."""
    import rasterio

    with rasterio.open(cog) as src:
        col0 = round((grid_transform.c - src.transform.c) / src.transform.a) - pad
        row0 = round((grid_transform.f - src.transform.f) / src.transform.e) - pad
        bh, bw = src.block_shapes[0]
        rows = range(max(0, row0 // bh), min(src.height - 1, row0 + height + 2 * pad) // bh + 1)
        cols = range(max(0, col0 // bw), min(src.width - 1, col0 + width + 2 * pad) // bw + 1)
        return sum(src.block_size(1, r, c) for r in rows for c in cols)


def inside_one_block() -> tuple[float, float, float, float]:
    """Lon/lat rectangle in tiles 5-6 (rows and columns) of the scene, inside its 256-px block (1, 1)."""
    from pyproj import Transformer

    x0, x1 = 330000 + 5 * 640 + 60, 330000 + 7 * 640 - 60
    y0, y1 = 5822040 - 7 * 640 + 60, 5822040 - 5 * 640 - 60
    lon, lat = Transformer.from_crs(32633, 4326, always_xy=True).transform([x0, x1, x1, x0], [y0, y0, y1, y1])
    return max(lon[0], lon[3]), max(lat[0], lat[1]), min(lon[1], lon[2]), min(lat[2], lat[3])


def test_reads_only_the_windows_it_needs_and_caches_them(catalogue, tmp_path):
    small = inside_one_block()  # about 1.2 km × 1.2 km: 2 × 2 tiles, one of the 9 blocks of the west COGs
    with StacServer(catalogue) as srv:  # a fresh server (and URLs): GDAL's HTTP cache starts empty
        src = source(srv.url, tmp_path)
        imagery = src.fetch(small)
        _, profile = imagery.read()
        assert srv.files_requested() <= {"west_B04.tif", "west_B03.tif", "west_B02.tif"}  # not CLOUDY's
        for band in ("B04", "B03", "B02"):
            name = f"west_{band}.tif"
            read, size = srv.file_bytes(name), catalogue.sizes[name]
            blocks = needed_block_bytes(catalogue.root / name, profile["transform"], profile["width"],
                                        profile["height"])
            # the blocks under the window, plus the header GDAL reads at open (16 KiB) and merged-range slack
            assert read <= blocks + 64 * 1024, (name, read, blocks)
            assert read < 0.25 * size, (name, read, size)  # here about 19 %: 32 KiB header + one 48 KiB range
        assert all(last - first < 300_000 for _, first, last, _ in srv.log)  # ranges, never whole files
        n = len(srv.log)
        again = src.fetch(small)
        assert again.path == imagery.path and len(srv.log) == n  # from the disk cache: no pixel read


def test_unreachable_catalogue_is_a_clear_error(tmp_path):
    with pytest.raises(CatalogueError, match="cannot be reached"):
        source(closed_port_url(), tmp_path, timeout=2).fetch(WEST_BOX)


def test_slow_catalogue_times_out(catalogue, tmp_path):
    with StacServer(catalogue, delay=2.0) as slow:
        with pytest.raises(CatalogueTimeoutError, match=r"did not answer .* within 0\.5 s"):
            source(slow.url, tmp_path, timeout=0.5).fetch(WEST_BOX)


@pytest.mark.parametrize(
    ("collections", "dates", "error", "message"),
    [
        (("s2-l1c",), "2018-01-01/2019-12-31", NoImageryError, "no item intersects the rectangle"),
        (("no-such-collection",), DATES, NoImageryError, "check the collection name"),
        (("s2-broken",), DATES, MissingBandError, "lack the red, green or blue band asset"),
        (("s2-gone",), DATES, MissingBandError, "cannot be read from"),
    ],
)
def test_no_usable_imagery_is_a_clear_error(server, tmp_path, collections, dates, error, message):
    src = StacSource(server.url, collections, dates, 100, cache_dir=tmp_path / "cache", timeout=5)
    with pytest.raises(error, match=message) as info:
        src.fetch(WEST_BOX)
    assert isinstance(info.value, EuroSATError) and "Traceback" not in str(info.value)


def test_an_address_that_is_not_a_stac_api(server, tmp_path):
    with pytest.raises(CatalogueError, match="answered HTTP 404"):
        source(server.url + "/nowhere", tmp_path).fetch(WEST_BOX)


def test_s3_items_need_aws_credentials(tmp_path, monkeypatch):
    for var in ("AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_NO_SIGN_REQUEST"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    item = {"id": "S2A_L1C", "bbox": [12, 52, 13, 53], "properties": {"eo:cloud_cover": 1.0},
            "assets": {k: {"href": f"s3://sentinel-s2-l1c/tiles/{k}.jp2"} for k in ("red", "green", "blue")}}
    src = StacSource("http://127.0.0.1:9/stac", ("sentinel-2-l1c",), DATES, cache_dir=tmp_path)
    chosen, reason, kind = src.candidates([item], WEST_BOX)
    assert not chosen and kind is NoImageryError and "AWS_REQUEST_PAYER=requester" in reason
    monkeypatch.setenv("AWS_PROFILE", "mine")
    assert src.candidates([item], WEST_BOX)[0]


def test_collections_are_tried_in_order(server, tmp_path):
    imagery = source(server.url, tmp_path, collections=("s2-empty", "s2-l1c")).fetch(WEST_BOX)
    assert imagery.meta.items[0].collection == "s2-l1c"
    assert any("Used 's2-l1c'" in w and "'s2-empty'" in w for w in imagery.meta.warnings)


def test_missing_offset_metadata_is_a_warning(server, tmp_path):
    imagery = source(server.url, tmp_path, collections=("s2-nometa",)).fetch(EAST_BOX)
    assert imagery.meta.items[0].offset_dn == (1000, 1000, 1000)
    assert any("declares neither" in w for w in imagery.meta.warnings)


def test_rectangle_spanning_two_utm_zones(server, tmp_path):
    """Z33 (1 % cloud, 2200 DN) east of 11.99°E and Z32 (2 %, 1100 DN) west of 12.01°E; the rectangle's
    centre (11.995°E) is in zone 32, so everything is put on Z32's grid and Z33 is reprojected into it."""
    imagery = source(server.url, tmp_path, collections=("s2-zones",)).fetch((11.965, 52.49, 12.025, 52.51))
    assert [i.id for i in imagery.meta.items] == [Z33, Z32] and imagery.meta.coverage == 1.0
    rgb, profile = imagery.read()
    assert profile["crs"].to_epsg() == 32632
    from pyproj import Transformer

    t = profile["transform"]
    cols = np.arange(profile["width"]) + 0.5
    to_lonlat = Transformer.from_crs(32632, 4326, always_xy=True)
    lon, _ = to_lonlat.transform(t.c + cols * t.a, np.full_like(cols, t.f))
    row = rgb[0, :, 0]
    assert np.all(row[lon < 11.985] == 102) and np.all(row[lon > 12.0] == 204)  # 1100 and 2200 DN · 255/2750
    assert classify_imagery(imagery, (11.965, 52.49, 12.025, 52.51), FakeClassifier()).n_tiles > 0


def test_signing_hook_is_called(server, tmp_path, monkeypatch):
    seen = []
    monkeypatch.setattr(stac, "planetary_computer_modifier", lambda: seen.append)
    source(server.url, tmp_path, sign=True).fetch(WEST_BOX)
    assert any(isinstance(obj, dict) and obj.get("features") for obj in seen)


def test_bad_inputs(tmp_path):
    with pytest.raises(CatalogueError, match="not a web address"):
        StacSource("earth-search", ("x",), DATES, cache_dir=tmp_path)
    with pytest.raises(CatalogueError, match="Name the Sentinel-2 collection"):
        StacSource("http://127.0.0.1:9/stac", None, DATES, cache_dir=tmp_path)
    src = StacSource(stac.CATALOGUES["earth-search"].url, None, DATES, cache_dir=tmp_path)
    assert src.collections[0] == "sentinel-2-l1c"
    with pytest.raises(GeoError, match="more than the 5,000 tiles"):
        src.fetch((10.0, 50.0, 12.0, 52.0))  # refused before any network access
    with pytest.raises(GeoError, match="Invalid rectangle"):
        src.fetch((12.0, 52.0, 11.0, 53.0))


# --------------------------------------------------------------------------- command line


def test_cli_stac_gives_the_local_classes(server, tmp_path, scene_path, runs_dir, capsys):  # noqa: ARG001
    from eurosat.classify import main

    box = [str(v) for v in ACROSS]
    assert main(["--stac", server.url, "--collection", "s2-l1c", "--bbox", *box, "--date", DATES,
                 "--max-cloud", "50", "--cache-dir", str(tmp_path / "cache"),
                 "--out", str(tmp_path / "s.tif"), "--csv", str(tmp_path / "stac.csv"), "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert EAST in err and WEST in err and "cloud 5.0 %" in err
    assert "Contains modified Copernicus Sentinel data 2017, 2023" in out and "60 tiles" in out
    assert main([str(scene_path), "--bbox", *box, "--out", str(tmp_path / "l.tif"),
                 "--csv", str(tmp_path / "local.csv"), "--quiet"]) == 0
    got, want = pd.read_csv(tmp_path / "stac.csv"), pd.read_csv(tmp_path / "local.csv")
    np.testing.assert_array_equal(got["class_index"], want["class_index"])


def test_cli_stac_errors_are_one_line(server, tmp_path, capsys):
    from eurosat.classify import main

    assert main(["--stac", server.url, "--collection", "s2-l1c", "--bbox", *map(str, WEST_BOX),
                 "--date", DATES, "--max-cloud", "5", "--cache-dir", str(tmp_path),
                 "--out", str(tmp_path / "c.tif")]) == 2
    err = capsys.readouterr().err
    assert "error: No usable Sentinel-2 imagery" in err and "Traceback" not in err
    with pytest.raises(SystemExit):
        main(["--stac", server.url, "--out", str(tmp_path / "c.tif")])  # --bbox is required


def _scene_px(result, i: int, scene_path) -> tuple[float, float]:
    """Centre of tile ``i`` of a result in the shipped scene's pixel (row, col)."""
    import rasterio
    from pyproj import Transformer

    lon, lat = result.centers[i]
    with rasterio.open(scene_path) as src:
        x, y = Transformer.from_crs("EPSG:4326", src.crs, always_xy=True).transform(lon, lat)
        row, col = src.index(x, y, op=float)
    return row, col


def _inside(row: float, col: float, box: tuple[int, int, int, int], margin: float) -> bool:
    r0, r1, c0, c1 = box
    return r0 + margin <= row <= r1 - margin and c0 + margin <= col <= c1 - margin


def test_l2a_scl_asset_masks_cloud_and_shadow_tiles(server, tmp_path, scene_path):
    box = (12.4945, 52.47, 12.585, 52.526)  # the scene's north-west corner: both SCL boxes
    imagery = source(server.url, tmp_path, collections=("s2-l2a",)).fetch(box)
    assert [i.id for i in imagery.meta.items] == [L2A]
    assert imagery.spec.scl_band == 4  # stored beside red, green, blue; found again from the cache
    assert source(server.url, tmp_path, collections=("s2-l2a",)).fetch(box).spec.scl_band == 4
    result = classify_imagery(imagery, box, FakeClassifier())
    assert result.tile_quality.source == "scl" and result.n_tiles > 20
    far, cloud, shadow = [], [], []
    for i in range(result.n_tiles):
        row, col = _scene_px(result, i, scene_path)
        if _inside(row, col, SCL_CLOUD_BOX, 30):
            cloud.append(i)
        elif _inside(row, col, SCL_SHADOW_BOX, 30):
            shadow.append(i)
        elif not _inside(row, col, (SCL_CLOUD_BOX[0] - 96, SCL_CLOUD_BOX[1] + 96, SCL_CLOUD_BOX[2] - 96,
                                    SCL_CLOUD_BOX[3] + 96), 0) and \
                not _inside(row, col, (SCL_SHADOW_BOX[0] - 96, SCL_SHADOW_BOX[1] + 96,
                                       SCL_SHADOW_BOX[2] - 96, SCL_SHADOW_BOX[3] + 96), 0):
            far.append(i)
    assert cloud and shadow and far
    codes, q = result.codes, result.tile_quality
    assert set(codes[cloud]) == {253} and np.all(q.cloud[cloud] > 0.9)
    assert set(codes[shadow]) == {253} and np.all(q.shadow[shadow] > 0.9)
    assert np.all(codes[far] < 10) and np.all(q.clear[far] == 1.0)


def test_change_cli_two_dates_from_stac(server, tmp_path, capsys):
    """Two date ranges on the local STAC API: WEST (2017-02-16, clear) then CLOUDY (2017-02-26, a flat
    bright "cloud" over everything) → every tile is not comparable, nothing changes."""
    import rasterio

    from eurosat import change

    out = tmp_path / "change.tif"
    code = change.main(["--stac", server.url, "--collection", "s2-l1c", "--bbox", *map(str, WEST_BOX),
                        "--date", "2017-02-10/2017-02-20", "--date", "2017-02-21/2017-02-28",
                        "--max-cloud", "100", "--cache-dir", str(tmp_path / "cache"), "--out", str(out)])
    err = capsys.readouterr()
    assert code == 0, err.err
    assert WEST in err.err and CLOUDY in err.err  # both items were fetched, one per date
    with rasterio.open(out) as src:
        before, after, changed = src.read()
    assert (before < 10).any()  # the first date is land
    assert set(np.unique(after)) <= {253, 254, 255} and set(np.unique(changed)) == {255}
