"""The light ResNet: functional Keras model with normalisation inside and named layers."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from eurosat.classes import EUROSAT_MEAN, EUROSAT_STD, NUM_CLASSES, TILE_SIZE

if TYPE_CHECKING:  # pragma: no cover
    import keras

#: Output of the last residual block (8×8×128 for 64×64 input): the Grad-CAM layer.
LAST_CONV_LAYER = "stage3_block2_out"
INPUT_NAME = "image"
#: Views averaged by :func:`with_tta`: the 8 flips and 90° rotations of a square tile.
TTA_VIEWS = 8
OUTPUT_NAME = "predictions"


def _conv_bn(x, filters: int, kernel: int, stride: int, name: str):
    from keras import layers

    x = layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False,
                      kernel_initializer="he_normal", name=f"{name}_conv")(x)
    return layers.BatchNormalization(name=f"{name}_bn")(x)


def _residual_block(x, filters: int, stride: int, name: str):
    """Basic block: conv-BN-GELU-conv-BN + shortcut (1×1 conv when the shape changes), GELU."""
    from keras import layers

    shortcut = x
    if stride != 1 or x.shape[-1] != filters:
        shortcut = _conv_bn(x, filters, 1, stride, f"{name}_short")
    y = _conv_bn(x, filters, 3, stride, f"{name}_1")
    y = layers.Activation("gelu", name=f"{name}_1_gelu")(y)
    y = _conv_bn(y, filters, 3, 1, f"{name}_2")
    y = layers.Add(name=f"{name}_add")([y, shortcut])
    return layers.Activation("gelu", name=f"{name}_out")(y)


_UPSCALE: type | None = None


def register_custom_layers() -> type:
    """Define (once) and register the :class:`Upscale` layer, so ``.keras`` files using it load.

    Our own layer, not Keras's ``Resizing``: a model with ``Resizing`` followed by BatchNormalization
    exports to a SavedModel (the TFLite path) that does not reproduce it (Keras 3.15, seen here: the
    float32 file's probabilities off by up to 0.7); a plain layer calling ``keras.ops.image.resize``
    exports exactly (``tests/test_transfer.py`` checks the exported files).
    """
    global _UPSCALE
    if _UPSCALE is None:
        import keras

        @keras.saving.register_keras_serializable(package="eurosat")
        class Upscale(keras.layers.Layer):
            """Bilinear resize of (N, H, W, C) images to (N, size, size, C)."""

            def __init__(self, size: int, **kwargs):
                super().__init__(**kwargs)
                self.size = int(size)

            def call(self, x):
                return keras.ops.image.resize(x, (self.size, self.size), interpolation="bilinear")

            def compute_output_shape(self, shape):
                return (shape[0], self.size, self.size, shape[-1])

            def get_config(self) -> dict:
                return {**super().get_config(), "size": self.size}

        _UPSCALE = Upscale
    return _UPSCALE


def upscaled(x, input_size: int):
    """``x`` resized (bilinear) to ``input_size`` × ``input_size`` by a layer, or ``x`` at 64."""
    if input_size == TILE_SIZE:
        return x
    return register_custom_layers()(input_size, name="upscale")(x)


def build_model(
    filters: int = 32,
    blocks_per_stage: tuple[int, ...] = (2, 2, 2),
    num_classes: int = NUM_CLASSES,
    dropout: float = 0.2,
    input_size: int = TILE_SIZE,
) -> keras.Model:
    """Build the light ResNet.

    Input float32 (N, 64, 64, 3) RGB on the EuroSAT JPEG scale 0-255; the EuroSAT
    mean/std normalisation is the model's first layer. Stem: 3×3 conv, ``filters``
    channels, stride 2 (64→32 px). Stages of basic residual blocks double the width
    and halve the size (32→16→8 px). Output: (N, ``num_classes``) softmax probabilities.
    With ``input_size`` ≠ 64 the tile is resized (bilinear) to that size inside the model first
    (the input stays 64×64; the work grows with (size/64)²).
    """
    import keras
    from keras import layers

    mean = np.array(EUROSAT_MEAN, dtype="float32") * 255.0
    var = (np.array(EUROSAT_STD, dtype="float32") * 255.0) ** 2
    inputs = keras.Input((TILE_SIZE, TILE_SIZE, 3), name=INPUT_NAME, dtype="float32")
    x = layers.Normalization(mean=mean, variance=var, name="normalize")(upscaled(inputs, input_size))
    x = _conv_bn(x, filters, 3, 2, "stem")
    x = layers.Activation("gelu", name="stem_gelu")(x)
    width = filters
    for s, n_blocks in enumerate(blocks_per_stage, start=1):
        for b in range(1, n_blocks + 1):
            stride = 2 if (b == 1 and s > 1) else 1
            x = _residual_block(x, width, stride, f"stage{s}_block{b}")
        width *= 2
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name=OUTPUT_NAME)(x)
    return keras.Model(inputs, outputs, name="eurosat_resnet_light")


def count_flops(model: keras.Model) -> int:
    """Floating-point operations for one 64×64 tile (2 per multiply-add; conv and dense only)."""
    from keras import layers

    flops = 0
    for layer in model.layers:
        if isinstance(layer, layers.Conv2D):
            kh, kw = layer.kernel_size
            cin = layer.input.shape[-1]
            _, h, w, cout = layer.output.shape
            flops += 2 * h * w * kh * kw * cin * cout
        elif isinstance(layer, layers.Dense):
            flops += 2 * layer.input.shape[-1] * layer.units
    return int(flops)


def with_tta(model: keras.Model) -> keras.Model:
    """``model`` averaged over the 8 flips and 90° rotations of every tile (test-time augmentation).

    Land cover seen from above has no "up": the model is trained on flipped and rotated tiles,
    and averaging its probabilities over the eight views of each tile removes the orientation
    noise of a single view. Same contract as ``model`` ((N, 64, 64, 3) 0-255 → (N, 10)
    probabilities), ``TTA_VIEWS`` × its FLOPs. The eight views go through ``model`` as one batch
    of 8·N tiles. Used for the exported TFLite files; Grad-CAM explains the plain model.
    """
    import keras
    from keras import ops

    inputs = keras.Input((TILE_SIZE, TILE_SIZE, 3), name=INPUT_NAME, dtype="float32")
    views = []
    for base in (inputs, ops.transpose(inputs, (0, 2, 1, 3))):
        views += [base, ops.flip(base, 2), ops.flip(base, 1), ops.flip(ops.flip(base, 1), 2)]
    probs = model(ops.concatenate(views, axis=0))
    probs = ops.mean(ops.reshape(probs, (TTA_VIEWS, -1, NUM_CLASSES)), axis=0)
    return keras.Model(inputs, probs, name=f"{model.name}_tta")
