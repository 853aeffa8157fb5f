"""Per-pixel usability masks: no data, cloud (thick and thin), cloud shadow, snow → clear fraction.

One module, one job; the Map page, the Upload grid, the CLI and the Dask path all call it.

Sources, best first:

* **SCL** (Sentinel-2 L2A scene classification, :func:`scl_masks`): 0 no data, 1 saturated or
  defective, 3 cloud shadow, 8/9 cloud medium/high probability, 10 thin cirrus, 11 snow.
* **no data** (:func:`nodata_from_raw`): the file's nodata value / mask band / alpha (GDAL's
  dataset mask), NaN, and pixels zero in every band (zero-filled STAC mosaics, masked exports).
* **visible-band tests** (:func:`rgb_masks`) for plain RGB / DN imagery without a mask, on TOA
  reflectance ρ (the EuroSAT 0-255 scale is ρ·255/0.275), after Fmask's first pass
  (Zhu & Woodcock 2012) restricted to the visible bands:

  - brightness ``m = mean(ρR, ρG, ρB)``, whiteness ``W = Σ|ρb − m| / m``,
    haze-optimised transform ``HOT = ρB − 0.5·ρR − 0.08`` (> 0 for cloud and haze);
  - **thick cloud**: ``m ≥ cloud_brightness`` and ``W ≤ cloud_whiteness`` and ``HOT > 0``;
  - **thin cloud / haze**: ``HOT ≥ haze_hot`` and ``m ≥ haze_brightness`` and ``W ≤ haze_whiteness``;
  - an opening (a ``speck_px`` square) removes specks (single bright roofs) and a dilation (a
    ``2·edge_px + 1`` square) takes the soft edges, where thin cloud leaks into the neighbouring land;
  - **shadow**: the cloud mask projected by the shift (direction and distance searched, one for the
    area, as Fmask's shadow matching does with cloud heights) that makes the pixels under it
    darkest, kept where a pixel is darker than ``shadow_darkness`` × the median brightness of the
    clear land; no cloud, no shadow.

  Limits (measured in ``benchmarks/mask_rates.py``, README): bright white roofs and concrete pass
  the cloud test (an Industrial tile rarely has enough of them to lose its clear fraction); snow
  and white sand are cloud to these tests; thin cirrus over dark water is missed; shadows of
  clouds outside the area read are missed; dark land in a cloud's projected shadow may be flagged.

Masks are bool arrays (H, W), True where the condition holds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from eurosat.classes import EUROSAT_DN_MAX

#: Reflectance of 255 on the EuroSAT scale (DN 2750 / 10000).
REFLECTANCE_AT_255: float = EUROSAT_DN_MAX / 10000.0
#: SCL classes (Sentinel-2 L2A) that make a pixel unusable, by mask.
SCL_NODATA: tuple[int, ...] = (0, 1)
SCL_SHADOW: tuple[int, ...] = (3,)
SCL_CLOUD: tuple[int, ...] = (8, 9, 10)
SCL_SNOW: tuple[int, ...] = (11,)


@dataclass(frozen=True)
class RGBTests:
    """Thresholds of the visible-band tests (TOA reflectance units; see the module docstring)."""

    cloud_brightness: float = 0.20
    cloud_whiteness: float = 0.30
    haze_hot: float = 0.035
    haze_brightness: float = 0.14
    haze_whiteness: float = 0.45
    speck_px: int = 7  # opening size: bright objects narrower than this (70 m) are not cloud (roofs)
    edge_px: int = 2  # dilation of the cloud mask: a 5 × 5 square (soft edges, 20 m at 10 m pixels)
    shadow_contrast: float = 0.8  # a shift casts shadow if the land under it is darker than this × median
    shadow_darkness: float = 0.7  # a shadow pixel: darker than this × the clear land's median brightness
    shadow_max_shift_px: int = 160  # farthest shadow searched (1.6 km at 10 m)
    min_cloud_px_for_shadow: int = 64  # fewer cloud pixels than this: no shadow search


DEFAULT_TESTS = RGBTests()


@dataclass
class PixelMasks:
    """Per-pixel masks of one image, bool (H, W) each, and where they came from.

    Attributes:
        nodata: no data (nodata value, mask/alpha band, NaN, all-zero pixels, SCL 0/1).
        cloud: thick or thin cloud, haze, cirrus (and their dilated edges).
        shadow: cloud shadow.
        snow: snow or ice (SCL 11; the RGB tests count snow as cloud).
        source: ``"scl"``, ``"rgb-tests"`` or ``"nodata-only"``.
    """

    nodata: np.ndarray
    cloud: np.ndarray
    shadow: np.ndarray
    snow: np.ndarray
    source: str

    @property
    def usable(self) -> np.ndarray:
        """Clear land pixels: bool (H, W)."""
        return ~(self.nodata | self.cloud | self.shadow | self.snow)


@dataclass
class TileQuality:
    """Per-tile shares of pixels (0-1), float32 (N,) each: clear, no data, cloud, shadow, snow."""

    clear: np.ndarray
    nodata: np.ndarray
    cloud: np.ndarray
    shadow: np.ndarray
    snow: np.ndarray
    source: str = "rgb-tests"

    @classmethod
    def all_clear(cls, n: int, source: str = "none") -> TileQuality:
        """Quality of ``n`` tiles with no mask information (every pixel counted clear)."""
        z = np.zeros(n, np.float32)
        return cls(np.ones(n, np.float32), z, z.copy(), z.copy(), z.copy(), source)

    @classmethod
    def concat(cls, parts: list[TileQuality]) -> TileQuality:
        """Join the qualities of consecutive tile batches."""
        if not parts:
            return cls.all_clear(0)
        joined = {k: np.concatenate([getattr(p, k) for p in parts]) for k in _FIELDS}
        return cls(**joined, source=parts[0].source)

    def take(self, index: np.ndarray) -> TileQuality:
        """The qualities of the tiles at ``index``."""
        return TileQuality(**{k: getattr(self, k)[index] for k in _FIELDS}, source=self.source)


_FIELDS = ("clear", "nodata", "cloud", "shadow", "snow")


def reflectance_from_eurosat(rgb: np.ndarray) -> np.ndarray:
    """uint8 (..., 3) on the EuroSAT scale → float32 TOA reflectance (saturates at 0.275)."""
    return rgb.astype(np.float32) * np.float32(REFLECTANCE_AT_255 / 255.0)


def nodata_from_raw(raw_chw: np.ndarray, dataset_mask: np.ndarray | None = None) -> np.ndarray:
    """No-data pixels of a raw read: bool (H, W).

    Args:
        raw_chw: the bands as read (C, H, W), any dtype.
        dataset_mask: GDAL's dataset mask for the same window (0 = no data), or None.
    """
    raw = np.asarray(raw_chw)
    out = np.all(raw == 0, axis=0)
    if np.issubdtype(raw.dtype, np.floating):
        out |= np.any(~np.isfinite(raw), axis=0)
    if dataset_mask is not None:
        out |= np.asarray(dataset_mask) == 0
    return out


def _open_square(mask: np.ndarray, size: int) -> np.ndarray:
    """Binary opening with a ``size`` × ``size`` square, as separable min/max filters (fast)."""
    m = mask.view(np.uint8) if mask.dtype == bool else mask.astype(np.uint8)
    return ndimage.maximum_filter(ndimage.minimum_filter(m, size=size, mode="constant", cval=0),
                                  size=size, mode="constant", cval=0).astype(bool)


def _dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """Binary dilation by a (2·radius + 1)² square, as a separable max filter (nothing to do when empty)."""
    if radius <= 0 or not mask.any():
        return mask.copy()
    m = mask.view(np.uint8) if mask.dtype == bool else mask.astype(np.uint8)
    return ndimage.maximum_filter(m, size=2 * radius + 1, mode="constant", cval=0).astype(bool)


def cloud_tests(rgb: np.ndarray, tests: RGBTests = DEFAULT_TESTS) -> np.ndarray:
    """Thick + thin cloud from the visible bands (before opening and dilation): bool (H, W)."""
    rho = reflectance_from_eurosat(rgb)
    r, g, b = rho[..., 0], rho[..., 1], rho[..., 2]
    m = (r + g + b) / 3.0
    white = (np.abs(r - m) + np.abs(g - m) + np.abs(b - m)) / np.maximum(m, 1e-6)
    hot = b - 0.5 * r - 0.08
    thick = (m >= tests.cloud_brightness) & (white <= tests.cloud_whiteness) & (hot > 0)
    thin = (hot >= tests.haze_hot) & (m >= tests.haze_brightness) & (white <= tests.haze_whiteness)
    return thick | thin


def _shift(mask: np.ndarray, dy: int, dx: int) -> np.ndarray:
    out = np.zeros_like(mask)
    h, w = mask.shape
    if abs(dy) >= h or abs(dx) >= w:
        return out
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    out[yd, xd] = mask[ys, xs]
    return out


def shadow_from_clouds(rgb: np.ndarray, cloud: np.ndarray, nodata: np.ndarray,
                       tests: RGBTests = DEFAULT_TESTS) -> np.ndarray:
    """Cloud shadow: the cloud mask shifted to where it darkens the land most, ∩ dark pixels.

    The shift is searched over 16 directions and distances of 16 px steps up to ``shadow_max_shift_px``; the
    darkest is kept only if the land under the shifted clouds is on average darker than
    ``shadow_contrast`` × the clear land's median brightness; then the pixels under it darker than
    ``shadow_darkness`` × that median are shadow. Returns bool (H, W).
    """
    none = np.zeros(cloud.shape, bool)
    if int(cloud.sum()) < tests.min_cloud_px_for_shadow:
        return none
    brightness = reflectance_from_eurosat(rgb).mean(axis=-1)
    land = ~cloud & ~nodata
    if not land.any():
        return none
    median = float(np.median(brightness[land]))
    dark_limit = tests.shadow_darkness * median
    # search on a 4× decimated grid (fast), then apply the best shift at full resolution
    step = 4
    small_cloud = cloud[::step, ::step]
    small_b = brightness[::step, ::step]
    small_land = land[::step, ::step]
    best, best_score = None, tests.shadow_contrast * median
    need = max(4.0, 0.2 * float(small_cloud.sum()))
    for angle in np.arange(16) * (np.pi / 8):
        for dist in range(16, tests.shadow_max_shift_px + 1, 16):
            dy, dx = int(round(np.sin(angle) * dist / step)), int(round(np.cos(angle) * dist / step))
            under = _shift(small_cloud, dy, dx) & small_land
            if under.sum() < need:
                continue
            score = float(small_b[under].mean())
            if score < best_score:
                best, best_score = (dy * step, dx * step), score
    if best is None:
        return none
    projected = _dilate(_shift(cloud, *best), tests.edge_px)
    return projected & land & (brightness < dark_limit)


def rgb_masks(rgb: np.ndarray, nodata: np.ndarray | None = None,
              tests: RGBTests = DEFAULT_TESTS) -> PixelMasks:
    """Cloud, haze and shadow masks of an RGB image from the visible-band tests.

    Args:
        rgb: uint8 (H, W, 3) on the EuroSAT scale.
        nodata: bool (H, W) no-data pixels already known (default: none).
        tests: thresholds.
    """
    nodata = np.zeros(rgb.shape[:2], bool) if nodata is None else np.asarray(nodata, bool)
    raw = cloud_tests(rgb, tests) & ~nodata
    if not raw.any():  # clear imagery: nothing to open, dilate or cast a shadow (most tiles)
        empty = np.zeros_like(raw)
        return PixelMasks(nodata, empty, empty.copy(), empty.copy(), "rgb-tests")
    if tests.speck_px > 1:
        raw = _open_square(raw, tests.speck_px)
    cloud = _dilate(raw, tests.edge_px) & ~nodata if tests.edge_px else raw
    shadow = shadow_from_clouds(rgb, cloud, nodata, tests) & ~cloud
    return PixelMasks(nodata, cloud, shadow, np.zeros_like(cloud), "rgb-tests")


def scl_masks(scl: np.ndarray, nodata: np.ndarray | None = None) -> PixelMasks:
    """Masks from a Sentinel-2 L2A scene classification layer (int (H, W), already on the grid)."""
    scl = np.asarray(scl)
    known = np.zeros(scl.shape, bool) if nodata is None else np.asarray(nodata, bool)
    return PixelMasks(known | np.isin(scl, SCL_NODATA), np.isin(scl, SCL_CLOUD), np.isin(scl, SCL_SHADOW),
                      np.isin(scl, SCL_SNOW), "scl")


def nodata_masks(nodata: np.ndarray) -> PixelMasks:
    """Masks holding only the known no-data pixels (cloud tests switched off)."""
    nodata = np.asarray(nodata, bool)
    empty = np.zeros_like(nodata)
    return PixelMasks(nodata, empty, empty.copy(), empty.copy(), "nodata-only")


def tile_quality(masks: PixelMasks, tile: int = 64) -> TileQuality:
    """Per-tile pixel shares of an image whose masks cover whole tiles, row-major order.

    ``masks`` arrays are (rows·tile, cols·tile); returns N = rows·cols values per field.
    """
    h, w = masks.nodata.shape

    def share(a: np.ndarray) -> np.ndarray:
        return a.reshape(h // tile, tile, w // tile, tile).mean(axis=(1, 3)).ravel().astype(np.float32)

    return TileQuality(share(masks.usable), share(masks.nodata), share(masks.cloud & ~masks.nodata),
                       share(masks.shadow & ~masks.nodata & ~masks.cloud),
                       share(masks.snow & ~masks.nodata & ~masks.cloud & ~masks.shadow), masks.source)


def masks_of_tiles(tiles: np.ndarray, nodata: np.ndarray | None = None,
                   tests: RGBTests = DEFAULT_TESTS) -> TileQuality:
    """Quality of separate 64×64 tiles (uploads, EuroSAT images): the tests run tile by tile.

    Args:
        tiles: uint8 (N, 64, 64, 3).
        nodata: bool (N, 64, 64) or None.
    """
    parts = [tile_quality(rgb_masks(t, None if nodata is None else nodata[i], tests), t.shape[0])
             for i, t in enumerate(tiles)]
    return TileQuality.concat(parts) if parts else TileQuality.all_clear(0, "rgb-tests")
