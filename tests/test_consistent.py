"""Consistent teaching (eurosat.consistent): fresh mixed tiles per batch, labelled online by the teacher."""

from __future__ import annotations

import numpy as np
import pytest

from eurosat import config, train
from eurosat.calibration import apply_temperature
from eurosat.config import TrainConfig
from eurosat.consistent import OnlineTeacher, consistent_dataset
from eurosat.errors import EuroSATError
from eurosat.inference import TFLiteClassifier
from eurosat.mixing import mixed_tiles

TEACHER = str(config.models_dir() / config.TFLITE_DYNAMIC)


def _batch(rng, n=8):
    images = rng.integers(0, 256, (n, 64, 64, 3)).astype(np.float32)
    labels = np.arange(n) % 10
    targets = np.eye(10, dtype=np.float32)[labels]
    return images, targets, labels


def test_a_batch_grows_by_mixed_tiles_whose_targets_mix_the_teacher_and_the_labels(rng):
    images, targets, labels = _batch(rng)
    teacher = OnlineTeacher([TEACHER], mix_fraction=0.5, distill_weight=0.6, seed=1)
    out_images, out_targets = teacher.extend_batch(images, targets, labels)
    assert out_images.shape == (12, 64, 64, 3) and out_targets.shape == (12, 10)
    np.testing.assert_array_equal(out_images[:8], images)
    np.testing.assert_array_equal(out_targets[:8], targets)
    np.testing.assert_allclose(out_targets.sum(1), 1.0, atol=1e-5)
    # the mixed tiles are mixup/CutMix pairs of the batch, drawn from the run's generator ...
    expected = mixed_tiles(images.astype(np.uint8), labels, 4,
                           seed=int(np.random.default_rng([1, 0]).integers(0, 2**31 - 1)))
    np.testing.assert_array_equal(out_images[8:], expected.images)
    # ... and the teacher's share of their targets is its answer on exactly the tile the student gets
    teacher = TFLiteClassifier(TEACHER).predict(out_images[8:])
    np.testing.assert_allclose(out_targets[8:], 0.6 * teacher + 0.4 * expected.labels, atol=1e-5)


def test_every_batch_gets_fresh_mixed_tiles_and_a_seed_repeats_them(rng):
    images, targets, labels = _batch(rng)
    first = OnlineTeacher([TEACHER], mix_fraction=1.0, distill_weight=0.7, seed=3)
    again = OnlineTeacher([TEACHER], mix_fraction=1.0, distill_weight=0.7, seed=3)
    a1, _ = first.extend_batch(images, targets, labels)
    a2, _ = first.extend_batch(images, targets, labels)
    b1, _ = again.extend_batch(images, targets, labels)
    assert not np.array_equal(a1[8:], a2[8:])  # the next batch is mixed anew
    np.testing.assert_array_equal(a1, b1)


def test_a_temperature_softens_the_online_teacher_and_weight_zero_keeps_the_mixed_labels(rng):
    images, targets, labels = _batch(rng)
    plain = OnlineTeacher([TEACHER], mix_fraction=1.0, distill_weight=0.7)
    soft = OnlineTeacher([TEACHER], mix_fraction=1.0, distill_weight=0.7, temperature=3.0)
    np.testing.assert_allclose(soft.teacher_probabilities(images),
                               apply_temperature(plain.teacher_probabilities(images), 3.0), atol=1e-5)
    _, no_teacher = OnlineTeacher([TEACHER], mix_fraction=1.0, distill_weight=0.0).extend_batch(
        images, targets, labels)
    assert (no_teacher[8:] > 1e-6).sum(1).max() <= 2  # mixed labels only: two classes per tile at most


def test_a_one_tile_batch_is_left_alone_and_bad_settings_are_refused(rng):
    images, targets, labels = _batch(rng, n=1)
    teacher = OnlineTeacher([TEACHER], mix_fraction=1.0, distill_weight=0.7)
    out_images, out_targets = teacher.extend_batch(images, targets, labels)
    assert out_images.shape == (1, 64, 64, 3) and out_targets.shape == (1, 10)
    with pytest.raises(ValueError):
        OnlineTeacher([], mix_fraction=1.0, distill_weight=0.7)
    with pytest.raises(ValueError):
        OnlineTeacher([TEACHER], mix_fraction=0.0, distill_weight=0.7)


def test_the_pipeline_yields_the_real_batch_then_its_mixed_tiles(rng):
    x = rng.integers(0, 256, (10, 64, 64, 3)).astype(np.uint8)
    labels = np.arange(10) % 10
    targets = np.eye(10, dtype=np.float32)[labels]
    teacher = OnlineTeacher([TEACHER], mix_fraction=0.5, distill_weight=0.7, seed=0)
    batches = list(consistent_dataset(x, targets, labels, 4, teacher, augment=False).as_numpy_iterator())
    assert [len(images) for images, _ in batches] == [6, 6, 3]  # 4 + 2, 4 + 2, the rest 2 + 1
    for images, tgt in batches:
        assert images.dtype == np.float32 and tgt.shape == (len(images), 10)
        np.testing.assert_allclose(tgt.sum(1), 1.0, atol=1e-5)
    real = np.concatenate([images[: len(images) * 2 // 3] for images, _ in batches])
    assert sorted(map(bytes, real.astype(np.uint8))) == sorted(map(bytes, x))  # each tile once


class _RecordingTeacher(OnlineTeacher):
    seen: list

    def extend_batch(self, images, targets, labels):
        self.seen.append(images.copy())
        return super().extend_batch(images, targets, labels)


def test_the_teacher_mixes_and_labels_the_augmented_tiles(rng):
    x = rng.integers(0, 256, (8, 64, 64, 3)).astype(np.uint8)
    labels = np.arange(8) % 10
    teacher = _RecordingTeacher([TEACHER], mix_fraction=0.5, distill_weight=0.7, seed=0)
    teacher.seen = []
    list(consistent_dataset(x, np.eye(10, dtype=np.float32)[labels], labels, 8, teacher,
                            augment=True).as_numpy_iterator())
    (seen,) = teacher.seen
    raw = {bytes(tile) for tile in x.astype(np.float32)}
    assert not any(bytes(tile) in raw for tile in seen)  # flipped, zoomed, shifted, recoloured first


def test_the_trainer_picks_the_online_pipeline_only_when_asked(rng):
    x = rng.integers(0, 256, (8, 64, 64, 3)).astype(np.uint8)
    y = np.arange(8) % 10
    targets = np.eye(10, dtype=np.float32)[y]
    base = dict(teacher=TEACHER, teacher_mix_fraction=0.5, batch_size=4, augment=False)
    online = train.training_dataset(x, targets, y, TrainConfig(teacher_online=True, **base))
    offline = train.training_dataset(x, targets, y, TrainConfig(**base))
    assert [len(a) for a, _ in online.as_numpy_iterator()] == [6, 6]
    assert [len(a) for a, _ in offline.as_numpy_iterator()] == [4, 4]
    with pytest.raises(EuroSATError):  # outlier tiles have no class to mix
        train.training_dataset(np.concatenate([x, x[:2]]), np.concatenate([targets, targets[:2]]), y,
                               TrainConfig(teacher_online=True, **base))


def test_the_flag_needs_a_teacher_and_mixed_tiles_and_no_offline_mixing_happens():
    cfg, _, _ = train.parse_args(["--teacher", TEACHER, "--teacher-mix", "1.0", "--teacher-online"])
    assert cfg.teacher_online and cfg.teacher_mix_fraction == 1.0
    for argv in (["--teacher-online", "--teacher-mix", "1.0"],
                 ["--teacher", TEACHER, "--teacher-online"],
                 ["--teacher", TEACHER, "--teacher-mix", "1", "--teacher-online",
                  "--outlier-fraction", "0.1"]):
        with pytest.raises(SystemExit):
            train.parse_args(argv)
    x = np.zeros((4, 64, 64, 3), np.uint8)
    x_fit, _ = train.training_targets(x, np.arange(4), cfg)
    assert len(x_fit) == 4  # the mixed tiles are made per batch, not here
