"""eurosat.data_explore and eurosat.data_charts on small synthetic inputs with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from affine import Affine

from eurosat.classes import CLASS_NAMES
from eurosat.data import Item
from eurosat.data_charts import channel_histogram_figure, mean_colour_figure, split_figure
from eurosat.data_explore import (
    augmentation_views,
    channel_histograms,
    channel_stats,
    compare_distributions,
    difference_sentence,
    load_sample,
    rgb_hex,
    sample_items,
    scene_sample,
    split_counts,
    upscale,
)
from eurosat.errors import DataNotFoundError, GeoError
from tests.rasters import write_tif


def items_of(label: int, n: int) -> list[Item]:
    name = CLASS_NAMES[label]
    return [Item(f"{name}/{name}_{i}.jpg", label) for i in range(1, n + 1)]


def constant_images(colours: list[tuple[int, int, int]], size: int = 64) -> np.ndarray:
    return np.stack([np.full((size, size, 3), c, dtype=np.uint8) for c in colours])


def test_split_counts_of_a_hand_made_split():
    split = {"train": items_of(0, 5) + items_of(3, 2), "val": items_of(0, 1), "test": items_of(9, 4)}
    table = split_counts(split)
    assert list(table["class"]) == list(CLASS_NAMES)
    assert list(table.columns) == ["class", "train", "val", "test", "total"]
    row = table.set_index("class")
    assert row.loc["AnnualCrop"].tolist() == [5, 1, 0, 6]
    assert row.loc["Highway"].tolist() == [2, 0, 0, 2]
    assert row.loc["SeaLake"].tolist() == [0, 0, 4, 4]
    assert row.loc["Forest"].tolist() == [0, 0, 0, 0]
    assert table["total"].sum() == 12
    fig = split_figure(table)
    assert [t.name for t in fig.data] == ["train", "val", "test"] and fig.layout.barmode == "stack"


def test_sample_items_is_seeded_per_class_and_nested():
    pool = items_of(0, 30) + items_of(1, 3) + items_of(5, 10)
    a = sample_items(pool, per_class=5, seed=7)
    assert a == sample_items(pool, per_class=5, seed=7)
    assert a != sample_items(pool, per_class=5, seed=8)
    assert [sum(it.label == k for it in a) for k in (0, 1, 5)] == [5, 3, 5]  # a class with fewer: all of it
    assert len(set(a)) == len(a) and set(a) <= set(pool)
    big = sample_items(pool, per_class=8, seed=7)
    for k in (0, 1, 5):  # a smaller sample is a prefix of a larger one
        small_k = [it for it in a if it.label == k]
        assert [it for it in big if it.label == k][: len(small_k)] == small_k
    assert [it.label for it in a] == sorted(it.label for it in a)  # grouped by class


def test_load_sample_reads_the_fake_pool(fake_pool):
    x, y, items = load_sample(fake_pool, per_class=2, seed=0)
    assert x.shape == (20, 64, 64, 3) and x.dtype == np.uint8
    assert y.tolist() == [it.label for it in items] and np.bincount(y).tolist() == [2] * 10
    with pytest.raises(DataNotFoundError):
        load_sample(fake_pool / "missing.zip", per_class=2, seed=0)


def test_channel_stats_of_constant_colours():
    images = constant_images([(255, 0, 16), (255, 0, 16), (10, 20, 30), (12, 22, 32)])
    labels = np.array([4, 4, 1, 1])
    stats = channel_stats(images, labels).set_index("class")
    assert list(stats.index) == ["Forest", "Industrial"]  # CLASS_NAMES order, present classes only
    assert stats.loc["Industrial", ["mean_r", "mean_g", "mean_b"]].tolist() == [255, 0, 16]
    assert stats.loc["Industrial", "hex"] == "#ff0010"
    assert stats.loc["Forest", ["mean_r", "mean_g", "mean_b"]].tolist() == [11, 21, 31]
    assert stats.loc["Forest", "hex"] == "#0b151f" and stats.loc["Forest", "images"] == 2
    assert rgb_hex((300, -4, 127.6)) == "#ff0080"
    fig = mean_colour_figure(channel_stats(images, labels))
    assert list(fig.data[0].marker.color) == ["#ff0010", "#0b151f"]  # first class on top


def test_histograms_sum_to_the_pixel_count_and_bin_values():
    images = constant_images([(0, 100, 255), (7, 8, 255)], size=8)  # 2 × 64 pixels
    edges, counts = channel_histograms(images, bins=32)
    assert edges[0] == 0 and edges[-1] == 256 and len(edges) == 33 and counts.shape == (3, 32)
    assert counts.sum(axis=1).tolist() == [128, 128, 128]
    assert counts[0, 0] == 128  # 0 and 7 both in [0, 8)
    assert counts[1, 12] == 64 and counts[1, 1] == 64  # 100 in [96, 104), 8 in [8, 16)
    assert counts[2, 31] == 128
    _, pix_counts = channel_histograms(images.reshape(-1, 3), bins=4)  # (M, 3) pixels work too
    assert pix_counts.tolist() == [[128, 0, 0, 0], [64, 64, 0, 0], [0, 0, 0, 128]]
    fig = channel_histogram_figure(edges, {"a": counts, "b": counts // 2})
    assert len(fig.data) == 6 and {t.line.color for t in fig.data} == {"#d62728", "#2ca02c", "#1f77b4"}
    assert max(fig.data[0].y) == pytest.approx(100.0)  # shares of pixels


def test_compare_distributions_says_the_brighter_one_is_brighter(rng):
    base = rng.integers(40, 160, (2000, 3)).astype(np.uint8)
    brighter = (base.astype(int) + np.array([20, 20, 60])).astype(np.uint8)
    table = compare_distributions(base, brighter).set_index("channel")
    assert table.loc["R", "difference"] == pytest.approx(20)
    assert table.loc["B", "difference"] == pytest.approx(60)
    assert table.loc["B", "scene_median"] == table.loc["B", "eurosat_median"] + 60
    assert table.loc["G", "eurosat_p5"] <= table.loc["G", "eurosat_median"] <= table.loc["G", "eurosat_p95"]
    assert table.loc["G", "eurosat_mean"] == pytest.approx(base[:, 1].mean())
    assert "scene brighter by 20.0" in table.loc["R", "summary"]
    sentence = difference_sentence(table.reset_index(), scene_name="The winter scene")
    assert sentence.startswith("The winter scene is brighter than EuroSAT") and "bluer" in sentence
    darker = difference_sentence(compare_distributions(brighter, base))
    assert "darker than EuroSAT" in darker and "less blue" in darker
    same = difference_sentence(compare_distributions(base, base))
    assert "about as bright" in same and "about as blue" in same
    assert "no valid pixels" in difference_sentence(compare_distributions(base, base[:0]))


def test_scene_sample_excludes_nodata_and_respects_the_pixel_bound(tmp_path):
    data = np.zeros((3, 100, 120), dtype=np.uint8)
    data[:, :, 30:] = np.array([200, 100, 50], dtype=np.uint8)[:, None, None]  # 30 all-zero columns: no data
    path = write_tif(tmp_path / "s.tif", data, transform=Affine(10, 0, 330000, 0, -10, 5822040))
    px = scene_sample(path)
    assert px.shape == (100 * 90, 3) and px.dtype == np.uint8
    assert (px == [200, 100, 50]).all()
    small = scene_sample(path, max_pixels=1000)  # read decimated
    assert 0 < len(small) <= 1000 and (small == [200, 100, 50]).all()
    with pytest.raises(GeoError):
        scene_sample(tmp_path / "missing.tif")


def test_scene_sample_scales_16_bit_dn(tmp_path):
    dn = np.full((3, 16, 16), 2750, dtype=np.uint16)
    dn[2] = 1100
    px = scene_sample(write_tif(tmp_path / "dn.tif", dn))
    assert (px == [255, 255, 102]).all()  # DN * 255 / 2750


def test_real_scene_is_brighter_and_bluer_than_eurosat(scene_path, eurosat_zip):
    x, _, _ = load_sample(eurosat_zip, per_class=10, seed=0)
    sentence = difference_sentence(compare_distributions(x, scene_sample(scene_path)))
    assert "brighter than EuroSAT" in sentence and "bluer" in sentence


def test_upscale_is_nearest_neighbour():
    img = np.arange(2 * 2 * 3, dtype=np.uint8).reshape(2, 2, 3)
    big = upscale(img, 8)
    assert big.shape == (8, 8, 3) and (big[:4, :4] == img[0, 0]).all() and (big[4:, 4:] == img[1, 1]).all()
    assert upscale(np.zeros((64, 64, 3), np.uint8), 128).shape == (128, 128, 3)


def test_augmentation_views_use_the_trainer_and_are_seeded(rng):
    img = rng.integers(0, 256, (64, 64, 3)).astype(np.uint8)
    views = augmentation_views(img, n=3, seed=5)
    names = [n for n, _ in views]
    assert names == ["original", "horizontal flip", "vertical flip", "transpose",
                     "augmented #1", "augmented #2", "augmented #3"]
    d = dict(views)
    assert all(v.shape == (64, 64, 3) and v.dtype == np.uint8 for v in d.values())
    assert (d["original"] == img).all() and (d["horizontal flip"] == img[:, ::-1]).all()
    assert (d["vertical flip"] == img[::-1]).all() and (d["transpose"] == img.transpose(1, 0, 2)).all()
    assert not (d["augmented #1"] == img).all()  # zoom/shift/contrast always change something
    again = dict(augmentation_views(img, n=3, seed=5, named=False))
    assert list(again) == ["augmented #1", "augmented #2", "augmented #3"]
    assert all((again[k] == d[k]).all() for k in again)
