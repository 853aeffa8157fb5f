"""Synthetic clouds, haze, cloud shadows and no-data over real imagery (seeded, numpy + scipy).

The real files have none of these artefacts where we need them (EuroSAT is cloud-free; the
shipped scene has thin cirrus only), so they are made here, the same way for tests, benchmarks
and outlier-exposure training:

* a **cloud field** is smoothed Gaussian noise (``scipy.ndimage.gaussian_filter``) pushed through
  a logistic ramp: blobs with soft edges whose size is set by ``scale_px`` and whose edge width by
  ``softness``; ``coverage`` is the share of pixels whose opacity is above one half;
* **cloud** blends the image towards a bright, nearly white, slightly blue colour (cumulus TOA
  reflectance is 0.4-0.8, beyond the EuroSAT 0-255 scale, so it saturates near 255);
* **haze** blends the whole image towards a grey-blue at a constant strength (thin cloud);
* **shadow** multiplies the image by ``1 - opacity·(1 - darkness)`` (shadows keep the ratios of
  the land under them, but lose 40-70 % of its brightness);
* **no data** sets pixels to 0 (what zero-filled mosaics and masked L2A files hold).

All images are uint8 RGB on the EuroSAT 0-255 scale, shape (..., H, W, 3).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

#: Colour of optically thick cloud on the EuroSAT scale (R, G, B).
CLOUD_RGB: tuple[float, float, float] = (246.0, 248.0, 252.0)
#: Colour that thin cloud / haze tends to (R, G, B).
HAZE_RGB: tuple[float, float, float] = (196.0, 204.0, 216.0)
#: Kinds made by :func:`outlier_tiles`.
OUTLIER_KINDS: tuple[str, ...] = ("cloud", "haze", "shadow", "nodata", "noise", "flat")


def cloud_field(shape: tuple[int, int], rng: np.random.Generator, coverage: float = 0.5,
                scale_px: float = 12.0, softness: float = 0.08) -> np.ndarray:
    """Soft-edged cloud opacity in [0, 1], float32 (H, W).

    Args:
        shape: (H, W) pixels.
        rng: random generator (seeded by the caller).
        coverage: share of pixels with opacity > 0.5, in [0, 1].
        scale_px: blob size (Gaussian sigma of the noise, pixels).
        softness: width of the edge ramp, in units of the field's standard deviation.
    """
    if coverage <= 0:
        return np.zeros(shape, np.float32)
    if coverage >= 1:
        return np.ones(shape, np.float32)
    noise = ndimage.gaussian_filter(rng.standard_normal(shape), scale_px, mode="wrap")
    noise = (noise - noise.mean()) / (noise.std() + 1e-12)
    threshold = np.quantile(noise, 1.0 - coverage)
    return (1.0 / (1.0 + np.exp(-(noise - threshold) / max(softness, 1e-3)))).astype(np.float32)


def _blend(image: np.ndarray, opacity: np.ndarray, colour: tuple[float, float, float]) -> np.ndarray:
    a = np.asarray(opacity, np.float32)[..., None]
    out = image.astype(np.float32) * (1.0 - a) + np.asarray(colour, np.float32) * a
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def add_cloud(image: np.ndarray, opacity: np.ndarray) -> np.ndarray:
    """Blend ``image`` (uint8 (H, W, 3)) towards cloud white by ``opacity`` (H, W) in [0, 1]."""
    return _blend(image, opacity, CLOUD_RGB)


def add_haze(image: np.ndarray, strength: float) -> np.ndarray:
    """Blend the whole ``image`` towards haze grey-blue by ``strength`` in [0, 1] (thin cloud)."""
    return _blend(image, np.full(image.shape[:2], strength, np.float32), HAZE_RGB)


def add_shadow(image: np.ndarray, opacity: np.ndarray, darkness: float = 0.45) -> np.ndarray:
    """Darken ``image`` where ``opacity`` (H, W) is high: to ``darkness`` × its brightness at 1."""
    factor = 1.0 - np.asarray(opacity, np.float32)[..., None] * (1.0 - darkness)
    return np.clip(np.rint(image.astype(np.float32) * factor), 0, 255).astype(np.uint8)


def add_nodata(image: np.ndarray, holes: np.ndarray) -> np.ndarray:
    """Set pixels where ``holes`` (H, W, bool) is true to 0 (no data)."""
    out = image.copy()
    out[np.asarray(holes, bool)] = 0
    return out


def outlier_tile(clear: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    """One 64×64 tile that is not land the model knows, made from a clear tile.

    Kinds (:data:`OUTLIER_KINDS`): mostly-covering cloud (coverage 0.7-1), thick haze (strength
    0.6-0.9), deep shadow over most of the tile, mostly no data, uniform noise, a flat colour.
    """
    h, w = clear.shape[:2]
    if kind == "cloud":
        opacity = cloud_field((h, w), rng, coverage=rng.uniform(0.7, 1.0), scale_px=rng.uniform(6, 20))
        return add_cloud(clear, opacity)
    if kind == "haze":
        return add_haze(clear, rng.uniform(0.6, 0.9))
    if kind == "shadow":
        opacity = cloud_field((h, w), rng, coverage=rng.uniform(0.8, 1.0), scale_px=rng.uniform(8, 20))
        return add_shadow(clear, opacity, darkness=rng.uniform(0.25, 0.45))
    if kind == "nodata":
        return add_nodata(clear, cloud_field((h, w), rng, coverage=rng.uniform(0.6, 1.0)) > 0.5)
    if kind == "noise":
        return rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    if kind == "flat":
        return np.broadcast_to(rng.integers(0, 256, size=3, dtype=np.uint8), (h, w, 3)).copy()
    raise ValueError(f"unknown outlier kind {kind!r}; expected one of {OUTLIER_KINDS}")


def outlier_tiles(clear: np.ndarray, n: int, seed: int = 0,
                  kinds: tuple[str, ...] = OUTLIER_KINDS) -> tuple[np.ndarray, np.ndarray]:
    """``n`` outlier tiles made from randomly chosen clear tiles (uint8 (N, 64, 64, 3)).

    Returns:
        (tiles uint8 (n, 64, 64, 3), kind index int (n,) into ``kinds``).
    """
    rng = np.random.default_rng(seed)
    which = rng.integers(0, len(kinds), size=n)
    src = rng.integers(0, len(clear), size=n)
    tiles = np.stack([outlier_tile(clear[s], kinds[k], rng) for s, k in zip(src, which, strict=True)]) \
        if n else np.zeros((0, *clear.shape[1:]), np.uint8)
    return tiles, which


def cloudy_scene(rgb: np.ndarray, seed: int = 0, coverage: float = 0.25, scale_px: float = 40.0,
                 shadow_shift: tuple[int, int] = (60, 40), darkness: float = 0.4
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scattered soft-edged cumulus over a whole image, with their shadows cast ``shadow_shift`` px away.

    Args:
        rgb: uint8 (H, W, 3) clear image on the EuroSAT scale.
        seed: random seed of the cloud field.
        coverage: share of pixels under cloud (opacity > 0.5).
        scale_px: cloud size (Gaussian sigma of the field, pixels; 40 px ≈ 400 m blobs).
        shadow_shift: (rows, cols) from a cloud to its shadow (sun from the north-west: south-east).
        darkness: brightness left under a full shadow.

    Returns:
        (cloudy image uint8 (H, W, 3), cloud opacity float32 (H, W), shadow opacity float32 (H, W));
        the shadow opacity is zero where the cloud hides it.
    """
    rng = np.random.default_rng(seed)
    cloud = cloud_field(rgb.shape[:2], rng, coverage=coverage, scale_px=scale_px, softness=0.15)
    dy, dx = shadow_shift
    shadow = np.zeros_like(cloud)
    h, w = cloud.shape
    shadow[max(0, dy):h + min(0, dy), max(0, dx):w + min(0, dx)] = \
        cloud[max(0, -dy):h - max(0, dy), max(0, -dx):w - max(0, dx)]
    image = add_cloud(add_shadow(rgb, shadow, darkness), cloud)
    return image, cloud, shadow * (1.0 - cloud)


def edited_copy(rgb: np.ndarray, moves: list[tuple[tuple[int, int], tuple[int, int]]], seed: int = 0,
                gain: float = 1.04, offset: float = 2.0, noise: float = 1.5, shift: tuple[int, int] = (12, 20)
                ) -> tuple[np.ndarray, tuple[int, int]]:
    """A second "date" of a scene: some tiles replaced by other real tiles, another radiometry, a shift.

    Args:
        rgb: uint8 (H, W, 3) first date.
        moves: ``((to_row, to_col), (from_row, from_col))`` tile indexes: the 64×64 content of
            ``from`` is pasted over ``to`` (e.g. a lake tile over a field tile).
        seed: noise seed.
        gain, offset, noise: radiometric difference ``v·gain + offset + N(0, noise)``.
        shift: (rows, cols) pixels the new image starts later than the first (a sub-tile offset of the
            whole acquisition grid: the caller moves the geotransform origin by the same pixels).

    Returns:
        (uint8 (H - rows, W - cols, 3) second date, the shift), so that pixel (r, c) of the result is
        ground pixel (r + rows, c + cols) of the first date.
    """
    rng = np.random.default_rng(seed)
    out = rgb.astype(np.float32)
    t = 64
    for (tr, tc), (fr, fc) in moves:
        out[tr * t:(tr + 1) * t, tc * t:(tc + 1) * t] = rgb[fr * t:(fr + 1) * t, fc * t:(fc + 1) * t]
    noisy = out * gain + offset + rng.normal(0.0, noise, out.shape)
    dy, dx = shift
    return np.clip(np.rint(noisy[dy:, dx:]), 0, 255).astype(np.uint8), shift
