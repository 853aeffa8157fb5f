"""Cell grid, cell footprints, and classification of an area or a whole scene.

At the default stride of 64 the cells are whole 64×64-pixel tiles of the raster's own grid,
counted from its top-left pixel: tile (r, c) covers rows ``64 r .. 64 r + 63`` and columns
``64 c .. 64 c + 63``. At a stride of 32 or 16 the cells are 32 or 16 pixels and the model's 64×64
windows overlap; each cell blends the windows covering it (:mod:`eurosat.cells`). An area is the
set of cells whose footprint lies inside a lon/lat rectangle; a scene is every whole cell.
Pixels are read strip by strip (a few tile rows at a time), so memory does not grow with the
scene; :func:`classify_scene` with ``keep_tiles=False`` keeps only the probabilities.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd
from affine import Affine
from rasterio.errors import RasterioIOError
from rasterio.io import DatasetReader
from rasterio.windows import Window

from eurosat.cells import (
    CellBlend,
    Span,
    cell_grid_shape,
    cells_of_windows,
    check_stride,
    window_grid_shape,
    window_means,
    windows_covering,
    windows_per_cell,
)
from eurosat.classes import CLASS_COLORS, CLASS_NAMES, NUM_CLASSES, TILE_SIZE
from eurosat.decision import (
    CLOUD_CODE,
    CLOUD_COLOR,
    CLOUD_LABEL,
    UNCERTAIN_CODE,
    UNCERTAIN_COLOR,
    UNCERTAIN_LABEL,
    Thresholds,
    code_status,
    tile_codes,
)
from eurosat.errors import GeoError
from eurosat.geo import (
    DN_DTYPES,
    LONLAT,
    BandSpec,
    BBox,
    MaskedRead,
    bbox_window,
    check_spec,
    default_rgb_bands,
    file_declares_offset,
    open_raster,
    read_rgb_masked,
    scl_band_from_descriptions,
    validate,
)
from eurosat.masks import (
    DEFAULT_TESTS,
    PixelMasks,
    RGBTests,
    TileQuality,
    nodata_masks,
    rgb_masks,
    scl_masks,
    tile_quality,
)

#: Most tiles one drawn area may hold (about 2,050 km² at 10 m); whole scenes above it: use the CLI.
MAX_TILES_PER_AREA: int = 5000
#: Tiles per classifier call (bounds the float32 copy made for the model).
BATCH_TILES: int = 256
#: Upper bound of tile rows read at once.
MAX_STRIP_ROWS: int = 8

Progress = Callable[[int, int], None]  # (tiles done, tiles in all)


class Classifier(Protocol):
    """What tiling needs of a classifier (:class:`eurosat.inference.TFLiteClassifier` is one)."""

    def predict(self, tiles: np.ndarray) -> np.ndarray:
        """(N, 64, 64, 3) on the 0-255 scale -> float32 (N, 10) probabilities."""
        ...


# --------------------------------------------------------------------------- grid maths


def grid_shape(height: int, width: int, tile: int = TILE_SIZE) -> tuple[int, int]:
    """Whole tiles in a raster: (tile rows, tile cols)."""
    return height // tile, width // tile


def tiles_in_window(
    window: Window, height: int, width: int, tile: int = TILE_SIZE
) -> tuple[int, int, int, int]:
    """Whole grid tiles lying inside a pixel window.

    Returns:
        Half-open tile index ranges (r0, r1, c0, c1); empty when r1 <= r0 or c1 <= c0.
    """
    eps = 1e-6
    n_rows, n_cols = grid_shape(height, width, tile)
    r0 = max(0, math.ceil(window.row_off / tile - eps))
    c0 = max(0, math.ceil(window.col_off / tile - eps))
    r1 = min(n_rows, math.floor((window.row_off + window.height) / tile + eps))
    c1 = min(n_cols, math.floor((window.col_off + window.width) / tile + eps))
    return r0, max(r0, r1), c0, max(c0, c1)


def tile_corners(
    transform: Affine, rows: np.ndarray, cols: np.ndarray, tile: int = TILE_SIZE
) -> tuple[np.ndarray, np.ndarray]:
    """Corners of tiles in the raster CRS, counter-clockwise from lower-left (ll, lr, ur, ul).

    Returns:
        (xs, ys), each float64 (N, 4).
    """
    rows = np.asarray(rows, dtype=np.float64)[:, None]
    cols = np.asarray(cols, dtype=np.float64)[:, None]
    px = (cols + np.array([0, 1, 1, 0])) * tile
    py = (rows + np.array([1, 1, 0, 0])) * tile
    a, b, c, d, e, f = tuple(transform)[:6]
    return a * px + b * py + c, d * px + e * py + f


def footprints_lonlat(
    transform: Affine, crs: object, rows: np.ndarray, cols: np.ndarray, tile: int = TILE_SIZE
) -> np.ndarray:
    """Tile footprints in lon/lat: float64 (N, 4, 2) of (lon, lat), corners ll, lr, ur, ul."""
    from pyproj import Transformer

    xs, ys = tile_corners(transform, rows, cols, tile)
    if len(xs) == 0:
        return np.zeros((0, 4, 2))
    lon, lat = Transformer.from_crs(crs, LONLAT, always_xy=True).transform(xs.ravel(), ys.ravel())
    return np.stack([np.reshape(lon, xs.shape), np.reshape(lat, xs.shape)], axis=-1)


def footprint_areas_km2(footprints: np.ndarray) -> np.ndarray:
    """Geodesic area (km²) of each footprint (N, 4, 2)."""
    from pyproj import Geod

    geod = Geod(ellps="WGS84")
    out = np.empty(len(footprints))
    for i, fp in enumerate(footprints):
        out[i] = abs(geod.polygon_area_perimeter(fp[:, 0], fp[:, 1])[0]) / 1e6
    return out


def inside_bbox(footprints: np.ndarray, bbox: BBox, eps: float = 1e-9) -> np.ndarray:
    """Which footprints (N, 4, 2) lie wholly inside a lon/lat rectangle: bool (N,).

    A footprint is a convex quadrilateral, so its four corners inside means all of it inside.
    """
    w, s, e, n = bbox
    lon, lat = footprints[..., 0], footprints[..., 1]
    return np.all((lon >= w - eps) & (lon <= e + eps) & (lat >= s - eps) & (lat <= n + eps), axis=1)


def select_area(
    src: DatasetReader, bbox: BBox, max_tiles: int = MAX_TILES_PER_AREA, stride: int = TILE_SIZE
) -> tuple[np.ndarray, np.ndarray]:
    """The whole cells (``stride`` × ``stride`` pixels; tiles at 64) whose footprint lies inside a
    lon/lat rectangle.

    Args:
        max_tiles: most 64×64 windows the model may be run on (the windows covering the cells).

    Returns:
        (rows, cols) int64 cell indexes, row-major order.

    Raises:
        GeoError: the rectangle is outside the scene, holds no whole cell, or needs more than
            ``max_tiles`` windows.
    """
    s = check_stride(stride)
    window = bbox_window(src, bbox)
    if min(src.height, src.width) < TILE_SIZE:
        raise GeoError(f"'{Path(src.name).name}' is smaller than one {TILE_SIZE}×{TILE_SIZE} tile.")
    r0, r1, c0, c1 = tiles_in_window(window, src.height, src.width, s)
    rr, cc = np.meshgrid(np.arange(r0, r1), np.arange(c0, c1), indexing="ij")
    rows, cols = rr.ravel(), cc.ravel()
    if len(rows):
        keep = inside_bbox(footprints_lonlat(src.transform, src.crs, rows, cols, s), bbox)
        rows, cols = rows[keep], cols[keep]
    what = f"whole {TILE_SIZE}×{TILE_SIZE}-pixel tile" if s == TILE_SIZE else f"whole {s}×{s}-pixel cell"
    if len(rows) == 0:
        side = abs(src.transform.a) * s
        raise GeoError(
            f"The rectangle is too small: it holds no {what} "
            f"(one is about {side:g} × {side:g} in the scene's units). Draw a larger rectangle."
        )
    span = Span(int(rows.min()), int(rows.max()) + 1, int(cols.min()), int(cols.max()) + 1)
    n_windows = windows_covering(span, s, window_grid_shape(src.height, src.width, s)).size
    if n_windows > max_tiles:
        at = "" if s == TILE_SIZE else f" at stride {s} ({n_windows:,} windows of 64×64 px)"
        raise GeoError(
            f"The rectangle needs {n_windows:,} tiles{at}; the limit is {max_tiles:,} per area. "
            "Draw a smaller rectangle" + ("" if s == TILE_SIZE else ", choose a coarser stride")
            + ", or classify whole large scenes with the command line: "
            "`python -m eurosat.classify SCENE.tif --out classes.tif`."
        )
    return rows.astype(np.int64), cols.astype(np.int64)


# --------------------------------------------------------------------------- results


def _lat_lon_text(lat: float, lon: float) -> str:
    return f"{abs(lat):.2f}°{'N' if lat >= 0 else 'S'}, {abs(lon):.2f}°{'E' if lon >= 0 else 'W'}"


@dataclass
class AreaResult:
    """Classified cells of an area (or a whole scene) on a grid, in row-major order.

    A cell is ``cell`` × ``cell`` pixels of the scene: a whole 64×64 tile at stride 64, a half or
    quarter tile at stride 32 or 16, its probabilities blended from the windows covering it
    (:mod:`eurosat.cells`). "Tile" below means a cell.

    Every tile has a model answer (``probs``) and a quality (``quality``: clear, cloud, shadow,
    no-data fractions); ``thresholds`` decide which tiles are shown as land (:attr:`codes`). Change
    them with :meth:`with_thresholds` (no reclassification).

    Attributes:
        tiles: uint8 (N, 64, 64, 3) on the model's 0-255 scale, per cell the window it is most
            central in (the tile itself at stride 64); (0, 64, 64, 3) when made with
            ``keep_tiles=False`` (the command line, to bound memory).
        probs: float32 (N, 10) calibrated class probabilities, :data:`eurosat.classes.CLASS_NAMES` order.
        rows, cols: int64 (N,) cell indexes in the scene's cell grid (pixel row ``cell · row``).
        footprints: float64 (N, 4, 2) lon/lat corners (ll, lr, ur, ul).
        areas_km2: float64 (N,) geodesic area of each tile.
        crs_wkt: the scene CRS; transform: the scene's pixel transform (6 numbers).
        scene_path: the scene file; bbox: the lon/lat rectangle asked for (None: whole scene).
        spec: bands and offset used.
        quality: per-tile pixel shares from :mod:`eurosat.masks`.
        thresholds: the land / cloud / uncertain rule.
        provenance: model file and hash, calibration, mask source, imagery facts (export tags).
        cell: pixels per cell side (the stride: 64, 32 or 16).
    """

    tiles: np.ndarray
    probs: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    footprints: np.ndarray
    areas_km2: np.ndarray
    crs_wkt: str
    transform: tuple[float, ...]
    scene_path: str
    bbox: BBox | None = None
    spec: BandSpec = field(default_factory=BandSpec)
    quality: TileQuality | None = None
    thresholds: Thresholds = field(default_factory=Thresholds)
    provenance: dict = field(default_factory=dict)
    cell: int = TILE_SIZE

    def __post_init__(self) -> None:
        if self.quality is None:
            self.quality = TileQuality.all_clear(len(self.probs))

    @property
    def tile_quality(self) -> TileQuality:
        """The per-tile quality (never None after construction)."""
        assert self.quality is not None
        return self.quality

    def with_thresholds(self, thresholds: Thresholds) -> AreaResult:
        """The same tiles under another land / cloud / uncertain rule."""
        return replace(self, thresholds=thresholds)

    @property
    def n_tiles(self) -> int:
        """Number of tiles read (every status)."""
        return len(self.probs)

    @property
    def labels(self) -> np.ndarray:
        """The model's top class index per tile, whatever its status: int64 (N,)."""
        return self.probs.argmax(axis=1)

    @property
    def codes(self) -> np.ndarray:
        """Code per tile: class 0-9, 253 cloud / no data, 254 uncertain (:mod:`eurosat.decision`)."""
        return tile_codes(self.probs, self.tile_quality.clear, self.thresholds)

    @property
    def status(self) -> np.ndarray:
        """``land`` / ``cloud`` / ``uncertain`` per tile: object (N,)."""
        return code_status(self.codes)

    @property
    def is_land(self) -> np.ndarray:
        """Tiles shown as a land class: bool (N,)."""
        return self.codes < NUM_CLASSES

    @property
    def n_land(self) -> int:
        """Number of tiles shown as a land class."""
        return int(self.is_land.sum())

    def status_summary(self) -> pd.DataFrame:
        """Tiles, share and km² of land / cloud or no data / uncertain (all three rows, in that order)."""
        codes = self.codes
        rows = []
        for label, sel, colour in (("Land (classified)", codes < NUM_CLASSES, "#4c9a2a"),
                                   (CLOUD_LABEL, codes == CLOUD_CODE, CLOUD_COLOR),
                                   (UNCERTAIN_LABEL, codes == UNCERTAIN_CODE, UNCERTAIN_COLOR)):
            rows.append({"status": label, "tiles": int(sel.sum()), "share": sel.sum() / max(1, self.n_tiles),
                         "area_km2": float(self.areas_km2[sel].sum()), "color": colour})
        return pd.DataFrame(rows)

    @property
    def confidence(self) -> np.ndarray:
        """Probability of the predicted class per tile: float32 (N,)."""
        return self.probs.max(axis=1)

    @property
    def centers(self) -> np.ndarray:
        """Tile centres in lon/lat: float64 (N, 2)."""
        return self.footprints.mean(axis=1)

    @property
    def scene_name(self) -> str:
        """File name of the scene."""
        return Path(self.scene_path).name

    @property
    def total_area_km2(self) -> float:
        """Area of all classified tiles."""
        return float(self.areas_km2.sum())

    @property
    def unit(self) -> str:
        """What one row is called: ``tile`` at stride 64, else ``cell``."""
        return "tile" if self.cell == TILE_SIZE else "cell"

    def tile_label(self, i: int) -> str:
        """Human label of cell ``i``, e.g. ``tile r3 c5 (52.49°N, 12.61°E)`` or ``cell r6 c10 (...)``."""
        lon, lat = self.centers[i]
        return f"{self.unit} r{int(self.rows[i])} c{int(self.cols[i])} ({_lat_lon_text(lat, lon)})"

    def summary(self) -> pd.DataFrame:
        """Per-class tiles, share (0-1) of the **classified land** and area (km²), largest first.

        Cloud / no-data and uncertain tiles are not counted (see :meth:`status_summary`).
        """
        land = self.is_land
        labels = self.labels[land]
        counts = np.bincount(labels, minlength=NUM_CLASSES)
        area = np.bincount(labels, weights=self.areas_km2[land], minlength=NUM_CLASSES)
        df = pd.DataFrame({
            "class": list(CLASS_NAMES),
            "tiles": counts,
            "share": counts / max(1, int(land.sum())),
            "area_km2": area,
            "color": [CLASS_COLORS[c] for c in CLASS_NAMES],
        })
        df = df[df.tiles > 0].sort_values(["tiles", "class"], ascending=[False, True])
        return df.reset_index(drop=True)

    @property
    def dominant_class(self) -> str | None:
        """The class of most classified land tiles (ties: first in CLASS_NAMES order); None: no land."""
        land = self.is_land
        if not land.any():
            return None
        return CLASS_NAMES[int(np.bincount(self.labels[land], minlength=NUM_CLASSES).argmax())]

    def grid_bounds(self) -> tuple[int, int, int, int]:
        """Half-open cell ranges (r0, r1, c0, c1) enclosing the classified cells."""
        return int(self.rows.min()), int(self.rows.max()) + 1, int(self.cols.min()), int(self.cols.max()) + 1

    def class_grid(self, nodata: int = 255) -> np.ndarray:
        """uint8 (cell rows, cell cols) over :meth:`grid_bounds`: the cell codes (class 0-9, 253
        cloud / no data, 254 uncertain), ``nodata`` where no cell was classified."""
        r0, r1, c0, c1 = self.grid_bounds()
        grid = np.full((r1 - r0, c1 - c0), nodata, dtype=np.uint8)
        grid[self.rows - r0, self.cols - c0] = self.codes
        return grid

    def grid_transform(self) -> Affine:
        """Affine transform of :meth:`class_grid` (cell × cell pixels per value) in the scene CRS."""
        r0, _, c0, _ = self.grid_bounds()
        origin = Affine(*self.transform[:6]) @ Affine.translation(c0 * self.cell, r0 * self.cell)
        return origin @ Affine.scale(self.cell)

    def prob_grid(self) -> np.ndarray:
        """float32 (10, cell rows, cell cols) over :meth:`grid_bounds`: the probabilities; NaN where no
        cell was classified."""
        r0, r1, c0, c1 = self.grid_bounds()
        grid = np.full((NUM_CLASSES, r1 - r0, c1 - c0), np.nan, dtype=np.float32)
        grid[:, self.rows - r0, self.cols - c0] = self.probs.T
        return grid


# --------------------------------------------------------------------------- reading and classifying


def strip_rows_for(src: DatasetReader, tile: int = TILE_SIZE) -> int:
    """Tile rows per read: a whole internal block height when it is a multiple of a tile, else 1."""
    block_h = src.block_shapes[0][0]
    return max(1, min(MAX_STRIP_ROWS, block_h // tile)) if block_h % tile == 0 else 1


def cell_rows_per_strip(src: DatasetReader, stride: int, strip_rows: int | None = None) -> int:
    """Window rows (and cell rows) per read: ``strip_rows`` tile rows' worth at this stride.

    Strips are counted from the top of the raster, so a task that classifies some cell rows reads
    and masks exactly the pixels a whole-scene run reads for them (Dask gives the same map).
    """
    return (strip_rows or strip_rows_for(src)) * windows_per_cell(stride)


def iter_strips(rows: np.ndarray, strip_rows: int) -> Iterator[np.ndarray]:
    """Indexes into ``rows`` (row-major sorted) grouped by blocks of ``strip_rows`` tile rows."""
    if len(rows) == 0:
        return
    keys = rows // strip_rows
    bounds = np.flatnonzero(np.diff(keys)) + 1
    yield from np.split(np.arange(len(rows)), bounds)


def _read_window(src: DatasetReader, spec: BandSpec, window: Window) -> MaskedRead:
    try:
        return read_rgb_masked(src, spec, window)
    except RasterioIOError as exc:  # a block that cannot be decoded: truncated or damaged file
        detail = exc.__cause__ or exc
        raise GeoError(
            f"'{Path(src.name).name}' could not be read at pixel rows {int(window.row_off)}–"
            f"{int(window.row_off + window.height) - 1}: the file looks damaged "
            f"or truncated ({detail}). Check it with `gdalinfo -checksum`, or export it again."
        ) from exc


def _masks_of(read: MaskedRead, tests: RGBTests | None) -> PixelMasks:
    if read.scl is not None:
        return scl_masks(read.scl, read.nodata)
    if tests is not None:
        return rgb_masks(read.rgb, read.nodata, tests)
    return nodata_masks(read.nodata)


def read_tiles(src: DatasetReader, spec: BandSpec, rows: np.ndarray, cols: np.ndarray,
               tests: RGBTests | None = DEFAULT_TESTS) -> tuple[np.ndarray, TileQuality]:
    """Read whole 64×64 tiles (one window over their rows and columns) with their quality.

    The masks are computed over the whole window read (clouds and their shadows span tiles):
    from the SCL band when ``spec`` names one, else from the visible-band tests (``tests``; None:
    no-data only).

    Returns:
        (uint8 (N, 64, 64, 3) on the EuroSAT scale, the tiles' :class:`TileQuality`).
    """
    t = TILE_SIZE
    r0, r1, c0, c1 = int(rows.min()), int(rows.max()) + 1, int(cols.min()), int(cols.max()) + 1
    read = _read_window(src, spec, Window(c0 * t, r0 * t, (c1 - c0) * t, (r1 - r0) * t))
    quality = tile_quality(_masks_of(read, tests), t).take((rows - r0) * (c1 - c0) + (cols - c0))
    grid = read.rgb.reshape(r1 - r0, t, c1 - c0, t, 3).swapaxes(1, 2)  # (rows, cols, 64, 64, 3)
    return np.ascontiguousarray(grid[rows - r0, cols - c0]), quality


def classify_tiles(classifier: Classifier, tiles: np.ndarray, batch: int = BATCH_TILES) -> np.ndarray:
    """Probabilities for uint8 tiles (N, 64, 64, 3), ``batch`` at a time: float32 (N, 10)."""
    out = np.empty((len(tiles), NUM_CLASSES), dtype=np.float32)
    for i in range(0, len(tiles), batch):
        out[i : i + batch] = classifier.predict(tiles[i : i + batch])
    return out


class _Batcher:
    """Windows wait here so the model gets full batches of :data:`BATCH_TILES`, then go to the blend.

    Holds fewer than ``BATCH_TILES`` + one chunk of windows.
    """

    def __init__(self, classifier: Classifier, blend: CellBlend, total: int, progress: Progress | None):
        self.classifier, self.blend, self.total, self.progress = classifier, blend, total, progress
        self.done = 0
        self._parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []

    def add(self, tiles: np.ndarray, rows: np.ndarray, cols: np.ndarray, weights: np.ndarray) -> None:
        self._parts.append((tiles, rows, cols, weights))
        if sum(len(p[0]) for p in self._parts) >= BATCH_TILES:
            self.flush(final=False)

    def flush(self, final: bool) -> None:
        if not self._parts:
            return
        tiles, rows, cols, weights = (np.concatenate([p[i] for p in self._parts]) for i in range(4))
        k = len(tiles) if final else len(tiles) // BATCH_TILES * BATCH_TILES
        if k:
            self.blend.add(rows[:k], cols[:k], classify_tiles(self.classifier, tiles[:k]), weights[:k])
            self.done += k
            if self.progress is not None:
                self.progress(self.done, self.total)
        self._parts = [(tiles[k:], rows[k:], cols[k:], weights[k:])] if k < len(tiles) else []


def classify_tiles_at(
    src: DatasetReader,
    rows: np.ndarray,
    cols: np.ndarray,
    classifier: Classifier,
    spec: BandSpec,
    keep_tiles: bool = True,
    progress: Progress | None = None,
    strip_rows: int | None = None,
    bbox: BBox | None = None,
    thresholds: Thresholds | None = None,
    tests: RGBTests | None = DEFAULT_TESTS,
    provenance: dict | None = None,
    stride: int = TILE_SIZE,
    centre: bool = False,
) -> AreaResult:
    """Read, mask and classify the given cells strip by strip (the one path of page, CLI and Dask).

    Every window covering one of the cells is classified once (:mod:`eurosat.cells`); each cell's
    probabilities blend its windows, each cell's quality is its own pixels' (masks computed over
    the strip read). Memory holds one strip of pixels, a batch of windows and the cells' sums.

    Args:
        src: open, validated raster.
        rows, cols: cell indexes (stride × stride pixels each), row-major sorted.
        classifier: anything with ``predict``.
        spec: bands and offset.
        keep_tiles: keep, per cell, the 64×64 window it is most central in (page: Explain) or not
            (CLI, bounded memory).
        progress: called with (windows done, windows in all) after each batch.
        strip_rows: tile rows' worth of pixels per read (default: from the file's block height).
        bbox: the rectangle asked for, recorded in the result.
        thresholds: the land / cloud / uncertain rule (default :class:`Thresholds`).
        tests: visible-band cloud tests used when the file has no SCL band (None: no-data only).
        provenance: facts recorded in the result and its exports.
        stride: 64, 32 or 16 pixels (:data:`eurosat.cells.STRIDES`).
        centre: centre-weight each window's cells in the blend.
    """
    check_spec(spec, src.count)
    s, k = check_stride(stride), windows_per_cell(stride)
    rows, cols = np.asarray(rows, np.int64), np.asarray(cols, np.int64)
    if len(rows) == 0:
        raise GeoError("No cell to classify.")
    n_windows = window_grid_shape(src.height, src.width, s)
    wanted = Span(int(rows.min()), int(rows.max()) + 1, int(cols.min()), int(cols.max()) + 1)
    win = windows_covering(wanted, s, n_windows)
    span = cells_of_windows(win, s)  # every cell those windows reach
    blend = CellBlend(span, s, centre)
    batcher = _Batcher(classifier, blend, win.size, progress)
    quality = {f: np.zeros(span.shape, np.float32) for f in ("clear", "nodata", "cloud", "shadow", "snow")}
    kept = np.zeros((*win.shape, TILE_SIZE, TILE_SIZE, 3), np.uint8) if keep_tiles else None
    m = cell_rows_per_strip(src, s, strip_rows)
    last_strip = (n_windows[0] - 1) // m
    source = "none"
    for j in range(win.r0 // m, (win.r1 - 1) // m + 1):
        jr0, jr1 = j * m, min((j + 1) * m, n_windows[0])  # the strip's window rows (whole strip: same masks)
        read = _read_window(src, spec, Window(s * win.c0, s * jr0, s * (win.c1 - win.c0 - 1) + TILE_SIZE,
                                              s * (jr1 - jr0 - 1) + TILE_SIZE))
        masks = _masks_of(read, tests)
        source = masks.source
        cellq = tile_quality(masks, s)  # the read holds whole cells: (jr1 - jr0 - 1 + k) × (win cols - 1 + k)
        shape = (jr1 - jr0 - 1 + k, win.c1 - win.c0 - 1 + k)
        # this strip owns cell rows jr0 .. jr0 + m - 1 (the last strip: down to the last cell row)
        own0, own1 = max(jr0, span.r0), min(span.r1, jr0 + m if j < last_strip else span.r1)
        for f in quality:
            grid = getattr(cellq, f).reshape(shape)
            quality[f][own0 - span.r0 : own1 - span.r0, :] = grid[own0 - jr0 : own1 - jr0, :]
        window_clear = window_means(cellq.clear.reshape(shape), k)  # (jr1 - jr0, win cols)
        views = np.lib.stride_tricks.sliding_window_view(read.rgb, (TILE_SIZE, TILE_SIZE, 3))[::s, ::s, 0]
        ncols = win.c1 - win.c0
        for i in range(max(win.r0, jr0), min(win.r1, jr1)):
            for c_start in range(0, ncols, BATCH_TILES):  # bounded copies, however wide the scene
                c_stop = min(ncols, c_start + BATCH_TILES)
                tiles = np.ascontiguousarray(views[i - jr0, c_start:c_stop])
                wcols = np.arange(win.c0 + c_start, win.c0 + c_stop)
                if kept is not None:
                    kept[i - win.r0, c_start:c_stop] = tiles
                batcher.add(tiles, np.full(len(tiles), i), wcols, window_clear[i - jr0, c_start:c_stop])
    batcher.flush(final=True)
    at = (rows - span.r0, cols - span.c0)
    probs = blend.probabilities()[at]
    tiles_all = np.zeros((0, TILE_SIZE, TILE_SIZE, 3), np.uint8)
    if kept is not None:  # per cell, the window it is most central in
        wr = np.clip(rows - k // 2, win.r0, win.r1 - 1) - win.r0
        wc = np.clip(cols - k // 2, win.c0, win.c1 - 1) - win.c0
        tiles_all = kept[wr, wc]
        del kept
    footprints = footprints_lonlat(src.transform, src.crs, rows, cols, s)
    blend_note = "one window per cell" if k == 1 else (
        f"mean of up to {k * k} windows per cell, weighted by clear share"
        + (" and centre (tent)" if centre else ""))
    return AreaResult(
        tiles=tiles_all, probs=probs, rows=rows, cols=cols, footprints=footprints,
        areas_km2=footprint_areas_km2(footprints), crs_wkt=src.crs.to_wkt(),
        transform=tuple(src.transform)[:6], scene_path=str(src.name), bbox=bbox, spec=spec,
        quality=TileQuality(**{f: v[at] for f, v in quality.items()}, source=source),
        thresholds=thresholds or Thresholds(),
        provenance={**(provenance or {}), "mask_source": source, "stride_px": s, "blend": blend_note},
        cell=s,
    )


def spec_for(src: DatasetReader, spec: BandSpec | None) -> BandSpec:
    """``spec``, or the bands, offset and SCL band the open file suggests."""
    if spec is not None:
        return spec
    return BandSpec(default_rgb_bands(src.descriptions, src.colorinterp),
                    src.dtypes[0] in DN_DTYPES and file_declares_offset(src),
                    scl_band_from_descriptions(src.descriptions))


def classify_area(
    path: str | Path,
    bbox: BBox,
    classifier: Classifier,
    spec: BandSpec | None = None,
    max_tiles: int = MAX_TILES_PER_AREA,
    keep_tiles: bool = True,
    progress: Progress | None = None,
    thresholds: Thresholds | None = None,
    tests: RGBTests | None = DEFAULT_TESTS,
    provenance: dict | None = None,
    stride: int = TILE_SIZE,
    centre: bool = False,
) -> AreaResult:
    """Classify every whole cell of a scene inside a lon/lat rectangle (west, south, east, north).

    ``thresholds``, ``tests``, ``provenance``, ``stride`` and ``centre`` as in :func:`classify_tiles_at`;
    ``max_tiles`` bounds the 64×64 windows run through the model.

    Raises:
        GeoError: bad file, rectangle outside the scene, too small or too large.
    """
    with open_raster(path) as src:
        validate(src)
        rows, cols = select_area(src, bbox, max_tiles, stride)
        return classify_tiles_at(src, rows, cols, classifier, spec_for(src, spec), keep_tiles, progress,
                                 bbox=bbox, thresholds=thresholds, tests=tests, provenance=provenance,
                                 stride=stride, centre=centre)


def classify_scene(
    path: str | Path,
    classifier: Classifier,
    spec: BandSpec | None = None,
    max_tiles: int | None = None,
    keep_tiles: bool = True,
    progress: Progress | None = None,
    strip_rows: int | None = None,
    thresholds: Thresholds | None = None,
    tests: RGBTests | None = DEFAULT_TESTS,
    provenance: dict | None = None,
    stride: int = TILE_SIZE,
    centre: bool = False,
) -> AreaResult:
    """Classify every whole cell of a scene, strip by strip.

    Args:
        max_tiles: refuse scenes needing more 64×64 windows (the page passes its limit; the CLI None).
        thresholds, tests, provenance, stride, centre: as in :func:`classify_tiles_at`.

    Raises:
        GeoError: bad file, no whole tile, or more than ``max_tiles`` windows.
    """
    s = check_stride(stride)
    with open_raster(path) as src:
        validate(src)
        n_rows, n_cols = cell_grid_shape(src.height, src.width, s)
        if n_rows * n_cols == 0:
            raise GeoError(f"'{Path(path).name}' is smaller than one {TILE_SIZE}×{TILE_SIZE} tile.")
        n_wr, n_wc = window_grid_shape(src.height, src.width, s)
        if max_tiles is not None and n_wr * n_wc > max_tiles:
            at = "" if s == TILE_SIZE else f" at stride {s}"
            raise GeoError(
                f"The scene needs {n_wr * n_wc:,} tiles{at}; the page classifies at most {max_tiles:,}. "
                "Draw a rectangle" + ("" if s == TILE_SIZE else ", choose a coarser stride")
                + ", or use the command line: `python -m eurosat.classify SCENE.tif --out classes.tif`."
            )
        rr, cc = np.meshgrid(np.arange(n_rows), np.arange(n_cols), indexing="ij")
        return classify_tiles_at(src, rr.ravel(), cc.ravel(), classifier, spec_for(src, spec), keep_tiles,
                                 progress, strip_rows, thresholds=thresholds, tests=tests,
                                 provenance=provenance, stride=s, centre=centre)


def read_cell_chip(result: AreaResult, index: int, margin: int = 32
                   ) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A cell of a result with ``margin`` pixels of context around it, read again from its scene.

    For labelling a sampled cell by eye (:mod:`eurosat.accuracy`): the same bands and scaling as the
    classification; the context is clipped at the scene's edges.

    Args:
        result: a classified area; index: the cell (0 .. ``result.n_tiles - 1``).
        margin: pixels of context on each side.

    Returns:
        (uint8 (H, W, 3) chip on the EuroSAT scale, (top, left, bottom, right) of the cell inside it,
        half-open pixel bounds).

    Raises:
        GeoError: the scene file is gone or cannot be read.
    """
    s = result.cell
    r0, c0 = int(result.rows[index]) * s, int(result.cols[index]) * s
    with open_raster(result.scene_path) as src:  # GeoError when the file is gone or unreadable
        top, left = max(0, r0 - margin), max(0, c0 - margin)
        bottom, right = min(src.height, r0 + s + margin), min(src.width, c0 + s + margin)
        window = Window(left, top, right - left, bottom - top)
        read = _read_window(src, spec_for(src, result.spec), window)
    return read.rgb, (r0 - top, c0 - left, r0 - top + s, c0 - left + s)
