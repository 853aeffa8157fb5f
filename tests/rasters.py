"""Small synthetic GeoTIFFs written with rasterio for the geo/tiling/export/CLI/page tests."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import rasterio
import rasterio.errors
from affine import Affine

#: The shipped scene's published grid (shared/data/README.md).
SCENE_CRS = "EPSG:32633"
SCENE_TRANSFORM = Affine(10, 0, 330000, 0, -10, 5822040)
SCENE_SHAPE = (768, 1536)  # rows, cols
SCENE_LONLAT = (12.4942, 52.4529, 12.7240, 52.5265)  # W S E N, 4 decimals


def write_tif(
    path: Path,
    data: np.ndarray,
    crs: str | None = SCENE_CRS,
    transform: Affine | None = SCENE_TRANSFORM,
    descriptions: tuple[str, ...] | None = None,
    tags: dict[str, str] | None = None,
    band_tags: dict[int, dict[str, str]] | None = None,
    blocksize: int | None = 256,
) -> Path:
    """Write ``data`` (C, H, W) as a GeoTIFF (tiled when ``blocksize``)."""
    count, height, width = data.shape
    profile = {"driver": "GTiff", "height": height, "width": width, "count": count, "dtype": data.dtype.name,
               "compress": "deflate"}
    if crs is not None:
        profile["crs"] = crs
    if transform is not None:
        profile["transform"] = transform
    if blocksize and height >= blocksize and width >= blocksize:
        profile.update(tiled=True, blockxsize=blocksize, blockysize=blocksize)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)  # no-CRS test files
        _write(path, data, profile, descriptions, tags, band_tags)
    return path


def _write(path, data, profile, descriptions, tags, band_tags) -> None:
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
        for i, d in enumerate(descriptions or ()):
            dst.set_band_description(i + 1, d)
        if tags:
            dst.update_tags(**tags)
        for band, t in (band_tags or {}).items():
            dst.update_tags(band, **t)


def tile_pattern(rows: int, cols: int, tile: int = 64, step: int = 20, base: int = 4) -> np.ndarray:
    """uint8 (3, rows*tile, cols*tile): tile (r, c) has the value ``base + step * ((r * cols + c) % 10)``.

    With :class:`FakeClassifier` the class of every tile is known from its position. ``base``
    keeps class-0 tiles off 0 (an all-zero pixel is no data) and every grey below the cloud tests.
    """
    idx = (np.arange(rows)[:, None] * cols + np.arange(cols)[None, :]) % 10
    img = np.kron(base + idx * step, np.ones((tile, tile), dtype=np.int64)).astype(np.uint8)
    return np.stack([img, img, img])


def expected_class(rows: np.ndarray, cols: np.ndarray, n_cols: int) -> np.ndarray:
    """The class :class:`FakeClassifier` gives tile (r, c) of :func:`tile_pattern`."""
    return (np.asarray(rows) * n_cols + np.asarray(cols)) % 10


class FakeClassifier:
    """Deterministic stand-in for the TFLite model: class = round(mean value / 20), one-hot-ish."""

    def __init__(self, step: float = 20.0):
        self.step = step
        self.calls = 0

    def predict(self, tiles: np.ndarray) -> np.ndarray:
        tiles = np.asarray(tiles, dtype=np.float32)
        assert tiles.ndim == 4 and tiles.shape[1:] == (64, 64, 3), tiles.shape
        self.calls += 1
        k = np.clip(np.rint(tiles.mean(axis=(1, 2, 3)) / self.step), 0, 9).astype(int)
        probs = np.full((len(tiles), 10), 0.02, dtype=np.float32)
        probs[np.arange(len(tiles)), k] = 0.82
        return probs


def scene_like(path: Path) -> Path:
    """A GeoTIFF on the shipped scene's exact grid (1536×768, EPSG:32633) with :func:`tile_pattern`."""
    return write_tif(path, tile_pattern(12, 24))
