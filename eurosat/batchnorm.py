"""Re-estimate a Keras model's batch-norm statistics from data ("precise BN").

During training each BatchNormalization layer keeps a running mean/variance (momentum 0.99, about the
last 100 batches) of activations computed by *earlier* weights; inference uses them. Two cases leave
them out of step with the weights the model is evaluated with:

* weight averaging (``--ema``): Keras averages the trainable weights only, so the averaged model is
  evaluated with the running statistics of the raw weights;
* a short or high-learning-rate fine-tune: the running statistics lag the fast-moving weights.

:func:`recompute_batchnorm_statistics` replaces every layer's moving mean/variance with the exact
population statistics of its input over the given images (Wu & Johnson 2021, "Rethinking 'Batch' in
BatchNorm", section 3): one forward pass in training mode, in which each layer normalises with its
batch's own statistics, so the activations reaching a layer do not depend on the statistics being
replaced, and all layers are estimated in the same pass. That holds only when every batch looks like
the whole set: the images are shuffled first (a batch of one class would normalise its deeper layers'
inputs by that class's statistics, and a split loads sorted by class).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def batchnorm_layers(model: Any) -> list[Any]:
    """The model's BatchNormalization layers, in graph order (nested models included)."""
    import keras

    found: list[Any] = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            found.append(layer)
        elif isinstance(layer, keras.Model):
            found.extend(batchnorm_layers(layer))
    return found


def recompute_batchnorm_statistics(
    model: Any, images: np.ndarray, batch_size: int = 128, seed: int = 0
) -> int:
    """Set every BatchNormalization layer's moving mean/variance to its input's population statistics.

    Args:
        model: a Keras functional model (not nested inside another one).
        images: (N, 64, 64, 3) images on the model's input scale (uint8 or float 0-255), N ≥ 1.
        batch_size: images per forward pass; statistics are accumulated exactly (sums of x and x²).
        seed: of the shuffle that mixes the images across batches (the same images give the same result).

    Returns:
        The number of layers updated (0: the model has no batch norm; nothing changed). Frozen
        (non-trainable) layers, e.g. a frozen backbone's, keep the statistics they came with.
    """
    import keras

    layers = [layer for layer in batchnorm_layers(model) if layer.trainable]  # a frozen layer keeps its own
    if not layers or len(images) == 0:
        return 0
    probe = keras.Model(model.inputs[0], [layer.input for layer in layers])
    sums = [np.zeros(layer.moving_mean.shape, np.float64) for layer in layers]
    squares = [np.zeros(layer.moving_mean.shape, np.float64) for layer in layers]
    counts = [0] * len(layers)
    order = np.random.default_rng(seed).permutation(len(images))
    for start in range(0, len(images), batch_size):
        batch = np.asarray(images[order[start : start + batch_size]], dtype=np.float32)
        outputs = probe(batch, training=True)
        outputs = outputs if isinstance(outputs, list | tuple) else [outputs]
        for i, act in enumerate(outputs):
            axes = tuple(range(len(act.shape) - 1))
            sums[i] += np.asarray(keras.ops.sum(act, axis=axes), dtype=np.float64)
            squares[i] += np.asarray(keras.ops.sum(keras.ops.square(act), axis=axes), dtype=np.float64)
            counts[i] += int(np.prod(act.shape[:-1]))
    for layer, s, q, n in zip(layers, sums, squares, counts, strict=True):
        mean = s / n
        var = np.maximum(q / n - np.square(mean), 0.0)
        layer.moving_mean.assign(mean.astype(layer.moving_mean.dtype))
        layer.moving_variance.assign(var.astype(layer.moving_variance.dtype))
    return len(layers)
