"""Transfer learning: start from another model's weights, freeze the backbone, give it a lower learning rate.

* ``--weights PATH`` copies, layer by layer, the weights of every layer of a ``.keras`` model whose
  name and weight shapes match the new model's (:func:`copy_matching_weights`); the head (a new
  ``predictions`` layer, say) may differ. ``--weights imagenet`` is handled by the architecture
  builders (:mod:`eurosat.architectures`: Keras downloads the file where the user is online).
* ``--freeze-backbone`` makes every layer but the head (:data:`HEAD_LAYERS`) not trainable; frozen
  BatchNormalization layers then run in inference mode (their statistics stay too).
  ``--unfreeze-epoch N`` makes the whole model trainable from epoch N (counted from 0).
* ``--backbone-lr-scale S`` trains the backbone at S × the learning rate
  (:class:`BackboneScaledAdamW`); the head keeps the full rate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eurosat.errors import TrainingError

#: Layers of the head every architecture ends with (``eurosat.architectures._head``, ``eurosat.model``).
HEAD_LAYERS = ("pool", "dropout", "predictions")
WEIGHTS_NONE = "none"
WEIGHTS_IMAGENET = "imagenet"


@dataclass
class TransferReport:
    """What :func:`copy_matching_weights` copied: layer names copied and skipped (with why)."""

    source: str
    copied: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        """One line for the run log."""
        return (
            f"weights from {self.source}: {len(self.copied)} layers copied, "
            f"{len(self.skipped)} kept as initialised"
            + (
                f" ({', '.join(list(self.skipped)[:4])}{'...' if len(self.skipped) > 4 else ''})"
                if self.skipped
                else ""
            )
        )


def _weighted_layers(model: Any) -> list[Any]:
    """Layers with weights of their own to copy (not the fixed EuroSAT normaliser)."""
    return [layer for layer in model.layers if layer.weights and type(layer).__name__ != "Normalization"]


def load_source_model(path: Path) -> Any:
    """The ``.keras`` model at ``path`` (compile=False).

    Raises:
        TrainingError: missing or unreadable file.
    """
    import keras

    if not path.is_file():
        raise TrainingError(
            f"--weights: model file '{path}' not found (give a .keras file, 'imagenet' or 'none')."
        )
    try:
        return keras.models.load_model(path, compile=False)
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise TrainingError(f"--weights: '{path}' is not a readable Keras model: {exc}") from exc


def copy_matching_weights(model: Any, path: Path) -> TransferReport:
    """Copy the weights of the layers of the model at ``path`` whose name and weight shapes match.

    Args:
        model: the new (built) Keras model; changed in place.
        path: a ``.keras`` model file (any architecture; only matching layers are used).

    Returns:
        The report; at least one layer is copied.

    Raises:
        TrainingError: unreadable file, or no layer matches (a weights file of another architecture).
    """
    source = {layer.name: layer for layer in _weighted_layers(load_source_model(path))}
    report = TransferReport(source=str(path))
    for layer in _weighted_layers(model):
        other = source.get(layer.name)
        if other is None:
            report.skipped[layer.name] = "not in the weights file"
            continue
        theirs = other.get_weights()
        if [w.shape for w in theirs] != [tuple(w.shape) for w in layer.weights]:
            report.skipped[layer.name] = "different shape"
            continue
        layer.set_weights(theirs)
        report.copied.append(layer.name)
    if not report.copied:
        raise TrainingError(
            f"--weights: no layer of '{path}' matches the model '{model.name}' by name and "
            "shape; use a model of the same architecture."
        )
    return report


def is_head(layer: Any) -> bool:
    """Whether a layer belongs to the classification head (always trained)."""
    return layer.name in HEAD_LAYERS


def set_backbone_trainable(model: Any, trainable: bool) -> int:
    """Freeze (``False``) or unfreeze every non-head layer; returns how many layers changed.

    The model must be compiled again afterwards for the change to take effect in training.
    """
    changed = 0
    for layer in model.layers:
        if is_head(layer) or not layer.weights:
            continue
        if layer.trainable != trainable:
            layer.trainable = trainable
            changed += 1
    return changed


def frozen_at(epoch: int, freeze_backbone: bool, unfreeze_epoch: int | None) -> bool:
    """Whether the backbone is frozen during ``epoch`` (0-based)."""
    return freeze_backbone and (unfreeze_epoch is None or epoch < unfreeze_epoch)


def upscaled_mflops(mflops_at_64: float, input_size: int) -> float:
    """Model work per tile when the tile is resized to ``input_size`` inside the model.

    Convolutions scale with the pixel count ((size/64)²); the dense head does not, which is
    negligible here. The trainer prints the exact figure of the built model.
    """
    return mflops_at_64 * (input_size / 64.0) ** 2


def check_weights_spec(spec: str) -> None:
    """Raise :class:`TrainingError` unless ``spec`` is 'none', 'imagenet' or an existing ``.keras`` file."""
    if spec in (WEIGHTS_NONE, WEIGHTS_IMAGENET):
        return
    p = Path(spec).expanduser()
    if p.suffix != ".keras" or not p.is_file():
        raise TrainingError(
            f"Weights '{spec}': give 'none', 'imagenet' or the path of an existing .keras model file."
        )


def _optimizer_class() -> type:
    import keras

    @keras.saving.register_keras_serializable(package="eurosat")
    class BackboneScaledAdamW(keras.optimizers.AdamW):
        """AdamW whose backbone variables move at ``backbone_lr_scale`` × the learning rate.

        Head variables are those whose path starts with a :data:`HEAD_LAYERS` name; the set is
        taken when the optimizer is built (variables seen by ``build``).
        """

        def __init__(self, backbone_lr_scale: float = 1.0, **kwargs: Any):
            super().__init__(**kwargs)
            self.backbone_lr_scale = float(backbone_lr_scale)
            self._head_keys: set[Any] = set()

        def build(self, var_list: list[Any]) -> None:
            super().build(var_list)
            self._head_keys = {
                self._var_key(v) for v in var_list if str(getattr(v, "path", "")).split("/")[0] in HEAD_LAYERS
            }

        def update_step(self, gradient: Any, variable: Any, learning_rate: Any) -> None:
            if self.backbone_lr_scale != 1.0 and self._var_key(variable) not in self._head_keys:
                learning_rate = learning_rate * self.backbone_lr_scale
            super().update_step(gradient, variable, learning_rate)

        def _apply_weight_decay(self, variables: list[Any]) -> None:
            # decoupled weight decay at the same scaled rate as the backbone's steps
            from keras import ops

            if self.weight_decay is None:
                return
            for variable in variables:
                if self._use_weight_decay(variable):
                    lr = ops.cast(self.learning_rate, variable.dtype)
                    if self.backbone_lr_scale != 1.0 and self._var_key(variable) not in self._head_keys:
                        lr = lr * self.backbone_lr_scale
                    variable.assign(variable - variable * ops.cast(self.weight_decay, variable.dtype) * lr)

        def get_config(self) -> dict:
            return {**super().get_config(), "backbone_lr_scale": self.backbone_lr_scale}

    return BackboneScaledAdamW


_CLASS: type | None = None


def backbone_scaled_adamw() -> type:
    """The :class:`BackboneScaledAdamW` class (defined once, on first use: it needs Keras)."""
    global _CLASS
    if _CLASS is None:
        _CLASS = _optimizer_class()
    return _CLASS
