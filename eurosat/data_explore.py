"""Understand the EuroSAT data: split counts, samples, colour statistics, scene vs EuroSAT radiometry.

Logic only (no Streamlit); TensorFlow is imported lazily by :func:`augmentation_views` alone.
Every pixel statistic is on the EuroSAT 0-255 scale (8-bit RGB as the model sees it).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from rasterio.enums import Resampling
from rasterio.windows import Window

from eurosat.classes import CLASS_NAMES
from eurosat.data import SUBSETS, ImageSource, Item, by_class
from eurosat.geo import (
    BandSpec,
    check_spec,
    chw_to_hwc,
    inspect_scene,
    open_raster,
    read_rgb_masked,
    to_eurosat_scale,
)

#: Channel names, in the order of the last image axis.
CHANNELS: tuple[str, str, str] = ("R", "G", "B")
#: Plot colour of each channel.
CHANNEL_COLORS: dict[str, str] = {"R": "#d62728", "G": "#2ca02c", "B": "#1f77b4"}
#: Most scene pixels :func:`scene_sample` holds in memory (larger scenes are read decimated).
MAX_SCENE_PIXELS: int = 4_000_000
#: Differences below these are reported as "about the same" (0-255 scale; share of brightness).
BRIGHTNESS_TOLERANCE: float = 2.0
BLUE_SHARE_TOLERANCE: float = 0.005
_QUANTILES: dict[str, float] = {"median": 0.5, "p5": 0.05, "p95": 0.95}


def split_counts(split: Mapping[str, Sequence[Item]]) -> pd.DataFrame:
    """Images per class and subset of a split.

    Args:
        split: ``{'train': [...], 'val': [...], 'test': [...]}`` as :func:`eurosat.data.read_split`.

    Returns:
        One row per class of :data:`CLASS_NAMES` (in that order, zeros included); columns ``class``,
        one per subset (train, val, test, then any other subset key) and ``total``.
    """
    subsets = [s for s in SUBSETS if s in split] + [s for s in split if s not in SUBSETS]
    table = pd.DataFrame({"class": list(CLASS_NAMES)})
    for subset in subsets:
        labels = np.fromiter((it.label for it in split[subset]), dtype=np.int64)
        table[subset] = np.bincount(labels, minlength=len(CLASS_NAMES))[: len(CLASS_NAMES)]
    table["total"] = table[subsets].sum(axis=1) if subsets else 0
    return table


def sample_items(items: Iterable[Item], per_class: int, seed: int) -> list[Item]:
    """A seeded random sample of at most ``per_class`` items of every class.

    Each class is shuffled with its own generator (``seed``, class index), so a smaller sample
    is a prefix of a larger one with the same seed, and one class does not change another's.

    Returns:
        Items grouped by class (:data:`CLASS_NAMES` order), in random order within a class.
    """
    out: list[Item] = []
    for label, group in by_class(items).items():
        order = np.random.default_rng([seed, label]).permutation(len(group))
        out.extend(group[i] for i in order[: max(0, per_class)])
    return out


def load_sample(path: str | Path, per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray, list[Item]]:
    """Decode a seeded sample of the pool (:func:`sample_items` over all its images).

    Args:
        path: ``EuroSAT_RGB.zip`` or an extracted folder.

    Returns:
        ``x`` uint8 (N, 64, 64, 3), ``y`` int32 (N,) class indexes, and the N items.

    Raises:
        DataNotFoundError: the pool is missing, unreadable or holds no images.
    """
    source = ImageSource(path)
    items = sample_items(source.items(), per_class, seed)
    x, y = source.load(items)
    return x, y, items


def _pixels(images: np.ndarray) -> np.ndarray:
    """Any uint8 array whose last axis is RGB as (M, 3)."""
    arr = np.asarray(images)
    if arr.shape[-1] != 3:
        raise ValueError(f"expected RGB pixels (last axis 3), got shape {arr.shape}")
    if arr.dtype != np.uint8:
        raise ValueError(f"expected uint8 pixels on the EuroSAT 0-255 scale, got {arr.dtype}")
    return arr.reshape(-1, 3)


def rgb_hex(rgb: Sequence[float]) -> str:
    """``#rrggbb`` of an (r, g, b) colour on the 0-255 scale (rounded, clipped)."""
    r, g, b = (int(np.clip(round(float(v)), 0, 255)) for v in rgb)
    return f"#{r:02x}{g:02x}{b:02x}"


def channel_stats(images: np.ndarray, labels: np.ndarray) -> pd.DataFrame:
    """Mean colour of every class present.

    Args:
        images: uint8 (N, 64, 64, 3) (any (N, ..., 3)) on the 0-255 scale.
        labels: int (N,) class indexes.

    Returns:
        One row per class present (:data:`CLASS_NAMES` order); columns ``class``, ``images``,
        ``mean_r``, ``mean_g``, ``mean_b`` (0-255) and ``hex`` (the mean colour as ``#rrggbb``).
    """
    x = np.asarray(images)
    y = np.asarray(labels).astype(np.int64).ravel()
    if len(x) != len(y):
        raise ValueError(f"{len(x)} images but {len(y)} labels")
    per_image = _pixels(x).reshape(len(x), -1, 3).mean(axis=1) if len(x) else np.zeros((0, 3))
    rows = []
    for label in sorted(set(y.tolist())):
        mean = per_image[y == label].mean(axis=0)  # equal-size images: mean of means = pixel mean
        rows.append({"class": CLASS_NAMES[label], "images": int(np.sum(y == label)),
                     "mean_r": float(mean[0]), "mean_g": float(mean[1]), "mean_b": float(mean[2]),
                     "hex": rgb_hex(mean)})
    return pd.DataFrame(rows, columns=["class", "images", "mean_r", "mean_g", "mean_b", "hex"])


def _value_counts(images: np.ndarray) -> np.ndarray:
    """int64 (3, 256): how many pixels take each value 0..255, per channel."""
    px = _pixels(images)
    return np.stack([np.bincount(px[:, c], minlength=256) for c in range(3)]).astype(np.int64)


def channel_histograms(images: np.ndarray, bins: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel histograms on the 0-255 scale.

    Args:
        images: uint8, last axis RGB: (N, 64, 64, 3) images or (M, 3) pixels.
        bins: number of equal bins over [0, 256) (32: 8 values a bin).

    Returns:
        ``edges`` float64 (bins + 1,) from 0 to 256, and ``counts`` int64 (3, bins): pixels per bin
        for R, G, B (each row sums to the number of pixels).
    """
    values = _value_counts(images)
    edges = np.linspace(0.0, 256.0, bins + 1)
    counts = np.stack([np.histogram(np.arange(256), bins=edges, weights=values[c])[0] for c in range(3)])
    return edges, counts.astype(np.int64)


def scene_sample(path: str | Path, max_pixels: int = MAX_SCENE_PIXELS,
                 spec: BandSpec | None = None) -> np.ndarray:
    """The valid pixels of a GeoTIFF scene on the EuroSAT scale, bounded in memory.

    A scene of more than ``max_pixels`` pixels is read decimated (rasterio ``out_shape``, nearest,
    so no value is mixed with no data), at most ``max_pixels`` pixels in all.

    Args:
        path: a GeoTIFF that :func:`eurosat.geo.inspect_scene` accepts.
        max_pixels: most pixels read into memory.
        spec: bands and offset (default: as the file suggests, ``inspect_scene(path).default_spec()``).

    Returns:
        uint8 (M, 3) RGB of the pixels that are not no data (M <= ``max_pixels``).

    Raises:
        GeoError: the file is missing, unreadable or not a usable scene.
    """
    spec = spec or inspect_scene(path).default_spec()
    with open_raster(path) as src:
        check_spec(spec, src.count)
        factor = max(1.0, math.sqrt(src.width * src.height / max(1, max_pixels)))
        if factor == 1.0:
            masked = read_rgb_masked(src, spec, Window(0, 0, src.width, src.height))
            rgb, nodata = masked.rgb, masked.nodata
        else:
            from eurosat.masks import nodata_from_raw

            h = max(1, math.floor(src.height / factor))
            w = max(1, math.floor(src.width / factor))
            shape = (3, h, w)
            bands = list(spec.bands)
            raw = src.read(bands, out_shape=shape, resampling=Resampling.nearest)
            masks = src.read_masks(bands, out_shape=shape, resampling=Resampling.nearest)
            nodata = nodata_from_raw(raw, np.all(masks > 0, axis=0) * 255)
            rgb = chw_to_hwc(to_eurosat_scale(raw, spec.offset))
    return np.ascontiguousarray(rgb[~nodata])


def _quantile(values: np.ndarray, q: float) -> float:
    """Inverted-CDF quantile from value counts (256,): the smallest value with CDF >= q."""
    cdf = np.cumsum(values)
    return float(np.searchsorted(cdf, q * cdf[-1], side="left"))


def _summary(values: np.ndarray) -> dict[str, float]:
    """Mean, median, p5, p95 of one channel given its value counts (256,)."""
    n = values.sum()
    if n == 0:
        return {"mean": math.nan, **{k: math.nan for k in _QUANTILES}}
    mean = float(np.dot(np.arange(256), values) / n)
    return {"mean": mean, **{k: _quantile(values, q) for k, q in _QUANTILES.items()}}


def compare_distributions(eurosat_pixels: np.ndarray, scene_pixels: np.ndarray) -> pd.DataFrame:
    """Per-channel statistics of two pixel sets on the 0-255 scale, and how they differ.

    Args:
        eurosat_pixels: uint8, last axis RGB (EuroSAT images or pixels).
        scene_pixels: uint8, last axis RGB (the scene's valid pixels, e.g. :func:`scene_sample`).

    Returns:
        Rows R, G, B; columns ``channel``, ``eurosat_mean``, ``eurosat_median``, ``eurosat_p5``,
        ``eurosat_p95``, the same with ``scene_``, ``difference`` (scene mean minus EuroSAT mean)
        and ``summary`` (that difference in words, e.g. "scene brighter by 23.4 (+26 %)").
        Quantiles are inverted-CDF (exact values of the integer scale).
    """
    a, b = _value_counts(eurosat_pixels), _value_counts(scene_pixels)
    rows = []
    for c, name in enumerate(CHANNELS):
        sa, sb = _summary(a[c]), _summary(b[c])
        diff = sb["mean"] - sa["mean"]
        rows.append({"channel": name, **{f"eurosat_{k}": v for k, v in sa.items()},
                     **{f"scene_{k}": v for k, v in sb.items()}, "difference": diff,
                     "summary": _difference_words(diff, sa["mean"])})
    return pd.DataFrame(rows)


def _difference_words(diff: float, reference: float) -> str:
    """A mean difference in words: 'scene brighter by 23.4 (+26 %)'."""
    if not math.isfinite(diff):
        return "no pixels to compare"
    if abs(diff) < BRIGHTNESS_TOLERANCE:
        return f"about the same ({diff:+.1f})"
    word = "brighter" if diff > 0 else "darker"
    share = f" ({diff / reference:+.0%})" if reference > 0 else ""
    return f"scene {word} by {abs(diff):.1f}{share}"


def difference_sentence(table: pd.DataFrame, scene_name: str = "The scene") -> str:
    """One sentence saying which is brighter and which is bluer, from :func:`compare_distributions`.

    Brightness is the mean of the three channel means; blueness the blue mean's share of their sum.
    """
    ea = table["eurosat_mean"].to_numpy(dtype=float)
    sc = table["scene_mean"].to_numpy(dtype=float)
    if not (np.all(np.isfinite(ea)) and np.all(np.isfinite(sc))):
        return f"{scene_name} has no valid pixels to compare with EuroSAT."
    bright_e, bright_s = float(ea.mean()), float(sc.mean())
    diff = bright_s - bright_e
    if abs(diff) < BRIGHTNESS_TOLERANCE:
        bright = f"about as bright as EuroSAT (mean brightness {bright_s:.0f} vs {bright_e:.0f} on 0-255)"
    else:
        word = "brighter" if diff > 0 else "darker"
        rel = f", {diff / bright_e:+.0%}" if bright_e > 0 else ""
        bright = f"{word} than EuroSAT (mean brightness {bright_s:.0f} vs {bright_e:.0f} on 0-255{rel})"
    blue_e = float(ea[2] / ea.sum()) if ea.sum() > 0 else 1 / 3
    blue_s = float(sc[2] / sc.sum()) if sc.sum() > 0 else 1 / 3
    shares = f"blue is {blue_s:.1%} of its brightness against {blue_e:.1%} in EuroSAT"
    if abs(blue_s - blue_e) < BLUE_SHARE_TOLERANCE:
        blue = f"about as blue ({shares})"
    elif blue_s > blue_e:
        blue = f"bluer ({shares})"
    else:
        blue = f"less blue ({shares})"
    return f"{scene_name} is {bright} and {blue}."


def upscale(image: np.ndarray, size: int) -> np.ndarray:
    """Nearest-neighbour enlargement of an (H, W, C) image to about ``size`` px (integer factor, >= 1)."""
    factor = max(1, size // max(image.shape[0], image.shape[1]))
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)


#: The individual transforms of :func:`eurosat.data.augment_batch` that are exact index operations
#: (its three coin flips; combined they give the 8 flips/rotations), as (name, what it does).
DIHEDRAL_VIEWS: tuple[tuple[str, str], ...] = (
    ("horizontal flip", "flip left-right"),
    ("vertical flip", "flip top-bottom"),
    ("transpose", "swap rows and columns (with the flips: 90° rotations)"),
)


def _dihedral(image: np.ndarray, name: str) -> np.ndarray:
    if name == "horizontal flip":
        return np.ascontiguousarray(image[:, ::-1])
    if name == "vertical flip":
        return np.ascontiguousarray(image[::-1])
    if name == "transpose":
        return np.ascontiguousarray(image.transpose(1, 0, 2))
    raise ValueError(f"unknown view {name!r}")


def augmentation_views(image: np.ndarray, n: int = 8, seed: int = 0,
                       named: bool = True) -> list[tuple[str, np.ndarray]]:
    """What the trainer's augmentation does to one image.

    ``n`` copies go through the trainer's own :func:`eurosat.data.augment_batch` (random flips and
    transpose, zoom 0.9-1.1, shift ±4 px, brightness ±8 %, contrast 0.85-1.15, all at once).
    With ``named``, the original and the three coin-flip transforms alone come first. TensorFlow
    is imported here (2-3 s the first time); the seed is set with ``tf.random.set_seed``.

    Args:
        image: uint8 (64, 64, 3) on the 0-255 scale.
        n: number of augmented copies.
        seed: TensorFlow random seed (same seed, same views).
        named: also return ``original`` and the individual flips/transpose.

    Returns:
        ``(name, uint8 (64, 64, 3))`` pairs: ``original``, ``horizontal flip``, ``vertical flip``,
        ``transpose`` (when ``named``), then ``augmented #1`` .. ``augmented #n``.
    """
    img = np.asarray(image)
    if img.ndim != 3 or img.shape[-1] != 3:
        raise ValueError(f"expected one RGB image (H, W, 3), got shape {img.shape}")
    views: list[tuple[str, np.ndarray]] = []
    if named:
        views.append(("original", img.copy()))
        views.extend((name, _dihedral(img, name)) for name, _ in DIHEDRAL_VIEWS)
    if n > 0:
        import tensorflow as tf

        from eurosat.data import augment_batch

        tf.random.set_seed(seed)
        batch = tf.constant(np.repeat(img[None].astype(np.float32), n, axis=0))
        out = np.asarray(augment_batch(batch, seed=seed))
        out = np.clip(np.rint(out), 0, 255).astype(np.uint8)
        views.extend((f"augmented #{i + 1}", out[i]) for i in range(n))
    return views
