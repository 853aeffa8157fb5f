"""Cells on a grid: what sliding 64×64 windows with a stride of 64, 32 or 16 pixels give.

The model sees 64×64-pixel windows. With a stride ``s`` (a divisor of 64) the windows start every
``s`` pixels, so each window covers ``k × k`` cells of ``s × s`` pixels (``k = 64 / s``) and each
cell is covered by up to ``k × k`` windows. A cell's probabilities are the weighted mean of the
windows covering it (offset ensembling): each window's weight is its share of clear pixels (a
cloudy window says little about the clear cell beside it) times, optionally, a tent weight that
counts a cell more when it lies near the window's centre (off by default: on mosaics of EuroSAT
images, equal weights scored as well or better, ``benchmarks/finer_maps.py``). Stride 64 gives
today's tiles exactly (one window per cell, weight 1).

Indexing, in the raster's own pixel grid counted from its top-left pixel:

* cell (R, C) covers pixel rows ``s R .. s R + s - 1`` and columns ``s C .. s C + s - 1``;
* window (i, j) covers pixel rows ``s i .. s i + 63`` and columns ``s j .. s j + 63``, i.e. cells
  ``i .. i + k - 1`` × ``j .. j + k - 1``; only windows wholly inside the raster exist.

Every whole cell of a raster at least 64 pixels high and wide is covered by one window or more.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eurosat.classes import NUM_CLASSES, TILE_SIZE
from eurosat.errors import GeoError

#: Strides offered (pixels): cells of 64, 32 or 16 pixels (640, 320, 160 m at 10 m).
STRIDES: tuple[int, ...] = (64, 32, 16)
#: Weight of a window with no clear pixel, so that a cell under cloud still gets the model's answer.
MIN_WINDOW_WEIGHT: float = 1e-3


def check_stride(stride: int) -> int:
    """``stride`` if it is one of :data:`STRIDES`.

    Raises:
        GeoError: any other value.
    """
    if int(stride) not in STRIDES:
        raise GeoError(f"The stride must be one of {', '.join(map(str, STRIDES))} pixels, not {stride}.")
    return int(stride)


def windows_per_cell(stride: int) -> int:
    """``k``: windows per axis covering one cell, and cells per axis in one window."""
    return TILE_SIZE // check_stride(stride)


def cell_grid_shape(height: int, width: int, stride: int) -> tuple[int, int]:
    """Whole cells of a raster: (cell rows, cell cols); (0, 0) when it holds no whole window."""
    if height < TILE_SIZE or width < TILE_SIZE:
        return 0, 0
    return height // stride, width // stride


def window_grid_shape(height: int, width: int, stride: int) -> tuple[int, int]:
    """Windows wholly inside a raster: (window rows, window cols)."""
    if height < TILE_SIZE or width < TILE_SIZE:
        return 0, 0
    return (height - TILE_SIZE) // stride + 1, (width - TILE_SIZE) // stride + 1


@dataclass(frozen=True)
class Span:
    """Half-open index ranges of rows and columns: [r0, r1) × [c0, c1)."""

    r0: int
    r1: int
    c0: int
    c1: int

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, cols)."""
        return max(0, self.r1 - self.r0), max(0, self.c1 - self.c0)

    @property
    def size(self) -> int:
        """rows × cols."""
        rows, cols = self.shape
        return rows * cols


def windows_covering(cells: Span, stride: int, n_windows: tuple[int, int]) -> Span:
    """The windows that cover any cell of ``cells`` (window indexes, clipped to the raster)."""
    k = windows_per_cell(stride)
    n_wr, n_wc = n_windows
    return Span(max(0, cells.r0 - k + 1), min(n_wr, cells.r1), max(0, cells.c0 - k + 1), min(n_wc, cells.c1))


def cells_of_windows(windows: Span, stride: int) -> Span:
    """The cells the windows of ``windows`` cover."""
    k = windows_per_cell(stride)
    return Span(windows.r0, windows.r1 + k - 1, windows.c0, windows.c1 + k - 1)


def centre_weights(k: int, centre: bool = False) -> np.ndarray:
    """Weight of each of a window's ``k × k`` cells in the blend: float64 (k, k).

    ``centre``: a tent, ``min(a, k - 1 - a) + 1`` per axis (k = 4: 1 2 2 1; k = 2: no difference),
    so a cell counts more in the windows it lies in the middle of; else all ones.
    """
    if not centre or k == 1:
        return np.ones((k, k))
    tent = np.minimum(np.arange(k), k - 1 - np.arange(k)) + 1.0
    return np.outer(tent, tent)


def window_means(cell_values: np.ndarray, k: int) -> np.ndarray:
    """Mean of each ``k × k`` block of cells, i.e. a per-cell value averaged over each window.

    Args:
        cell_values: (H, W) per-cell values (e.g. clear fraction) of cells that exactly tile the windows.

    Returns:
        float64 (H - k + 1, W - k + 1): window (i, j) averages cells i..i+k-1 × j..j+k-1.
    """
    h, w = cell_values.shape
    c = np.zeros((h + 1, w + 1))
    c[1:, 1:] = np.cumsum(np.cumsum(np.asarray(cell_values, np.float64), axis=0), axis=1)
    return (c[k:, k:] - c[:-k, k:] - c[k:, :-k] + c[:-k, :-k]) / (k * k)


class CellBlend:
    """Running weighted sums of window probabilities over a span of cells.

    Args:
        cells: the cells accumulated (cell indexes in the raster's cell grid).
        stride: pixels per cell side.
        centre: centre-weight the cells of each window (:func:`centre_weights`).
    """

    def __init__(self, cells: Span, stride: int, centre: bool = False):
        self.cells = cells
        self.k = windows_per_cell(stride)
        self.tent = centre_weights(self.k, centre)
        rows, cols = cells.shape
        self._sums = np.zeros((rows, cols, NUM_CLASSES))
        self._weights = np.zeros((rows, cols))
        self._count = np.zeros((rows, cols), np.int32)

    def add(self, rows: np.ndarray, cols: np.ndarray, probs: np.ndarray, weights: np.ndarray) -> None:
        """Add windows (rows, cols: int (N,) window indexes; probs (N, 10); weights (N,) ≥ 0)."""
        r = np.asarray(rows) - self.cells.r0
        c = np.asarray(cols) - self.cells.c0
        w = np.maximum(np.asarray(weights, np.float64), MIN_WINDOW_WEIGHT)
        p = np.asarray(probs, np.float64)
        for a in range(self.k):  # for one offset (a, b) the windows reach distinct cells
            for b in range(self.k):
                wab = w * self.tent[a, b]
                self._sums[r + a, c + b] += wab[:, None] * p
                self._weights[r + a, c + b] += wab
                self._count[r + a, c + b] += 1

    def probabilities(self) -> np.ndarray:
        """Blended probabilities: float32 (rows, cols, 10); zeros where no window was added."""
        with np.errstate(invalid="ignore", divide="ignore"):
            out = self._sums / self._weights[..., None]
        return np.nan_to_num(out, nan=0.0).astype(np.float32)

    @property
    def windows_per_cell(self) -> np.ndarray:
        """How many windows reached each cell: int32 (rows, cols)."""
        return self._count
