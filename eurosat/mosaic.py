"""Mosaics of labelled 64×64 images: scenes whose every cell has a known class.

Overlapping windows cannot be tested on EuroSAT itself (each image has no surroundings). A mosaic
lays labelled images side by side on a georeferenced grid (an in-memory GeoTIFF, 10 m pixels,
UTM 33N), so the whole page / CLI path (:func:`eurosat.tiling.classify_tiles_at`) can be run on
it at any stride and each cell scored against the images under it. Images are placed in blocks
of ``block × block`` images of one class (fields of 1.28 km at ``block = 2``); block classes and
the images in them are drawn at random, so every block edge is a boundary between two classes
(most of the time), a harder case than most real scenes. The mosaic is then cut at a random
offset of 0-63 pixels, so that no stride's grid lines up with the image edges (in a real scene
nothing lines up with the tile grid either).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS

from eurosat.classes import NUM_CLASSES, TILE_SIZE
from eurosat.tiling import AreaResult, Classifier, classify_scene

#: The mosaics' CRS and origin (arbitrary, on land in UTM zone 33N).
MOSAIC_CRS = "EPSG:32633"
MOSAIC_ORIGIN = (400000.0, 5800000.0)


@dataclass
class Mosaic:
    """A mosaic scene and its truth.

    Attributes:
        image: uint8 (H, W, 3).
        pixel_labels: int64 (H, W): the class of the image each pixel comes from.
    """

    image: np.ndarray
    pixel_labels: np.ndarray

    def cell_labels(self, stride: int) -> np.ndarray:
        """The majority class of each whole ``stride`` × ``stride`` cell: int64 (H // stride, W // stride)."""
        h, w = (np.array(self.pixel_labels.shape) // stride) * stride
        onehot = np.eye(NUM_CLASSES, dtype=np.int32)[self.pixel_labels[:h, :w]]
        counts = onehot.reshape(h // stride, stride, w // stride, stride, NUM_CLASSES).sum(axis=(1, 3))
        return counts.argmax(axis=-1)

    def pixel_accuracy(self, result: AreaResult) -> float:
        """Share of the pixels under the result's cells whose cell shows their true class (the model's
        top class, whatever the status)."""
        s = result.cell
        pred = np.full(self.pixel_labels.shape, -1, np.int64)
        for r, c, k in zip(result.rows, result.cols, result.labels, strict=True):
            pred[r * s:(r + 1) * s, c * s:(c + 1) * s] = k
        covered = pred >= 0
        return float((pred[covered] == self.pixel_labels[covered]).mean())

    def write_geotiff(self, path: str | Path) -> Path:
        """Write the mosaic as a GeoTIFF (10 m pixels, 256 × 256 internal tiles)."""
        h, w, _ = self.image.shape
        with rasterio.open(path, "w", driver="GTiff", width=w, height=h, count=3, dtype="uint8",
                           crs=CRS.from_string(MOSAIC_CRS),
                           transform=Affine(10.0, 0, MOSAIC_ORIGIN[0], 0, -10.0, MOSAIC_ORIGIN[1]),
                           tiled=True, blockxsize=256, blockysize=256) as dst:
            dst.write(np.moveaxis(self.image, -1, 0))
        return Path(path)


def make_mosaic(images: np.ndarray, labels: np.ndarray, rows: int, cols: int, block: int = 2,
                seed: int = 0, offset: tuple[int, int] | None = None) -> Mosaic:
    """Lay ``rows × cols`` images out in same-class blocks of ``block × block``, then cut.

    Args:
        images: uint8 (N, 64, 64, 3) labelled images to draw from (each used at most once while
            enough of its class remain).
        labels: int (N,) their classes.
        rows, cols: images per side.
        offset: pixels cut off the top and the left (default: random, 0-63 each); the bottom and
            right lose 64 pixels less the offset, so the mosaic is (rows - 1)·64 × (cols - 1)·64.
    """
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    pools = {c: list(rng.permutation(np.flatnonzero(labels == c))) for c in range(NUM_CLASSES)}
    present = [c for c in range(NUM_CLASSES) if pools[c]]
    grid = np.zeros((rows, cols), np.int64)
    image = np.zeros((rows * TILE_SIZE, cols * TILE_SIZE, 3), np.uint8)
    for br in range(0, rows, block):
        for bc in range(0, cols, block):
            c = int(rng.choice(present))
            for r in range(br, min(rows, br + block)):
                for q in range(bc, min(cols, bc + block)):
                    if not pools[c]:
                        pools[c] = list(rng.permutation(np.flatnonzero(labels == c)))
                    i = pools[c].pop()
                    grid[r, q] = c
                    image[r * TILE_SIZE:(r + 1) * TILE_SIZE, q * TILE_SIZE:(q + 1) * TILE_SIZE] = images[i]
    dy, dx = offset if offset is not None else (int(v) for v in rng.integers(0, TILE_SIZE, 2))
    pixel_labels = np.repeat(np.repeat(grid, TILE_SIZE, axis=0), TILE_SIZE, axis=1)
    h, w = (rows - 1) * TILE_SIZE, (cols - 1) * TILE_SIZE
    return Mosaic(image[dy:dy + h, dx:dx + w], pixel_labels[dy:dy + h, dx:dx + w])


def classify_mosaic(mosaic: Mosaic, classifier: Classifier, stride: int,
                    centre: bool = False) -> tuple[AreaResult, np.ndarray]:
    """Classify a mosaic at ``stride`` (no cloud tests: EuroSAT images are clear) and give each
    cell's true class: (result, int64 (N,) labels in the result's cell order)."""
    with tempfile.TemporaryDirectory(prefix="eurosat-mosaic-") as tmp:
        path = mosaic.write_geotiff(Path(tmp) / "mosaic.tif")
        result = classify_scene(path, classifier, keep_tiles=False, tests=None, stride=stride, centre=centre)
    truth = mosaic.cell_labels(stride)[result.rows, result.cols]
    return result, truth


@dataclass
class MosaicScores:
    """Cells of a set of mosaics at one stride: blended probabilities, majority classes, pixel accuracy."""

    probs: np.ndarray
    labels: np.ndarray
    pixel_accuracy: float


def cell_predictions(images: np.ndarray, labels: np.ndarray, classifier: Classifier, stride: int,
                     side: int = 8, block: int = 2, seed: int = 0,
                     centre: bool = False) -> MosaicScores:
    """Blended cell probabilities and true (majority) classes over mosaics using every image once.

    The same seed gives the same mosaics (layout and offset) at every stride.

    Args:
        side: images per mosaic side (``side²`` images per mosaic).

    Returns:
        float32 (M, 10) probabilities, int64 (M,) true classes, and the pixel accuracy over all mosaics.
    """
    order = np.random.default_rng(seed).permutation(len(images))
    per = side * side
    probs, truth, right, pixels = [], [], 0.0, 0
    for n, start in enumerate(range(0, len(order), per)):
        idx = order[start:start + per]
        if len(idx) < per:  # the last, partial mosaic: fill with images already used
            idx = np.concatenate([idx, order[: per - len(idx)]])
        mosaic = make_mosaic(images[idx], labels[idx], side, side, block, seed + n)
        result, t = classify_mosaic(mosaic, classifier, stride, centre)
        probs.append(result.probs)
        truth.append(t)
        n_px = len(result.rows) * stride * stride
        right += mosaic.pixel_accuracy(result) * n_px
        pixels += n_px
    return MosaicScores(np.concatenate(probs), np.concatenate(truth), right / max(1, pixels))
