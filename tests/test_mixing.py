"""Mixed tiles for function matching (eurosat.mixing)."""

import numpy as np
import pytest

from eurosat.mixing import cutmix_box, mixed_tiles


def _two_flat_tiles() -> tuple[np.ndarray, np.ndarray]:
    images = np.zeros((2, 64, 64, 3), np.uint8)
    images[1] = 200
    return images, np.array([3, 7])


def test_mixup_tiles_are_the_blend_their_labels_say():
    images, labels = _two_flat_tiles()
    mixed = mixed_tiles(images, labels, 50, seed=1, cutmix_share=0.0)
    assert set(mixed.kinds) == {"mixup"}
    share_of_7 = mixed.images.reshape(50, -1).mean(1) / 200.0  # tile 1 (class 7) is 200, tile 0 is 0
    np.testing.assert_allclose(mixed.labels[:, 7], share_of_7, atol=0.01)
    np.testing.assert_allclose(mixed.labels.sum(1), 1.0, atol=1e-6)
    assert np.count_nonzero(mixed.labels, axis=1).max() <= 2


def test_cutmix_label_shares_are_the_pixel_shares_of_each_source():
    images, labels = _two_flat_tiles()
    mixed = mixed_tiles(images, labels, 50, seed=2, cutmix_share=1.0)
    assert set(mixed.kinds) == {"cutmix"}
    pixel_share_of_7 = (mixed.images[..., 0] == 200).mean(axis=(1, 2))
    np.testing.assert_allclose(mixed.labels[:, 7], pixel_share_of_7, atol=1e-6)
    assert set(np.unique(mixed.images)) <= {0, 200}  # pasted, not blended


def test_a_tile_is_never_mixed_with_itself_and_the_seed_repeats():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (5, 64, 64, 3)).astype(np.uint8)
    labels = np.arange(5)
    a = mixed_tiles(images, labels, 200, seed=3)
    np.testing.assert_array_equal(a.images, mixed_tiles(images, labels, 200, seed=3).images)
    assert 0.3 < np.mean(a.kinds == "cutmix") < 0.7
    # with five distinct classes, a one-class label means the share of the other tile was 0
    single = np.isclose(a.labels.max(1), 1.0)
    assert single.mean() < 0.1
    with pytest.raises(ValueError):
        mixed_tiles(images[:1], labels[:1], 3)


def test_cutmix_box_covers_the_requested_area_inside_the_tile():
    rng = np.random.default_rng(4)
    for share in (0.0, 0.25, 0.5, 1.0):
        r0, r1, c0, c1 = cutmix_box(64, share, rng)
        assert 0 <= r0 <= r1 <= 64 and 0 <= c0 <= c1 <= 64
        assert abs((r1 - r0) * (c1 - c0) / 64**2 - share) < 0.03
