"""The architectures the trainer can build, in one registry, all honouring the model contract.

Every model takes float32 (N, 64, 64, 3) RGB on the EuroSAT 0-255 scale (the normalisation is a layer
inside) and gives (N, 10) softmax probabilities from a Dense layer named ``predictions`` (calibration
folds its temperature there); exports are the same TFLite files. Keras applications are built with
``weights=None`` (nothing is downloaded) and their own input handling: EfficientNet rescales 0-255
itself; MobileNetV3 and ResNet50 get the EuroSAT mean/std normalisation in front.

    python -m eurosat.train --list-archs      # one a line: name, parameters, MFLOPs per tile, description

Parameters and MFLOPs are measured by building each model (:func:`measure`); the Train page shows the
stored table ``eurosat/assets/architectures.json`` (``python -m eurosat.architectures`` rewrites it;
a test checks it against the built models), so it need not import TensorFlow to show them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from eurosat.classes import EUROSAT_MEAN, EUROSAT_STD, NUM_CLASSES, TILE_SIZE
from eurosat.errors import TrainingError

DEFAULT_ARCH = "resnet_light"
#: Sides a tile may be upscaled to inside the model (transfer learning from ImageNet backbones).
INPUT_SIZES = (64, 96, 128, 160, 224)
TABLE_FILE = Path(__file__).parent / "assets" / "architectures.json"


@dataclass(frozen=True)
class Architecture:
    """One buildable architecture: its name, what it is, and a builder of the Keras model."""

    name: str
    description: str
    builder: Callable[[str, int], Any]
    imagenet: bool = False  # Keras publishes ImageNet weights for it (``weights="imagenet"``)

    def build(self, weights: str = "none", input_size: int = TILE_SIZE) -> Any:
        """The Keras model, at random (``weights="none"``) or from ImageNet (``"imagenet"``).

        Args:
            weights: ``"none"`` or ``"imagenet"`` (a weights file is applied by the trainer,
                :func:`eurosat.transfer.copy_matching_weights`).
            input_size: side the 64×64 tile is resized to inside the model (64: none).

        Raises:
            TrainingError: see :meth:`check_options`, or the download failed (offline).
        """
        self.check_options(weights, input_size)
        return self.builder(weights, input_size)

    def check_options(self, weights: str, input_size: int) -> None:
        """Raise :class:`TrainingError` for weights other than 'none'/'imagenet', ImageNet weights
        asked of an architecture without them, or an input size not in :data:`INPUT_SIZES`
        (no TensorFlow needed: the Train page and the trainer's flags check this before launch)."""
        if weights not in ("none", "imagenet"):
            raise TrainingError(f"Weights '{weights}' for '{self.name}': give 'none' or 'imagenet' here.")
        if weights == "imagenet" and not self.imagenet:
            raise TrainingError(f"'{self.name}' has no ImageNet weights (only the Keras applications do: "
                                f"{', '.join(n for n, a in ARCHITECTURES.items() if a.imagenet)}); train "
                                "it from scratch or from a weights file.")
        if input_size not in INPUT_SIZES:
            raise TrainingError(f"Input size (--input-size) {input_size} is not one of "
                                f"{', '.join(map(str, INPUT_SIZES))}.")


def _normalised(x: Any) -> Any:
    """The EuroSAT mean/std normalisation layer on ``x`` (0-255 scale in)."""
    from keras import layers

    mean = np.array(EUROSAT_MEAN, dtype="float32") * 255.0
    variance = (np.array(EUROSAT_STD, dtype="float32") * 255.0) ** 2
    return layers.Normalization(mean=mean, variance=variance, name="normalize")(x)


def _head(x: Any, inputs: Any, name: str, dropout: float = 0.2) -> Any:
    import keras
    from keras import layers

    from eurosat.model import OUTPUT_NAME

    x = layers.GlobalAveragePooling2D(name="pool")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax", name=OUTPUT_NAME)(x)
    return keras.Model(inputs, outputs, name=name)


#: How each Keras application's ImageNet weights expect their input (from the 0-255 RGB tile).
#: "itself": the application rescales inside (EfficientNet; MobileNetV3 with include_preprocessing);
#: "caffe": BGR minus the ImageNet mean, unscaled (ResNet50: the first convolution's input
#: channels are reversed after loading, so it takes RGB).
_IMAGENET_INPUT = {"MobileNetV3Small": "itself", "MobileNetV3Large": "itself", "EfficientNetB0": "itself",
                   "ResNet50": "caffe"}
_CAFFE_MEAN_RGB = (123.68, 116.779, 103.939)


def _application(app: str, normalise: bool, **kwargs: Any) -> Callable[[str, int], Any]:
    def build(weights: str, input_size: int) -> Any:
        import keras

        from eurosat.model import INPUT_NAME, upscaled

        inputs = keras.Input((TILE_SIZE, TILE_SIZE, 3), name=INPUT_NAME, dtype="float32")
        x = upscaled(inputs, input_size)
        options = dict(kwargs)
        imagenet = weights == "imagenet"
        if imagenet and _IMAGENET_INPUT[app] == "caffe":
            # a layer without weights: the legacy .h5 ImageNet files load layer by layer, in order
            x = keras.layers.Rescaling(1.0, offset=[-m for m in _CAFFE_MEAN_RGB], name="normalize")(x)
        elif imagenet and "include_preprocessing" in options:
            options["include_preprocessing"] = True  # MobileNetV3: rescales 0-255 to [-1, 1] itself
        elif normalise:
            x = _normalised(x)
        # built on our tensor (not nested): its layers are the model's own, so Grad-CAM can reach them
        try:
            backbone = getattr(keras.applications, app)(
                include_top=False, weights="imagenet" if imagenet else None, input_tensor=x,
                input_shape=(input_size, input_size, 3), **options
            )
        except Exception as exc:  # the download (urllib/OSError) or Keras's own refusal (ValueError)
            if not imagenet:
                raise
            raise TrainingError(f"Could not load ImageNet weights for {app} ({type(exc).__name__}: {exc}). "
                                "Keras downloads them once (to ~/.keras/models) where you are online; "
                                "offline, pass a weights file (.keras) instead.") from exc
        if imagenet and _IMAGENET_INPUT[app] == "caffe":
            _first_conv_rgb(backbone)
        return _head(backbone.output, inputs, app.lower())

    return build


def _first_conv_rgb(model: Any) -> None:
    """Reverse the input channels of the first convolution (BGR weights → RGB input)."""
    from keras import layers as kl

    conv = next(layer for layer in model.layers if isinstance(layer, kl.Conv2D))
    kernel, *rest = conv.get_weights()
    conv.set_weights([kernel[:, :, ::-1, :], *rest])


def _light(filters: int, blocks: tuple[int, ...]) -> Callable[[str, int], Any]:
    def build(weights: str, input_size: int) -> Any:  # noqa: ARG001 (checked by Architecture.build)
        from eurosat.model import build_model

        return build_model(filters=filters, blocks_per_stage=blocks, input_size=input_size)

    return build


ARCHITECTURES: dict[str, Architecture] = {
    a.name: a
    for a in (
        Architecture(
            "resnet_light",
            "the shipped light ResNet: 32-64-128 channels, 2 basic blocks per stage",
            _light(32, (2, 2, 2)),
        ),
        Architecture(
            "resnet_light_small", "light ResNet at half width: 16-32-64 channels", _light(16, (2, 2, 2))
        ),
        Architecture(
            "resnet_light_wide", "light ResNet at 1.5× width: 48-96-192 channels", _light(48, (2, 2, 2))
        ),
        Architecture("resnet_light_deep", "light ResNet with 3 blocks per stage", _light(32, (3, 3, 3))),
        Architecture(
            "mobilenetv3_small",
            "Keras MobileNetV3Small (depthwise-separable, squeeze-excite)",
            _application("MobileNetV3Small", True, include_preprocessing=False),
            imagenet=True,
        ),
        Architecture(
            "mobilenetv3_large",
            "Keras MobileNetV3Large",
            _application("MobileNetV3Large", True, include_preprocessing=False),
            imagenet=True,
        ),
        Architecture(
            "efficientnet_b0",
            "Keras EfficientNetB0 (rescales 0-255 itself)",
            _application("EfficientNetB0", False),
            imagenet=True,
        ),
        Architecture(
            "resnet50",
            "Keras ResNet50 (bottleneck blocks; large for 64×64 tiles on a CPU)",
            _application("ResNet50", True),
            imagenet=True,
        ),
    )
}


def get(name: str) -> Architecture:
    """The architecture called ``name``.

    Raises:
        TrainingError: no such architecture (the message lists them).
    """
    try:
        return ARCHITECTURES[name]
    except KeyError:
        raise TrainingError(
            f"Unknown architecture '{name}'; choose one of {', '.join(ARCHITECTURES)}."
        ) from None


def _all_layers(model: Any) -> list[Any]:
    out = []
    for layer in model.layers:
        out.extend(_all_layers(layer) if hasattr(layer, "layers") and layer.layers else [layer])
    return out


def layer_flops(layer: Any) -> int:
    """Floating-point operations of one layer for one tile (2 per multiply-add; convolutions, dense)."""
    from keras import layers as kl

    if isinstance(layer, kl.DepthwiseConv2D):
        kh, kw = layer.kernel_size
        _, h, w, cout = layer.output.shape
        return int(2 * h * w * kh * kw * cout)
    if isinstance(layer, kl.Conv2D):
        kh, kw = layer.kernel_size
        _, h, w, cout = layer.output.shape
        groups = getattr(layer, "groups", 1) or 1
        return int(2 * h * w * kh * kw * (layer.input.shape[-1] // groups) * cout)
    if isinstance(layer, kl.Dense):
        return int(2 * layer.input.shape[-1] * layer.units)
    return 0


def model_flops(model: Any) -> int:
    """FLOPs of a model for one tile, nested models (Keras applications) included."""
    return sum(layer_flops(layer) for layer in _all_layers(model))


def last_feature_layer(model: Any) -> str:
    """Name of the last layer with a (N, H, W, C) output reachable from the model's top level (Grad-CAM)."""
    name = None
    for layer in model.layers:
        shape = getattr(layer, "output", None)
        if shape is not None and len(shape.shape) == 4:
            name = layer.name
    if name is None:
        raise TrainingError(f"Model '{model.name}' has no feature-map layer.")
    return name


def measure(name: str) -> dict:
    """Build an architecture and measure it: parameters and MFLOPs per tile."""
    import keras

    keras.backend.clear_session()
    model = get(name).build()
    return {
        "name": name,
        "parameters": int(model.count_params()),
        "mflops": round(model_flops(model) / 1e6, 1),
        "description": get(name).description,
    }


def stored_table() -> dict[str, dict]:
    """The measured table (name → parameters, MFLOPs, description) without building anything; {} if absent."""
    try:
        rows = json.loads(TABLE_FILE.read_text())
    except (OSError, ValueError):
        return {}
    return {r["name"]: r for r in rows if isinstance(r, dict) and r.get("name") in ARCHITECTURES}


def list_lines(measured: bool = False) -> list[str]:
    """One line per architecture, its name first, the default first (``--list-archs``)."""
    table = {n: measure(n) for n in ARCHITECTURES} if measured else stored_table()
    lines = []
    for name, arch in ARCHITECTURES.items():
        row = table.get(name)
        facts = f"{row['parameters']:>11,} params {row['mflops']:>8.1f} MFLOPs/tile" if row else " " * 40
        lines.append(f"{name:<20} {facts}  {arch.description}{' (default)' if name == DEFAULT_ARCH else ''}")
    return lines


def main() -> int:
    """Measure every architecture and rewrite the stored table."""
    rows = [measure(n) for n in ARCHITECTURES]
    TABLE_FILE.write_text(json.dumps(rows, indent=1) + "\n")
    for line in list_lines():
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
