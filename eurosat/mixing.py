"""Mixed training tiles for function matching: mixup and CutMix pairs of real tiles (numpy, seeded).

Distillation passes on more of a teacher when the student also sees the teacher's answers *between*
the training images (Beyer et al. 2022, "Knowledge distillation: a good teacher is patient and
consistent": "function matching" on mixed images). The trainer labels the tiles made here with the
teacher, offline, once (:func:`eurosat.train.training_targets`), or per batch with ``--teacher-online``
(:mod:`eurosat.consistent`):

* **mixup** (Zhang et al. 2018): ``λ·a + (1 − λ)·b`` for two random tiles, ``λ ~ U(0, 1)``;
* **CutMix** (Yun et al. 2019): a rectangle of ``b`` pasted into ``a``, its area a ``U(0, 1)`` share
  of the tile; on land cover this is what a tile on a boundary looks like (half forest, half river).

The label share of each source (``λ``, or the share of ``a``'s pixels left) comes with every tile, so a
target can mix the teacher with the labels as for the real tiles.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eurosat.classes import NUM_CLASSES


@dataclass(frozen=True)
class MixedTiles:
    """Mixed tiles and their label mixes.

    Attributes:
        images: uint8 (N, H, W, 3), on the scale of the inputs.
        labels: float32 (N, NUM_CLASSES), rows sum to 1: ``share_a·onehot(a) + (1 − share_a)·onehot(b)``.
        kinds: (N,) "mixup" or "cutmix".
    """

    images: np.ndarray
    labels: np.ndarray
    kinds: np.ndarray


def cutmix_box(side: int, area_share: float, rng: np.random.Generator) -> tuple[int, int, int, int]:
    """A square-ish box (row0, row1, col0, col1) covering about ``area_share`` of a ``side``² tile."""
    cut = int(round(side * np.sqrt(np.clip(area_share, 0.0, 1.0))))
    r0 = int(rng.integers(0, side - cut + 1))
    c0 = int(rng.integers(0, side - cut + 1))
    return r0, r0 + cut, c0, c0 + cut


def mixed_tiles(images: np.ndarray, labels: np.ndarray, n: int, seed: int = 0,
                cutmix_share: float = 0.5) -> MixedTiles:
    """``n`` tiles, each made of two random tiles of ``images``: mixup or CutMix.

    Args:
        images: uint8 (M, H, W, 3) real tiles (M ≥ 2).
        labels: int (M,) their class indices.
        n: how many mixed tiles to make.
        seed: random seed (pairs, shares, boxes).
        cutmix_share: share of the ``n`` tiles made by CutMix; the rest by mixup.

    Returns:
        :class:`MixedTiles` with ``n`` rows.
    """
    if len(images) < 2:
        raise ValueError("mixed_tiles needs at least two tiles")
    rng = np.random.default_rng(seed)
    side = images.shape[1]
    a = rng.integers(0, len(images), n)
    b = (a + rng.integers(1, len(images), n)) % len(images)  # never a tile with itself
    share = rng.uniform(0.0, 1.0, n)
    is_cut = rng.uniform(0.0, 1.0, n) < cutmix_share
    out = np.empty((n, *images.shape[1:]), np.uint8)
    share_a = np.empty(n, np.float32)
    for i in range(n):
        if is_cut[i]:
            r0, r1, c0, c1 = cutmix_box(side, 1.0 - share[i], rng)
            tile = images[a[i]].copy()
            tile[r0:r1, c0:c1] = images[b[i], r0:r1, c0:c1]
            out[i] = tile
            share_a[i] = 1.0 - (r1 - r0) * (c1 - c0) / float(side * side)
        else:
            mix = share[i] * images[a[i]].astype(np.float32) + (1.0 - share[i]) * images[b[i]]
            out[i] = np.clip(np.rint(mix), 0, 255).astype(np.uint8)
            share_a[i] = share[i]
    eye = np.eye(NUM_CLASSES, dtype=np.float32)
    mixed_labels = share_a[:, None] * eye[labels[a]] + (1.0 - share_a[:, None]) * eye[labels[b]]
    return MixedTiles(out, mixed_labels.astype(np.float32), np.where(is_cut, "cutmix", "mixup"))
