"""Raster I/O seam: open and validate GeoTIFFs, lon/lat geometry, radiometry to the EuroSAT scale.

Everything that reads pixels from a GeoTIFF goes through :func:`read_rgb`, which holds the
project's only band-row-col (CHW) to row-col-band (HWC) transpose (:func:`chw_to_hwc`).

Radiometry (``shared/data/README.md``): the model sees EuroSAT RGB, i.e. Sentinel-2 L1C
digital numbers (DN) 0..2750 mapped linearly to 0..255. So

* 8-bit files are taken as already on that scale (as the shipped scene is);
* 16-bit files are taken as Sentinel-2 DN and scaled ``(DN - offset) * 255 / 2750``, clipped,
  where ``offset`` is 1000 for products of processing baseline >= 04.00 (the file says so in
  its metadata, or the user ticks it) and 0 otherwise.
"""

from __future__ import annotations

import contextlib
import re
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import ColorInterp, Resampling
from rasterio.errors import NotGeoreferencedWarning, RasterioError, RasterioIOError
from rasterio.io import DatasetReader
from rasterio.warp import calculate_default_transform, reproject, transform_bounds
from rasterio.windows import Window, from_bounds

from eurosat.classes import ATTRIBUTION, BASELINE_04_OFFSET, EUROSAT_DN_MAX
from eurosat.errors import GeoError

LONLAT = "EPSG:4326"
WEB_MERCATOR = "EPSG:3857"
SUPPORTED_DTYPES: tuple[str, ...] = ("uint8", "uint16", "int16")
#: Pixel types read as Sentinel-2 digital numbers (scaled DN·255/2750; int16 negatives clip to 0).
DN_DTYPES: tuple[str, ...] = ("uint16", "int16")
_SCL_PATTERN = re.compile(r"\bSCL\b|scene.?classification", re.IGNORECASE)
#: Ground pixel sizes (m) treated as "Sentinel-2 10 m"; outside this the page warns.
PIXEL_SIZE_OK_M: tuple[float, float] = (8.0, 12.5)

BBox = tuple[float, float, float, float]  # (west, south, east, north) in degrees


@dataclass(frozen=True)
class BandSpec:
    """Which bands make red, green, blue, and whether to remove the baseline-04.00 offset.

    Attributes:
        bands: 1-based band indexes (red, green, blue).
        offset: subtract 1000 DN before scaling (16-bit files only).
        scl_band: 1-based band holding the Sentinel-2 L2A scene classification (SCL), or None:
            then clouds and shadows come from the visible-band tests (:mod:`eurosat.masks`).
    """

    bands: tuple[int, int, int] = (1, 2, 3)
    offset: bool = False
    scl_band: int | None = None


@dataclass(frozen=True)
class SceneInfo:
    """What the app needs to know about a GeoTIFF, read once (cheap: no pixels).

    Attributes:
        path: the file.
        width, height: pixels.
        count: bands.
        dtype: ``uint8``, ``uint16`` or ``int16``.
        crs_wkt: the raster CRS as WKT; ``crs_name`` a short name such as ``EPSG:32633``.
        transform: pixel -> CRS affine transform as 6 numbers (a, b, c, d, e, f).
        bounds_lonlat: (west, south, east, north) in degrees, the envelope of the raster.
        descriptions: band descriptions ('' where none).
        default_bands: 1-based (red, green, blue) guessed from descriptions / colour interpretation.
        offset_in_file: the metadata declares the +1000 DN offset (baseline >= 04.00).
        pixel_size_m: ground size of one pixel at the scene centre (metres, geodesic).
        attribution: text to show with the imagery.
    """

    path: str
    width: int
    height: int
    count: int
    dtype: str
    crs_wkt: str
    crs_name: str
    transform: tuple[float, float, float, float, float, float]
    bounds_lonlat: BBox
    descriptions: tuple[str, ...]
    default_bands: tuple[int, int, int]
    offset_in_file: bool
    pixel_size_m: float
    attribution: str

    @property
    def affine(self) -> Affine:
        """The transform as an :class:`affine.Affine`."""
        return Affine(*self.transform)

    @property
    def is_dn(self) -> bool:
        """16-bit Sentinel-2 digital numbers (scaled), as opposed to 8-bit RGB (used as is)."""
        return self.dtype in DN_DTYPES

    @property
    def name(self) -> str:
        """File name."""
        return Path(self.path).name

    @property
    def pixel_size_ok(self) -> bool:
        """Pixel size close to the 10 m the model was trained on."""
        return PIXEL_SIZE_OK_M[0] <= self.pixel_size_m <= PIXEL_SIZE_OK_M[1]

    def default_spec(self) -> BandSpec:
        """Band selection and offset as the file suggests them."""
        return BandSpec(self.default_bands, self.offset_in_file and self.is_dn,
                        scl_band_from_descriptions(self.descriptions))


def scl_band_from_descriptions(descriptions: Sequence[str | None]) -> int | None:
    """1-based index of the band described as SCL / scene classification, or None."""
    for i, d in enumerate(descriptions, start=1):
        if d and _SCL_PATTERN.search(d):
            return i
    return None


@contextlib.contextmanager
def open_raster(path: str | Path) -> Iterator[DatasetReader]:
    """Open a raster read-only, turning I/O failures into :class:`GeoError`.

    Raises:
        GeoError: missing file, or a file GDAL cannot read as a raster.
    """
    path = Path(path)
    if not path.is_file():
        raise GeoError(f"Scene file '{path}' not found.")
    try:
        with warnings.catch_warnings():  # validate() turns a missing georeference into a GeoError
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            src = rasterio.open(path)
    except RasterioIOError as exc:
        raise GeoError(
            f"'{path.name}' cannot be read as a GeoTIFF ({exc}). Export the image as a GeoTIFF "
            "(e.g. `gdal_translate -of GTiff in out.tif`)."
        ) from exc
    with src:
        yield src


def validate(src: DatasetReader) -> None:
    """Check that a raster is usable: georeferenced, north-up, 3+ bands, uint8, uint16 or int16.

    Raises:
        GeoError: with what is wrong and how to fix it.
    """
    name = Path(src.name).name
    if src.crs is None or src.transform == Affine.identity():
        raise GeoError(
            f"'{name}' has no georeferencing (no coordinate reference system or geotransform), "
            "so it cannot be placed on the map. Use a GeoTIFF, or georeference it first "
            "(e.g. `gdalwarp -t_srs EPSG:32633 in.tif out.tif` for an image with GCPs)."
        )
    if not (src.crs.is_geographic or src.crs.is_projected):
        raise GeoError(f"'{name}' has a local (engineering) coordinate system, not one on the Earth, so it "
                       "cannot be placed on the map. Georeference it in a geographic or projected CRS "
                       "(e.g. `gdalwarp -t_srs EPSG:32633`).")
    if src.transform.b != 0 or src.transform.d != 0:
        raise GeoError(f"'{name}' has a rotated pixel grid; warp it to a north-up grid first (gdalwarp).")
    if src.transform.e >= 0 or src.transform.a <= 0:
        raise GeoError(f"'{name}' is stored south-up or mirrored (pixel size {src.transform.a:g}, "
                       f"{src.transform.e:g}); warp it to a north-up grid first (`gdalwarp in.tif out.tif`).")
    if src.count < 3:
        raise GeoError(
            f"'{name}' has {src.count} band{'s' if src.count != 1 else ''}; the model needs red, green "
            "and blue (3 bands, or a multi-band Sentinel-2 file with B4, B3, B2)."
        )
    dtype = src.dtypes[0]
    if dtype not in SUPPORTED_DTYPES or len(set(src.dtypes)) != 1:
        raise GeoError(
            f"'{name}' holds {dtype} pixels; supported are 8-bit RGB (uint8, used as is) and 16-bit "
            "Sentinel-2 digital numbers (uint16 or int16, scaled DN·255/2750)."
        )


_BAND_PATTERNS = {
    "red": re.compile(r"\bB0?4\b|\bred\b", re.IGNORECASE),
    "green": re.compile(r"\bB0?3\b|\bgreen\b", re.IGNORECASE),
    "blue": re.compile(r"\bB0?2\b|\bblue\b", re.IGNORECASE),
}
_COLORINTERP = {"red": ColorInterp.red, "green": ColorInterp.green, "blue": ColorInterp.blue}


def default_rgb_bands(
    descriptions: Sequence[str | None], colorinterp: Sequence[ColorInterp] | None = None
) -> tuple[int, int, int]:
    """Guess the 1-based (red, green, blue) bands.

    Band descriptions naming Sentinel-2 B4/B3/B2 (or red/green/blue) win, then the colour
    interpretation, else bands 1, 2, 3.
    """
    picks: list[int] = []
    for colour in ("red", "green", "blue"):
        found = [i + 1 for i, d in enumerate(descriptions) if d and _BAND_PATTERNS[colour].search(d)]
        if not found and colorinterp is not None:
            found = [i + 1 for i, c in enumerate(colorinterp) if c == _COLORINTERP[colour]]
        picks.append(found[0] if found else 0)
    if 0 in picks or len(set(picks)) < 3:
        return (1, 2, 3)
    return (picks[0], picks[1], picks[2])


_OFFSET_TAGS = ("RADIO_ADD_OFFSET", "BOA_ADD_OFFSET")


def file_declares_offset(src: DatasetReader) -> bool:
    """True if the metadata says the DN carry the +1000 offset of processing baseline >= 04.00.

    Looks at dataset and band tags ``RADIO_ADD_OFFSET`` / ``BOA_ADD_OFFSET`` (-1000), a
    ``PROCESSING_BASELINE`` tag >= 4.0, and GDAL band offsets of -1000.
    """
    tags = [src.tags()] + [src.tags(b) for b in src.indexes]
    for t in tags:
        for key, value in t.items():
            k = key.upper()
            try:
                number = float(value)
            except ValueError:
                continue
            if any(k.endswith(o) for o in _OFFSET_TAGS) and number == -BASELINE_04_OFFSET:
                return True
            if k.endswith("PROCESSING_BASELINE") and number >= 4.0:
                return True
    return any(o == -BASELINE_04_OFFSET for o in (src.offsets or ()))


def lonlat_bounds(src: DatasetReader) -> BBox:
    """Envelope of the raster in lon/lat degrees (west, south, east, north), edges densified.

    Raises:
        GeoError: the corners cannot be placed on the Earth (coordinates far outside the CRS's
            area of use, or a CRS PROJ cannot transform).
    """
    name = Path(src.name).name
    try:
        w, s, e, n = transform_bounds(src.crs, LONLAT, *src.bounds, densify_pts=21)
    except Exception as exc:  # GDAL's CPLE_* errors are not RasterioError; PROJ raises others
        corners = tuple(round(v) for v in src.bounds)
        raise GeoError(f"'{name}' cannot be placed on the Earth: its corners {corners} do not transform "
                       f"from {src.crs.to_string() or 'its CRS'} to lon/lat ({exc}). Check its "
                       "georeferencing (gdalinfo).") from exc
    box = (float(w), float(s), float(e), float(n))
    if all(np.isfinite(box)) and box[0] > box[2]:
        raise GeoError(f"'{name}' crosses the antimeridian (180°, lon/lat {box}); the map cannot show it in "
                       "one piece. Split it at 180° (gdalwarp -te) and open each half.")
    if not all(np.isfinite(box)) or not (-180.0 <= box[0] < box[2] <= 180.0
                                         and -90.0 <= box[1] < box[3] <= 90.0):
        raise GeoError(f"'{name}' lies outside the Earth in lon/lat ({box}): its coordinates do not fit its "
                       f"CRS {src.crs.to_string()}. Check its georeferencing (gdalinfo).")
    return box


def ground_pixel_size(crs: CRS, transform: Affine, width: int, height: int) -> float:
    """Geodesic size (m) of one pixel step along x at the raster centre."""
    from pyproj import Geod, Transformer

    to_ll = Transformer.from_crs(crs, LONLAT, always_xy=True)
    x0, y0 = transform @ (width / 2, height / 2)
    x1, y1 = transform @ (width / 2 + 1, height / 2)
    (lon0, lon1), (lat0, lat1) = to_ll.transform([x0, x1], [y0, y1])
    _, _, dist = Geod(ellps="WGS84").inv(lon0, lat0, lon1, lat1)
    return float(dist)


def inspect_scene(path: str | Path) -> SceneInfo:
    """Open, validate and describe a GeoTIFF (reads metadata only).

    Raises:
        GeoError: unreadable, not georeferenced, wrong band count or data type.
    """
    with open_raster(path) as src:
        validate(src)
        descriptions = tuple(d or "" for d in src.descriptions)
        tags = src.tags()
        return SceneInfo(
            path=str(Path(path)),
            width=src.width,
            height=src.height,
            count=src.count,
            dtype=src.dtypes[0],
            crs_wkt=src.crs.to_wkt(),
            crs_name=src.crs.to_string() if src.crs.to_epsg() else src.crs.to_wkt()[:40],
            transform=tuple(src.transform)[:6],
            bounds_lonlat=lonlat_bounds(src),
            descriptions=descriptions,
            default_bands=default_rgb_bands(src.descriptions, src.colorinterp),
            offset_in_file=file_declares_offset(src),
            pixel_size_m=ground_pixel_size(src.crs, src.transform, src.width, src.height),
            attribution=tags.get("ATTRIBUTION", ATTRIBUTION),
        )


def check_spec(spec: BandSpec, count: int) -> None:
    """Raise :class:`GeoError` unless the bands exist in a ``count``-band file."""
    if len(spec.bands) != 3 or any(not 1 <= b <= count for b in spec.bands):
        raise GeoError(f"Bands {spec.bands} do not exist: the file has bands 1 to {count}.")
    if spec.scl_band is not None and not 1 <= spec.scl_band <= count:
        raise GeoError(f"SCL band {spec.scl_band} does not exist: the file has bands 1 to {count}.")


def to_eurosat_scale(pixels: np.ndarray, offset: bool = False) -> np.ndarray:
    """Bring pixels to the EuroSAT 0-255 scale as uint8 (any layout).

    Args:
        pixels: uint8 (returned as is) or uint16 Sentinel-2 DN.
        offset: subtract the 1000 DN of processing baseline >= 04.00 first (uint16 only).

    Returns:
        uint8 array of the same shape: ``clip(round((DN - offset) * 255 / 2750), 0, 255)``.
    """
    if pixels.dtype == np.uint8:
        return pixels
    if pixels.dtype not in (np.uint16, np.int16):
        raise GeoError(f"Unsupported pixel type {pixels.dtype}: expected uint8, uint16 or int16.")
    return dn_to_eurosat(pixels, BASELINE_04_OFFSET if offset else 0.0)


def dn_to_eurosat(dn: np.ndarray, offset_dn: float = 0.0) -> np.ndarray:
    """Sentinel-2 digital numbers to the EuroSAT 0-255 scale (any layout).

    Args:
        dn: integer DN (uint16 as stored in L1C/L2A products).
        offset_dn: DN to subtract first (1000 for processing baseline >= 04.00, else 0).

    Returns:
        uint8 array of the same shape: ``clip(round((DN - offset_dn) * 255 / 2750), 0, 255)``.
    """
    x = dn.astype(np.float32)
    if offset_dn:
        x -= np.float32(offset_dn)
    x *= 255.0 / EUROSAT_DN_MAX
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def chw_to_hwc(chw: np.ndarray) -> np.ndarray:
    """The project's only band-row-col -> row-col-band transpose: (C, H, W) -> (H, W, C)."""
    return np.ascontiguousarray(np.moveaxis(chw, 0, -1))


def read_rgb(
    src: DatasetReader,
    spec: BandSpec,
    window: Window | None = None,
    out_shape: tuple[int, int] | None = None,
    resampling: Resampling = Resampling.nearest,
) -> np.ndarray:
    """Read a window as RGB on the EuroSAT scale.

    Args:
        src: an open raster (validated).
        spec: bands and offset.
        window: pixel window (None: the whole raster).
        out_shape: (height, width) to read decimated (overviews / resampling), or None.
        resampling: used with ``out_shape``.

    Returns:
        uint8 (H, W, 3).
    """
    check_spec(spec, src.count)
    kwargs: dict = {"window": window}
    if out_shape is not None:
        kwargs.update(out_shape=(3, *out_shape), resampling=resampling)
    chw = src.read(list(spec.bands), **kwargs)
    return chw_to_hwc(to_eurosat_scale(chw, spec.offset))


@dataclass
class MaskedRead:
    """A window read for classification: the pixels and what is known about their validity.

    Attributes:
        rgb: uint8 (H, W, 3) on the EuroSAT scale; no-data pixels are 0.
        nodata: bool (H, W): the file's nodata value / mask band / alpha, NaN, all-zero pixels.
        scl: the SCL band (H, W) when the spec names one, else None.
    """

    rgb: np.ndarray
    nodata: np.ndarray
    scl: np.ndarray | None = None


def read_rgb_masked(src: DatasetReader, spec: BandSpec, window: Window) -> MaskedRead:
    """Read a window as RGB on the EuroSAT scale with its no-data mask (and SCL band, if any).

    A no-data value such as 32767 would scale to bright white (a fake cloud): such pixels are
    set to 0 in ``rgb`` and flagged in ``nodata``.
    """
    from eurosat.masks import nodata_from_raw

    check_spec(spec, src.count)
    bands = list(spec.bands)
    raw = src.read(bands, window=window)
    nodata = nodata_from_raw(raw, np.all(src.read_masks(bands, window=window) > 0, axis=0) * 255)
    rgb = chw_to_hwc(to_eurosat_scale(raw, spec.offset))
    rgb[nodata] = 0
    scl = src.read(spec.scl_band, window=window) if spec.scl_band is not None else None
    return MaskedRead(rgb, nodata, scl)


def bbox_window(src: DatasetReader, bbox: BBox) -> Window:
    """Pixel window of the raster covering a lon/lat rectangle, clipped to the raster.

    The rectangle is reprojected to the raster CRS (edges densified); the window is the
    envelope of that shape, so it may hold pixels just outside the rectangle: callers keep
    only tiles whose footprint is inside (:func:`eurosat.tiling.select_area`).

    Raises:
        GeoError: the rectangle is invalid or does not overlap the raster.
    """
    w, s, e, n = bbox
    if not (w < e and s < n and -180 <= w and e <= 180 and -90 <= s and n <= 90):
        raise GeoError(f"Invalid rectangle {bbox}: expected west < east and south < north in degrees.")
    sw, ss, se, sn = lonlat_bounds(src)
    if e <= sw or w >= se or n <= ss or s >= sn:
        raise GeoError(
            f"The rectangle ({w:.4f}, {s:.4f}) – ({e:.4f}, {n:.4f}) is outside the scene, which covers "
            f"W {sw:.4f} S {ss:.4f} E {se:.4f} N {sn:.4f}. Draw it over the image."
        )
    left, bottom, right, top = transform_bounds(LONLAT, src.crs, w, s, e, n, densify_pts=21)
    win = from_bounds(left, bottom, right, top, transform=src.transform)
    full = Window(0, 0, src.width, src.height)
    try:
        return win.intersection(full)
    except RasterioError as exc:  # WindowError: no overlap in raster space
        raise GeoError("The rectangle does not overlap the scene's pixels. Draw it over the image.") from exc


def overlay_rgba(
    src: DatasetReader, spec: BandSpec, max_size: int = 2048
) -> tuple[np.ndarray, BBox]:
    """The scene as an RGBA picture in Web Mercator, for a Leaflet image overlay.

    Leaflet stretches an image overlay linearly between two lon/lat corners in Web Mercator,
    so the scene is warped to EPSG:3857 first (a UTM scene is rotated by the meridian
    convergence; stretching it unwarped would misplace its edges by tens of pixels).
    Large scenes are read decimated (at most ``max_size`` pixels a side): memory is bounded.

    Returns:
        (uint8 (H, W, 4) with alpha 0 outside the scene, (west, south, east, north) lon/lat of it).
    """
    check_spec(spec, src.count)
    factor = max(1.0, max(src.width, src.height) / max_size)
    h, w = max(1, round(src.height / factor)), max(1, round(src.width / factor))
    try:
        chw = src.read(list(spec.bands), out_shape=(3, h, w), resampling=Resampling.average)
    except RasterioIOError as exc:  # pixel blocks that cannot be decoded: truncated or damaged
        raise GeoError(
            f"'{Path(src.name).name}' opens but its pixels cannot be read: the file looks damaged or "
            f"truncated ({exc.__cause__ or exc}). Check it with `gdalinfo -checksum`, or export it again."
        ) from exc
    chw = to_eurosat_scale(chw, spec.offset)
    src_transform = src.transform @ Affine.scale(src.width / w, src.height / h)
    dst_transform, dw, dh = calculate_default_transform(
        src.crs, WEB_MERCATOR, w, h, *src.bounds
    )
    dst = np.zeros((4, dh, dw), dtype=np.uint8)
    for i in range(3):
        reproject(chw[i], dst[i], src_transform=src_transform, src_crs=src.crs,
                  dst_transform=dst_transform, dst_crs=WEB_MERCATOR, resampling=Resampling.bilinear)
    reproject(np.full((h, w), 255, np.uint8), dst[3], src_transform=src_transform, src_crs=src.crs,
              dst_transform=dst_transform, dst_crs=WEB_MERCATOR, resampling=Resampling.nearest,
              dst_nodata=0)
    left, top = dst_transform @ (0, 0)
    right, bottom = dst_transform @ (dw, dh)
    west, south, east, north = transform_bounds(WEB_MERCATOR, LONLAT, left, bottom, right, top)
    return chw_to_hwc(dst), (float(west), float(south), float(east), float(north))


def bbox_area_km2(bbox: BBox) -> float:
    """Geodesic area of a lon/lat rectangle in km²."""
    from pyproj import Geod

    w, s, e, n = bbox
    area, _ = Geod(ellps="WGS84").polygon_area_perimeter([w, e, e, w], [s, s, n, n])
    return abs(area) / 1e6
