"""Consistent teaching: the teacher labels each mixed tile as the student sees it (online function matching).

``--teacher-mix F`` alone makes its mixed tiles once, before training, and the teacher labels them
once; every epoch then shows the same pairs, moved a little by the augmentation (:mod:`eurosat.mixing`).
Beyer et al. (2022, "Knowledge distillation: a good teacher is patient and consistent") find that
distillation keeps improving when the teacher instead answers on exactly the image the student gets,
fresh every step. :class:`OnlineTeacher` does that per batch: it pairs the batch's *augmented* tiles
(mixup or CutMix, :func:`eurosat.mixing.mixed_tiles`), asks the teacher files (LiteRT, no TensorFlow)
for their probabilities on the mixed tiles, and appends them with their targets. Only the mixed
tiles are labelled consistently: the real tiles keep the targets computed once on the unaugmented tile
(with an 8-view teacher exact for the flips and rotations, not for the zoom, shift and colour changes).

Cost: each epoch the teachers score ``F × N`` new tiles (an 8-view ``resnet_light_deep`` file does
~100 tiles/s on one core), instead of once for the whole run. An epoch then has N / B steps of
B + F·B tiles, where the offline ``--teacher-mix F`` has (1 + F)·N / B steps of B tiles: at the same
learning rate, fewer and larger steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from eurosat.classes import NUM_CLASSES
from eurosat.mixing import mixed_tiles


def teacher_probabilities(teachers: Sequence[Any], images: np.ndarray,
                          temperature: float = 1.0) -> np.ndarray:
    """The mean probabilities of teacher classifiers (an ensemble), softened at ``temperature``.

    The one definition of "the teacher" for the offline targets (:func:`eurosat.train.training_targets`)
    and :class:`OnlineTeacher`.

    Args:
        teachers: objects with ``predict(images) -> (N, 10)`` (``eurosat.inference.TFLiteClassifier``).
        images: (N, 64, 64, 3) tiles on the 0-255 scale.
        temperature: ``softmax(log p / T)`` of the mean (T > 1 softer); 1 leaves it as it is.

    Returns:
        float32 (N, 10) probabilities.
    """
    probs = np.mean([t.predict(images) for t in teachers], axis=0).astype(np.float32)
    if temperature != 1.0:
        from eurosat.calibration import apply_temperature

        probs = apply_temperature(probs, temperature)
    return np.asarray(probs, np.float32)


@dataclass
class OnlineTeacher:
    """Mixes each training batch and labels the mixed tiles with the teachers' mean probabilities.

    Attributes:
        files: teacher ``.tflite`` files honouring the contract (their mean is the teacher).
        mix_fraction: mixed tiles added to a batch of B real ones: ``round(mix_fraction × B)``.
        distill_weight: share of the teacher in a mixed tile's target; the rest is the mixed labels.
        temperature: soften the teacher first, ``softmax(log p / T)`` (T > 1 softer), as offline.
        seed: seeds the pairs, shares and boxes (one generator for the whole run) ...
        stream: ... with this second key (a resumed run passes its first epoch: new pairs, not epoch 1's).
        num_threads: LiteRT threads of each teacher interpreter.
    """

    files: Sequence[str | Path]
    mix_fraction: float
    distill_weight: float
    temperature: float = 1.0
    seed: int = 0
    stream: int = 0
    num_threads: int = 1
    _rng: np.random.Generator = field(init=False, repr=False)
    _teachers: list[Any] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.files:
            raise ValueError("OnlineTeacher needs at least one teacher file")
        if not 0 < self.mix_fraction <= 2:
            raise ValueError("mix_fraction must be in (0, 2]")
        from eurosat.inference import TFLiteClassifier

        self._rng = np.random.default_rng([self.seed, self.stream])
        self._teachers = [TFLiteClassifier(f, num_threads=self.num_threads, batch_size=128)
                          for f in self.files]

    def teacher_probabilities(self, images: np.ndarray) -> np.ndarray:
        """The teachers' mean probabilities, float32 (N, 10), softened at ``temperature``."""
        return teacher_probabilities(self._teachers, images, self.temperature)

    def extend_batch(self, images: np.ndarray, targets: np.ndarray,
                     labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The batch followed by its mixed tiles.

        Args:
            images: float32 (B, 64, 64, 3) augmented tiles on the 0-255 scale.
            targets: float32 (B, 10) their targets.
            labels: int (B,) their classes.

        Returns:
            images float32 (B + M, 64, 64, 3) and targets float32 (B + M, 10), M =
            ``round(mix_fraction × B)`` (0 for a batch of one tile).
        """
        n_mix = int(round(self.mix_fraction * len(images))) if len(images) >= 2 else 0
        if not n_mix:
            return images.astype(np.float32), targets.astype(np.float32)
        tiles = np.clip(np.rint(images), 0, 255).astype(np.uint8)
        mixed = mixed_tiles(tiles, np.asarray(labels, np.int64), n_mix,
                            seed=int(self._rng.integers(0, 2**31 - 1)))
        mixed_targets = mixed.labels
        if self.distill_weight:
            teacher = self.teacher_probabilities(mixed.images)
            mixed_targets = self.distill_weight * teacher + (1.0 - self.distill_weight) * mixed.labels
        return (np.concatenate([images.astype(np.float32), mixed.images.astype(np.float32)]),
                np.concatenate([targets, mixed_targets]).astype(np.float32))


def consistent_dataset(x: np.ndarray, targets: np.ndarray, labels: np.ndarray, batch_size: int,
                       teacher: OnlineTeacher, augment: bool = True, seed: int = 42):
    """Training ``tf.data`` pipeline: shuffle, batch, augment, then :meth:`OnlineTeacher.extend_batch`.

    Args:
        x: uint8 (N, 64, 64, 3) training tiles.
        targets: float32 (N, 10) their targets (labels, or labels mixed with an offline teacher).
        labels: int (N,) their classes (the mixed tiles' label shares).
        batch_size: real tiles per batch; each batch grows by ``teacher.mix_fraction`` × that.

    Returns:
        A dataset of (images float32 (B + M, 64, 64, 3), targets float32 (B + M, 10)).
    """
    import tensorflow as tf

    from eurosat.data import augment_batch

    ds = tf.data.Dataset.from_tensor_slices((x, targets.astype(np.float32), labels.astype(np.int64)))
    ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True).batch(batch_size)
    ds = ds.map(lambda a, t, y: (tf.cast(a, tf.float32), t, y), num_parallel_calls=tf.data.AUTOTUNE)
    if augment:
        ds = ds.map(lambda a, t, y: (augment_batch(a), t, y), num_parallel_calls=tf.data.AUTOTUNE)

    def extend(a, t, y):
        images, tgt = tf.numpy_function(teacher.extend_batch, [a, t, y], [tf.float32, tf.float32],
                                        stateful=True)
        images.set_shape([None, *x.shape[1:]])
        tgt.set_shape([None, NUM_CLASSES])
        return images, tgt

    # one call at a time: the teachers' interpreters and the generator are not shared across threads
    ds = ds.map(extend, num_parallel_calls=1)
    return ds.prefetch(2)
