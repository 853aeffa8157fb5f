"""Property tests (hypothesis) of the tile grid and window maths over random rasters and rectangles.

``tests/test_tiling.py`` checks area selection on the shipped scene's one grid; here the raster is
random too: any UTM zone (north or south), any origin, pixel size and size, read through a
random block layout. Properties:

* ``tiles_in_window``: every tile returned lies inside the window and the raster, and every tile
  lying inside both (by more than float noise) is returned;
* ``select_area``: exactly the tiles whose lon/lat footprint is inside the rectangle, no more
  (inside the raster, on the 64-px grid) and none missed;
* footprints round-trip lon/lat -> raster CRS onto the grid corners;
* ``read_tiles`` / ``classify_tiles_at``: each tile holds its own 64×64 pixels, whatever the strip
  height.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from affine import Affine
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from pyproj import Transformer
from rasterio.io import MemoryFile
from rasterio.windows import Window

from eurosat.errors import GeoError
from eurosat.geo import BandSpec, lonlat_bounds
from eurosat.tiling import (
    classify_tiles_at,
    footprints_lonlat,
    grid_shape,
    inside_bbox,
    read_tiles,
    select_area,
    tile_corners,
    tiles_in_window,
)
from tests.rasters import FakeClassifier

T = 64
NOISE = 1e-3  # pixels: more than the float noise of reprojection, far less than a tile

# ---------------------------------------------------------------- pure window maths


@settings(max_examples=200, deadline=None)
@given(
    height=st.integers(0, 2000), width=st.integers(0, 2000),
    row_off=st.floats(-300, 2300), col_off=st.floats(-300, 2300),
    h=st.floats(0, 2500), w=st.floats(0, 2500),
)
def test_tiles_in_window_are_inside_and_complete(height, width, row_off, col_off, h, w):
    r0, r1, c0, c1 = tiles_in_window(Window(col_off, row_off, w, h), height, width)
    n_rows, n_cols = grid_shape(height, width)
    assert 0 <= r0 <= r1 <= max(r0, n_rows) and 0 <= c0 <= c1 <= max(c0, n_cols)
    if r1 > r0 and c1 > c0:  # returned tiles: inside the raster and (up to noise) inside the window
        assert r1 <= n_rows and c1 <= n_cols
        assert r0 * T >= row_off - NOISE and r1 * T <= row_off + h + NOISE
        assert c0 * T >= col_off - NOISE and c1 * T <= col_off + w + NOISE
    # completeness: a tile inside both the raster and the window by more than the noise is returned
    for r in range(n_rows):
        inside = r * T >= row_off + NOISE and (r + 1) * T <= row_off + h - NOISE
        assert not inside or r0 <= r < r1 or c0 == c1 or not _any_col(n_cols, col_off, w)
    for c in range(n_cols):
        inside = c * T >= col_off + NOISE and (c + 1) * T <= col_off + w - NOISE
        assert not inside or c0 <= c < c1 or r0 == r1 or not _any_row(n_rows, row_off, h)


def _any_col(n_cols: int, col_off: float, w: float) -> bool:
    return any(c * T >= col_off + NOISE and (c + 1) * T <= col_off + w - NOISE for c in range(n_cols))


def _any_row(n_rows: int, row_off: float, h: float) -> bool:
    return any(r * T >= row_off + NOISE and (r + 1) * T <= row_off + h - NOISE for r in range(n_rows))


# ---------------------------------------------------------------- random georeferenced rasters


@st.composite
def utm_rasters(draw):
    """(crs, transform, height, width): a north-up raster in a random UTM zone, 0..12 tiles a side."""
    zone = draw(st.integers(1, 60))
    south = draw(st.booleans())
    crs = f"EPSG:{(32700 if south else 32600) + zone}"
    px = draw(st.sampled_from([5.0, 10.0, 10.0, 20.0, 30.0, 60.0]))
    px *= draw(st.sampled_from([1.0, 1.0001, 0.98]))  # and pixel sizes off the round numbers
    x0 = draw(st.floats(200_000, 700_000))
    y0 = draw(st.floats(1_500_000, 9_000_000)) if south else draw(st.floats(100_000, 8_000_000))
    sizes = st.builds(lambda tiles, extra: max(1, tiles * T + extra), st.integers(0, 12),
                      st.integers(0, T - 1))
    height, width = draw(sizes), draw(sizes)
    return crs, Affine(px, 0, x0, 0, -px, y0), height, width


def _dataset(mem: MemoryFile, crs, transform, height, width, data=None, blocksize=None):
    profile = {"driver": "GTiff", "height": height, "width": width, "count": 3, "dtype": "uint8",
               "crs": crs, "transform": transform}
    if blocksize:
        profile.update(tiled=True, blockxsize=blocksize, blockysize=blocksize)
    ds = mem.open(**profile)
    if data is not None:
        ds.write(data)
    return ds


def _all_tiles(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    rr, cc = np.meshgrid(np.arange(height // T), np.arange(width // T), indexing="ij")
    return rr.ravel(), cc.ravel()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raster=utm_rasters(), fx=st.tuples(st.integers(-200, 1000), st.integers(1, 1400)),
       fy=st.tuples(st.integers(-200, 1000), st.integers(1, 1400)), in_pixels=st.booleans())
def test_select_area_on_random_rasters(raster, fx, fy, in_pixels):
    """fx, fy: (start, length) of the rectangle in thousandths of the raster's extent: of its lon/lat
    envelope, or (``in_pixels``) of its pixel grid, the rectangle then being the lon/lat envelope of
    that pixel rectangle (so that it often holds whole tiles)."""
    crs, transform, height, width = raster
    with MemoryFile() as mem, _dataset(mem, crs, transform, height, width) as src:
        if in_pixels:
            cols = np.array([fx[0], fx[0] + fx[1]]) * width / 1000
            rows = np.array([fy[0], fy[0] + fy[1]]) * height / 1000
            xs, ys = transform * (np.repeat(cols, 2), np.tile(rows, 2))
            lon, lat = Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform(xs, ys)
            bbox = (float(min(lon)), float(min(lat)), float(max(lon)), float(max(lat)))
        else:
            west, south, east, north = lonlat_bounds(src)
            dx, dy = (east - west) / 1000, (north - south) / 1000
            w, s = west + dx * fx[0], south + dy * fy[0]
            bbox = (w, s, w + dx * fx[1], s + dy * fy[1])
        rows, cols = _all_tiles(height, width)
        truth = np.zeros(0, bool)
        if len(rows):
            truth = inside_bbox(footprints_lonlat(transform, crs, rows, cols), bbox)
        event("no whole tile inside" if not truth.any() else "some tiles inside")
        if not truth.any():
            with pytest.raises(GeoError):
                select_area(src, bbox)
            return
        sel_rows, sel_cols = select_area(src, bbox)
    # exactly the tiles inside: none outside the rectangle or the raster, none missed
    assert set(zip(sel_rows.tolist(), sel_cols.tolist(), strict=True)) == set(
        zip(rows[truth].tolist(), cols[truth].tolist(), strict=True))
    assert np.all(np.diff(sel_rows * (width // T + 1) + sel_cols) > 0)  # row-major, no repeats
    # on the 64-px grid of the raster: corners are the transform of multiples of 64 pixels
    xs, ys = tile_corners(transform, sel_rows, sel_cols)
    px, py = ~transform * (xs, ys)
    np.testing.assert_allclose(px / T, np.round(px / T), atol=1e-6)
    np.testing.assert_allclose(py / T, np.round(py / T), atol=1e-6)
    assert px.min() >= -1e-6 and py.min() >= -1e-6 and px.max() <= width + 1e-6 and py.max() <= height + 1e-6


@settings(max_examples=30, deadline=None)
@given(raster=utm_rasters())
def test_footprints_round_trip_on_random_grids(raster):
    crs, transform, height, width = raster
    rows, cols = _all_tiles(max(height, T), max(width, T))
    fp = footprints_lonlat(transform, crs, rows, cols)
    assert fp.shape == (len(rows), 4, 2)
    x, y = Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(fp[..., 0].ravel(),
                                                                           fp[..., 1].ravel())
    xs, ys = tile_corners(transform, rows, cols)
    np.testing.assert_allclose(x, xs.ravel(), atol=1e-3)  # millimetres
    np.testing.assert_allclose(y, ys.ravel(), atol=1e-3)
    # counter-clockwise corners (ll, lr, ur, ul): positive signed area in lon/lat
    lon, lat = fp[..., 0], fp[..., 1]
    area2 = np.sum(lon * np.roll(lat, -1, axis=1) - np.roll(lon, -1, axis=1) * lat, axis=1)
    assert np.all(area2 > 0)


@settings(max_examples=25, deadline=None)
@given(
    height=st.integers(T, 6 * T + 50), width=st.integers(T, 6 * T + 50),
    blocksize=st.sampled_from([None, 16, 64, 128, 256]), strip_rows=st.integers(1, 9),
    seed=st.integers(0, 2**16), keep=st.floats(0.05, 1.0),
)
def test_tiles_hold_their_own_pixels_whatever_the_strips(height, width, blocksize, strip_rows, seed, keep):
    gen = np.random.default_rng(seed)
    data = gen.integers(0, 256, (3, height, width), dtype=np.uint8)
    rows, cols = _all_tiles(height, width)
    chosen = np.flatnonzero(gen.random(len(rows)) < keep)
    assume(len(chosen) > 0)
    rows, cols = rows[chosen], cols[chosen]
    hwc = np.moveaxis(data, 0, -1)
    expected = np.stack([hwc[T * r:T * r + T, T * c:T * c + T] for r, c in zip(rows, cols, strict=True)])
    transform = Affine(10, 0, 500_000, 0, -10, 5_800_000)
    with MemoryFile() as mem, _dataset(mem, "EPSG:32633", transform, height, width, data, blocksize) as src:
        np.testing.assert_array_equal(read_tiles(src, BandSpec(), rows, cols)[0], expected)
        result = classify_tiles_at(src, rows, cols, FakeClassifier(), BandSpec(), strip_rows=strip_rows)
    np.testing.assert_array_equal(result.tiles, expected)
    np.testing.assert_array_equal(result.probs, FakeClassifier().predict(expected))
    assert math.isclose(float(result.areas_km2.mean()), 0.4096, rel_tol=0.02)
