"""Precise BN: the running batch-norm statistics replaced by the exact statistics of the data."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from eurosat.batchnorm import batchnorm_layers, recompute_batchnorm_statistics  # noqa: E402


def _tiny_model():
    inputs = keras.Input((8, 8, 3), name="image")
    x = keras.layers.Conv2D(4, 3, padding="same", name="conv1")(inputs)
    x = keras.layers.BatchNormalization(name="bn1")(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.Conv2D(5, 3, padding="same", name="conv2")(x)
    x = keras.layers.BatchNormalization(name="bn2")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(2, activation="softmax", name="predictions")(x))


def test_statistics_are_those_of_the_data_not_the_old_running_ones():
    model = _tiny_model()
    images = np.random.default_rng(0).uniform(0, 255, (40, 8, 8, 3)).astype(np.float32)
    bn1, bn2 = batchnorm_layers(model)
    for layer in (bn1, bn2):
        layer.moving_mean.assign(np.full(layer.moving_mean.shape, 99.0, np.float32))
        layer.moving_variance.assign(np.full(layer.moving_variance.shape, 1e-3, np.float32))

    assert recompute_batchnorm_statistics(model, images, batch_size=16) == 2

    conv1 = keras.Model(model.inputs, model.get_layer("conv1").output)(images).numpy().reshape(-1, 4)
    np.testing.assert_allclose(bn1.moving_mean.numpy(), conv1.mean(0), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(bn1.moving_variance.numpy(), conv1.var(0), rtol=1e-3, atol=1e-3)
    # the second layer's input is computed with the first normalising by its batch statistics: the
    # estimate does not depend on the statistics being replaced, so a second pass changes nothing
    before = bn2.moving_mean.numpy().copy(), bn2.moving_variance.numpy().copy()
    recompute_batchnorm_statistics(model, images, batch_size=16)
    np.testing.assert_allclose(bn2.moving_mean.numpy(), before[0], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(bn2.moving_variance.numpy(), before[1], rtol=1e-3, atol=1e-3)
    assert np.all(bn2.moving_mean.numpy() != 99.0)


def test_inference_uses_the_new_statistics():
    model = _tiny_model()
    images = np.random.default_rng(1).uniform(0, 255, (32, 8, 8, 3)).astype(np.float32)
    stale = model.predict(images, verbose=0)
    recompute_batchnorm_statistics(model, images)
    fresh = model.predict(images, verbose=0)
    assert not np.allclose(stale, fresh)  # the default running stats (0, 1) are far from 0-255 data
    # with exact full-batch statistics inference equals training-mode normalisation on that batch
    np.testing.assert_allclose(fresh, model(images, training=True).numpy(), atol=2e-3)


def test_a_model_without_batch_norm_is_left_alone():
    inputs = keras.Input((8, 8, 3))
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(inputs)))
    assert recompute_batchnorm_statistics(model, np.zeros((4, 8, 8, 3), np.float32)) == 0


def test_images_sorted_by_class_give_the_statistics_of_mixed_batches():
    """Class-sorted input (as a split is loaded) must not make batches of one class: deeper layers'
    inputs would be normalised by that class's statistics."""
    model = _tiny_model()
    rng = np.random.default_rng(2)
    dark = rng.uniform(0, 60, (64, 8, 8, 3))
    bright = rng.uniform(180, 255, (64, 8, 8, 3))
    images = np.concatenate([dark, bright]).astype(np.float32)
    recompute_batchnorm_statistics(model, images, batch_size=128)  # one batch: the reference
    whole = model.get_layer("bn2").moving_variance.numpy().copy()
    recompute_batchnorm_statistics(model, images, batch_size=32)
    batched = model.get_layer("bn2").moving_variance.numpy()
    np.testing.assert_allclose(batched, whole, rtol=0.25)


def test_a_frozen_layer_keeps_its_statistics():
    model = _tiny_model()
    model.get_layer("bn1").trainable = False
    before = model.get_layer("bn1").moving_mean.numpy().copy()
    images = np.random.default_rng(3).uniform(0, 255, (16, 8, 8, 3)).astype(np.float32)
    assert recompute_batchnorm_statistics(model, images) == 1
    np.testing.assert_array_equal(model.get_layer("bn1").moving_mean.numpy(), before)
