"""Weights of the light ResNet as a plain ``.npz`` of arrays: the bridge to training outside Keras.

A model trained elsewhere (``gpu/teach.py``, PyTorch on a GPU machine) comes back as an ``.npz`` keyed
``<Keras layer name>/<weight>`` in Keras's layout: ``stem_conv/kernel`` (kh, kw, in, out),
``stem_bn/gamma`` / ``beta`` / ``moving_mean`` / ``moving_variance`` (C,), ``predictions/kernel``
(in, 10) and ``predictions/bias`` (10,). :func:`load_npz_weights` puts them into a Keras model built
here and refuses a file that does not fit it exactly; :func:`save_npz_weights` writes the same format
(a Keras model to start a GPU run from).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from eurosat.errors import EuroSATError

#: Keras weight names per layer kind, in the order ``layer.get_weights()`` returns them.
_CONV = ("kernel",)
_BN = ("gamma", "beta", "moving_mean", "moving_variance")
_DENSE = ("kernel", "bias")


class WeightsFileError(EuroSATError):
    """A weights ``.npz`` that does not fit the model (missing, extra or misshapen arrays)."""


def _weight_names(layer: Any) -> tuple[str, ...]:
    """The npz names of a layer's weights, () for a layer without trainable weights of our kinds."""
    from keras import layers

    if isinstance(layer, layers.Conv2D):
        return () if layer.use_bias else _CONV
    if isinstance(layer, layers.BatchNormalization):
        return _BN
    if isinstance(layer, layers.Dense):
        return _DENSE
    return ()


def weight_arrays(model: Any) -> dict[str, np.ndarray]:
    """The model's convolution, batch-norm and dense weights, keyed ``layer/weight`` (float32)."""
    out: dict[str, np.ndarray] = {}
    for layer in model.layers:
        names = _weight_names(layer)
        for name, value in zip(names, layer.get_weights(), strict=bool(names)):
            out[f"{layer.name}/{name}"] = np.asarray(value, dtype=np.float32)
    return out


def save_npz_weights(model: Any, path: Path) -> Path:
    """Write the model's weights (:func:`weight_arrays`) to ``path`` (.npz, uncompressed)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, Any] = dict(weight_arrays(model))
    with path.open("wb") as f:
        np.savez(f, **arrays)
    return path


def load_npz_weights(model: Any, path: Path) -> int:
    """Set the model's weights from an ``.npz`` in the format above; returns the arrays loaded.

    Raises:
        WeightsFileError: the file is not an npz, an array the model needs is missing, one has another
            shape, or the file holds arrays this model has no place for (another architecture).
    """
    try:
        with np.load(Path(path), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError) as exc:
        raise WeightsFileError(f"{path} is not a weights .npz file ({exc}).") from exc
    expected = weight_arrays(model)
    missing = sorted(set(expected) - set(arrays))
    extra = sorted(set(arrays) - set(expected))
    if missing or extra:
        raise WeightsFileError(
            f"{path} does not fit this model ({model.name}, {len(expected)} arrays): "
            f"missing {missing[:3]}{'…' if len(missing) > 3 else ''}, "
            f"extra {extra[:3]}{'…' if len(extra) > 3 else ''}; was it trained for another architecture?")
    for key, want in expected.items():
        if arrays[key].shape != want.shape:
            raise WeightsFileError(f"{path}: {key} is {arrays[key].shape}, the model needs {want.shape}.")
    for layer in model.layers:
        names = _weight_names(layer)
        if names:
            layer.set_weights([arrays[f"{layer.name}/{n}"].astype(np.float32) for n in names])
    return len(expected)


def main(argv: list[str] | None = None) -> int:
    """``python -m eurosat.weights_npz MODEL.keras OUT.npz``: a Keras model's weights for ``gpu/teach.py``
    (``--init-student``)."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m eurosat.weights_npz MODEL.keras OUT.npz", file=sys.stderr)
        return 2
    from eurosat.explain import load_keras_model  # the contract-checking loader the app uses

    try:
        model = load_keras_model(args[0])
    except EuroSATError as exc:
        print(f"error: {args[0]} is not a Keras model file ({exc})", file=sys.stderr)
        return 2
    path = save_npz_weights(model, Path(args[1]))
    print(f"{path}: {len(weight_arrays(model))} arrays of {model.name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
