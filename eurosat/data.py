"""EuroSAT RGB data: reading the pool (zip or folder), the fixed split, tf.data pipeline.

The split is made once by :func:`make_split` and committed as a CSV
(``splits/eurosat_rgb_split.csv``) listing every image with its class and subset.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from eurosat.classes import CLASS_NAMES, TILE_SIZE
from eurosat.errors import DataNotFoundError

if TYPE_CHECKING:  # pragma: no cover
    import tensorflow as tf

SUBSETS = ("train", "val", "test")
_IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff"}


@dataclass(frozen=True)
class Item:
    """One image of the pool: path relative to the class folders' parent, and its class index."""

    path: str  # e.g. "Forest/Forest_12.jpg"
    label: int


def _class_of(parts: tuple[str, ...]) -> str | None:
    """Return the class name if the path is ``.../<Class>/<file>`` with a known class."""
    if len(parts) >= 2 and parts[-2] in CLASS_NAMES:
        return parts[-2]
    return None


def _sort_key(path: str) -> tuple[str, int, str]:
    stem = PurePosixPath(path).stem
    num = stem.rsplit("_", 1)[-1]
    return (PurePosixPath(path).parent.name, int(num) if num.isdigit() else -1, path)


class ImageSource:
    """Read EuroSAT images from a zip file or an extracted folder.

    Args:
        path: ``EuroSAT_RGB.zip`` or a folder containing (possibly under ``2750/``)
            one sub-folder per class.

    Raises:
        DataNotFoundError: the path does not exist, is not a zip or a folder, or holds no images.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path).expanduser()
        if not self.path.exists():
            raise DataNotFoundError(
                f"EuroSAT data not found at '{self.path}'. Point --data (or EUROSAT_DATA_DIR) at "
                "EuroSAT_RGB.zip or at a folder with one sub-folder per class."
            )
        self._zip: zipfile.ZipFile | None = None
        self._prefix: dict[str, str] = {}  # "Class/file.jpg" -> member name / file path
        if self.path.is_dir():
            for p in self.path.rglob("*"):
                if p.suffix.lower() in _IMAGE_SUFFIXES and _class_of(p.parts):
                    self._prefix[f"{p.parent.name}/{p.name}"] = str(p)
        else:
            try:
                self._zip = zipfile.ZipFile(self.path)
            except (zipfile.BadZipFile, OSError) as exc:
                raise DataNotFoundError(
                    f"'{self.path}' is not a readable zip file ({exc}). Expected EuroSAT_RGB.zip."
                ) from exc
            for name in self._zip.namelist():
                parts = PurePosixPath(name).parts
                if PurePosixPath(name).suffix.lower() in _IMAGE_SUFFIXES and _class_of(parts):
                    self._prefix[f"{parts[-2]}/{parts[-1]}"] = name
        if not self._prefix:
            raise DataNotFoundError(
                f"No EuroSAT images found in '{self.path}' (expected <Class>/<Class>_<n>.jpg "
                f"for classes {', '.join(CLASS_NAMES)})."
            )

    def items(self) -> list[Item]:
        """All images, sorted by class then number."""
        keys = sorted(self._prefix, key=_sort_key)
        return [Item(k, CLASS_NAMES.index(k.split("/")[0])) for k in keys]

    def read_bytes(self, path: str) -> bytes:
        """Raw bytes of one image given as ``Class/file.jpg``."""
        try:
            member = self._prefix[path]
        except KeyError as exc:
            raise DataNotFoundError(f"Image '{path}' is not in '{self.path}'.") from exc
        if self._zip is not None:
            return self._zip.read(member)
        return Path(member).read_bytes()

    def read_rgb(self, path: str) -> np.ndarray:
        """Decode one image to uint8 (64, 64, 3) RGB.

        Raises:
            DataNotFoundError: the image is missing, cannot be decoded (damaged, not an image, a
                decompression bomb), or is not 64×64 (checked before decoding the pixels).
        """
        data = self.read_bytes(path)
        try:
            with Image.open(io.BytesIO(data)) as im:
                if im.size != (TILE_SIZE, TILE_SIZE):
                    raise DataNotFoundError(
                        f"Image '{path}' is {im.width}×{im.height} px, expected 64x64 RGB.")
                arr = np.asarray(im.convert("RGB"), dtype=np.uint8)
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
            raise DataNotFoundError(
                f"Image '{path}' in '{self.path}' cannot be decoded ({exc}): the data look damaged. "
                "Download EuroSAT_RGB.zip again."
            ) from exc
        return arr

    def load(self, items: Iterable[Item]) -> tuple[np.ndarray, np.ndarray]:
        """Decode items into ``x`` uint8 (N, 64, 64, 3) and ``y`` int32 (N,)."""
        items = list(items)
        x = np.empty((len(items), TILE_SIZE, TILE_SIZE, 3), dtype=np.uint8)
        for i, item in enumerate(items):
            x[i] = self.read_rgb(item.path)
        y = np.array([it.label for it in items], dtype=np.int32)
        return x, y


def make_split(
    items: list[Item], seed: int, fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
) -> dict[str, str]:
    """Stratified split: map each item path to 'train', 'val' or 'test'.

    Within each class the items (sorted by number) are shuffled with ``seed``; the first
    ``fractions[0]`` go to train, the next ``fractions[1]`` to val, the rest to test.
    """
    if abs(sum(fractions) - 1.0) > 1e-6:
        raise ValueError(f"split fractions must sum to 1, got {fractions}")
    rng = np.random.default_rng(seed)
    out: dict[str, str] = {}
    for label in range(len(CLASS_NAMES)):
        paths = sorted((it.path for it in items if it.label == label), key=_sort_key)
        order = rng.permutation(len(paths))
        n_train = int(round(fractions[0] * len(paths)))
        n_val = int(round(fractions[1] * len(paths)))
        for rank, idx in enumerate(order):
            subset = "train" if rank < n_train else "val" if rank < n_train + n_val else "test"
            out[paths[idx]] = subset
    return out


def write_split(split: dict[str, str], path: Path, seed: int) -> None:
    """Write the split as CSV (``path,class,subset``) with a comment line naming the seed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        f.write(f"# EuroSAT RGB fixed split, made by eurosat.data.make_split(seed={seed})\n")
        w = csv.writer(f)
        w.writerow(["path", "class", "subset"])
        for p in sorted(split, key=_sort_key):
            w.writerow([p, p.split("/")[0], split[p]])


def read_split(path: Path) -> dict[str, list[Item]]:
    """Read a split CSV into ``{'train': [...], 'val': [...], 'test': [...]}``."""
    if not path.exists():
        raise DataNotFoundError(f"Split file '{path}' not found; run `python -m eurosat.data`.")
    out: dict[str, list[Item]] = {s: [] for s in SUBSETS}
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = csv.DictReader(line for line in f if not line.startswith("#"))
            for row in rows:
                out[row["subset"]].append(Item(row["path"], CLASS_NAMES.index(row["class"])))
    except (OSError, KeyError, ValueError, TypeError, csv.Error) as exc:  # ValueError: bad class/UTF-8
        raise DataNotFoundError(
            f"Split file '{path}' is not a split CSV (columns path, class, subset; subsets "
            f"{', '.join(SUBSETS)}; EuroSAT class names): {type(exc).__name__} {exc}. "
            "Use splits/eurosat_rgb_split.csv."
        ) from exc
    return out


def by_class(items: Iterable[Item]) -> dict[int, list[Item]]:
    """Items grouped by class index, in class order, each group in the order given."""
    groups: dict[int, list[Item]] = {}
    for it in items:
        groups.setdefault(it.label, []).append(it)
    return dict(sorted(groups.items()))


def take_fraction(items: list[Item], fraction: float, min_per_class: int = 1) -> list[Item]:
    """Stratified prefix of ``items``: the first ``fraction`` of every class (at least ``min_per_class``)."""
    if fraction >= 1.0:
        return list(items)
    out: list[Item] = []
    for group in by_class(items).values():
        out.extend(group[: max(min_per_class, int(round(fraction * len(group))))])
    return out


def augment_batch(images: tf.Tensor, seed: int | None = None) -> tf.Tensor:
    """Random dihedral flips/rotations, small zoom and shift, brightness and contrast.

    Args:
        images: float32 (B, 64, 64, 3) on the 0-255 scale.

    Returns:
        Augmented images, same shape and scale (clipped to 0-255).
    """
    import tensorflow as tf

    b = tf.shape(images)[0]

    def coin() -> tf.Tensor:
        return tf.random.uniform([b, 1, 1, 1]) < 0.5

    x = tf.where(coin(), tf.reverse(images, axis=[2]), images)  # horizontal flip
    x = tf.where(coin(), tf.reverse(x, axis=[1]), x)  # vertical flip
    x = tf.where(coin(), tf.transpose(x, [0, 2, 1, 3]), x)  # transpose: with flips = 90° rotations
    # small zoom (scale 0.9-1.1) and shift (±4 px) in one projective transform per image
    scale = tf.random.uniform([b], 0.9, 1.1)
    tx = tf.random.uniform([b], -4.0, 4.0)
    ty = tf.random.uniform([b], -4.0, 4.0)
    c = (TILE_SIZE - 1) / 2.0
    zeros = tf.zeros([b])
    inv = 1.0 / scale
    transforms = tf.stack(
        [inv, zeros, c - inv * c + tx, zeros, inv, c - inv * c + ty, zeros, zeros], axis=1
    )
    x = tf.raw_ops.ImageProjectiveTransformV3(
        images=x,
        transforms=transforms,
        output_shape=tf.constant([TILE_SIZE, TILE_SIZE]),
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="REFLECT",
    )
    # brightness ±8 % of the image mean, contrast 0.85-1.15 around the image mean
    mean = tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
    contrast = tf.random.uniform([b, 1, 1, 1], 0.85, 1.15)
    brightness = tf.random.uniform([b, 1, 1, 1], -0.08, 0.08) * mean
    x = (x - mean) * contrast + mean + brightness
    return tf.clip_by_value(x, 0.0, 255.0)


def make_dataset(
    x: np.ndarray,
    y: np.ndarray,
    batch_size: int,
    training: bool,
    augment: bool = True,
    seed: int = 42,
) -> tf.data.Dataset:
    """tf.data pipeline over in-memory arrays: shuffle and augment when training.

    Args:
        x: uint8 (N, 64, 64, 3).
        y: int (N,) class indices.
    """
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((x, y))
    if training:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    ds = ds.map(lambda a, b: (tf.cast(a, tf.float32), b), num_parallel_calls=tf.data.AUTOTUNE)
    if training and augment:
        ds = ds.map(lambda a, b: (augment_batch(a), b), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def main(argv: list[str] | None = None) -> int:
    """(Re)make the committed split file from the pool: ``python -m eurosat.data [--data PATH]``."""
    import argparse

    from eurosat import config

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--data", default=str(config.eurosat_zip()))
    parser.add_argument("--out", default=str(config.SPLIT_FILE))
    parser.add_argument("--seed", type=int, default=config.SPLIT_SEED)
    args = parser.parse_args(argv)
    try:
        items = ImageSource(args.data).items()
    except DataNotFoundError as exc:
        print(f"error: {exc}")
        return 2
    split = make_split(items, args.seed, config.SPLIT_FRACTIONS)
    write_split(split, Path(args.out), args.seed)
    counts = {s: sum(1 for v in split.values() if v == s) for s in SUBSETS}
    print(f"wrote {args.out}: {counts}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
