"""eurosat.data: reading the pool, the fixed split, the augmentation pipeline."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from eurosat import config
from eurosat.classes import CLASS_NAMES
from eurosat.data import (
    ImageSource,
    Item,
    augment_batch,
    make_dataset,
    make_split,
    read_split,
    take_fraction,
    write_split,
)
from eurosat.errors import DataNotFoundError
from tests.conftest import write_fake_eurosat


def _items(per_class: int = 50) -> list[Item]:
    return [Item(f"{c}/{c}_{n}.jpg", k) for k, c in enumerate(CLASS_NAMES) for n in range(1, per_class + 1)]


def test_split_is_reproducible_stratified_and_disjoint():
    items = _items(50)
    a = make_split(items, seed=7)
    b = make_split(list(reversed(items)), seed=7)
    assert a == b  # order of listing does not matter, the seed does
    assert make_split(items, seed=8) != a
    for k, c in enumerate(CLASS_NAMES):
        subsets = [a[it.path] for it in items if it.label == k]
        assert subsets.count("train") == 40 and subsets.count("val") == 5 and subsets.count("test") == 5, c
    assert set(a) == {it.path for it in items}


def test_split_fractions_must_sum_to_one():
    with pytest.raises(ValueError):
        make_split(_items(5), seed=0, fractions=(0.5, 0.1, 0.1))


def test_split_roundtrip(tmp_path):
    items = _items(10)
    split = make_split(items, seed=1)
    path = tmp_path / "split.csv"
    write_split(split, path, seed=1)
    assert path.read_text().startswith("# EuroSAT RGB fixed split, made by eurosat.data.make_split(seed=1)")
    back = read_split(path)
    assert sum(len(v) for v in back.values()) == len(items)
    assert {it.path: s for s, its in back.items() for it in its} == split


@pytest.mark.parametrize("as_zip", [False, True])
def test_image_source_reads_folder_and_zip(tmp_path, as_zip):
    src = ImageSource(write_fake_eurosat(tmp_path / "p", per_class=3, as_zip=as_zip))
    items = src.items()
    assert len(items) == 30
    assert items[0] == Item("AnnualCrop/AnnualCrop_1.jpg", 0)
    x, y = src.load(items[:5])
    assert x.shape == (5, 64, 64, 3) and x.dtype == np.uint8
    assert y.tolist() == [0, 0, 0, 1, 1]


def test_image_source_errors_are_clear(tmp_path):
    with pytest.raises(DataNotFoundError, match="not found"):
        ImageSource(tmp_path / "nope.zip")
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"this is not a zip")
    with pytest.raises(DataNotFoundError, match="not a readable zip"):
        ImageSource(bad)
    empty = tmp_path / "empty.zip"
    with zipfile.ZipFile(empty, "w") as z:
        z.writestr("readme.txt", "x")
    with pytest.raises(DataNotFoundError, match="No EuroSAT images"):
        ImageSource(empty)
    src = ImageSource(write_fake_eurosat(tmp_path / "p", per_class=1))
    with pytest.raises(DataNotFoundError, match="not in"):
        src.read_bytes("Forest/Forest_999.jpg")


def test_take_fraction_is_stratified_prefix():
    items = _items(20)
    part = take_fraction(items, 0.1)
    assert len(part) == 20 and {it.label for it in part} == set(range(10))
    assert take_fraction(items, 0.001) and len(take_fraction(items, 0.001)) == 10  # at least one per class
    assert take_fraction(items, 1.0) == items


def test_augment_batch_keeps_shape_range_and_changes_images():
    import tensorflow as tf

    x = tf.constant(np.random.default_rng(0).uniform(0, 255, (8, 64, 64, 3)), tf.float32)
    y = augment_batch(x).numpy()
    assert y.shape == (8, 64, 64, 3)
    assert y.min() >= 0 and y.max() <= 255
    assert not np.allclose(y, x.numpy())


def test_make_dataset_batches_and_casts():
    x = np.zeros((10, 64, 64, 3), np.uint8)
    y = np.arange(10) % 10
    batches = list(make_dataset(x, y, batch_size=4, training=True).as_numpy_iterator())
    assert [len(b[0]) for b in batches] == [4, 4, 2]
    assert batches[0][0].dtype == np.float32


@pytest.mark.slow
def test_committed_split_matches_pool_and_seed(eurosat_zip):
    """The committed split is exactly make_split(seed) of the real pool: 80/10/10 per class."""
    items = ImageSource(eurosat_zip).items()
    assert len(items) == 24300
    split = read_split(config.SPLIT_FILE)
    committed = {it.path: s for s, its in split.items() for it in its}
    assert committed == make_split(items, config.SPLIT_SEED, config.SPLIT_FRACTIONS)
    assert [len(split[s]) for s in ("train", "val", "test")] == [19440, 2430, 2430]
