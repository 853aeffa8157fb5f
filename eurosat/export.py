"""Keras → SavedModel → TFLite (float32, dynamic-range, full-int8) with a parity check.

``TFLiteConverter.from_keras_model`` fails in several Keras 3 setups; the route here is
``model.export(dir)`` then ``TFLiteConverter.from_saved_model(dir)``, and every file
written is loaded back with LiteRT and compared with the Keras model.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from eurosat import config
from eurosat.inference import TFLiteClassifier

if TYPE_CHECKING:  # pragma: no cover
    import keras

KINDS = ("float32", "dynamic", "int8")
FILENAMES = {
    "float32": config.TFLITE_FLOAT,
    "dynamic": config.TFLITE_DYNAMIC,
    "int8": config.TFLITE_INT8,
}


def strip_optimizer(model: keras.Model) -> keras.Model:
    """An uncompiled copy of ``model`` with the same weights (no optimizer state in its file)."""
    import keras

    clone = keras.Model.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    return clone


def convert(saved_model_dir: Path, kind: str, representative: np.ndarray | None = None) -> bytes:
    """Convert a SavedModel to TFLite bytes of one ``kind`` (see :data:`KINDS`).

    ``int8`` quantises weights and activations with ``representative`` images
    (float (N, 64, 64, 3), 0-255) and keeps float32 input and output.
    """
    import tensorflow as tf

    conv = tf.lite.TFLiteConverter.from_saved_model(str(saved_model_dir))
    if kind in ("dynamic", "int8"):
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
    if kind == "int8":
        if representative is None or len(representative) == 0:
            raise ValueError("int8 export needs representative images")
        rep = np.asarray(representative, dtype=np.float32)

        def gen() -> Iterator[list[np.ndarray]]:
            for i in range(len(rep)):
                yield [rep[i : i + 1]]

        conv.representative_dataset = gen
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    elif kind != "float32" and kind != "dynamic":
        raise ValueError(f"unknown TFLite kind {kind!r}; expected one of {KINDS}")
    return conv.convert()


def parity(model: keras.Model, tflite_path: Path, images: np.ndarray) -> dict:
    """Compare a TFLite file with the Keras model on ``images``: top-1 agreement and max |Δp|."""
    ref = np.asarray(model.predict(np.asarray(images, np.float32), verbose=0, batch_size=128))
    got = TFLiteClassifier(tflite_path).predict(images)
    return {
        "top1_agreement": round(float((ref.argmax(1) == got.argmax(1)).mean()), 5),
        "max_abs_prob_diff": round(float(np.abs(ref - got).max()), 5),
        "mean_abs_prob_diff": round(float(np.abs(ref - got).mean()), 5),
        "finite": bool(np.isfinite(got).all()),
        "n": int(len(images)),
    }


def export_tflite(
    model: keras.Model,
    out_dir: str | Path,
    representative: np.ndarray,
    check_images: np.ndarray,
    kinds: tuple[str, ...] = KINDS,
) -> dict[str, dict]:
    """Write the TFLite files of ``kinds`` into ``out_dir`` and check each against Keras.

    Returns:
        ``{kind: {"path", "size_bytes", "parity": {...}}}``.

    Raises:
        RuntimeError: an exported file disagrees grossly with Keras (e.g. lost weights).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    result: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        saved = Path(tmp) / "saved_model"
        model.export(str(saved), format="tf_saved_model", verbose=False)
        for kind in kinds:
            path = out_dir / FILENAMES[kind]
            path.write_bytes(convert(saved, kind, representative))
            check = parity(model, path, check_images)
            if not check["finite"] or check["mean_abs_prob_diff"] > 0.05:
                raise RuntimeError(f"{path.name} does not reproduce the Keras model ({check}): "
                                   "the export is broken")
            result[kind] = {"path": str(path), "size_bytes": path.stat().st_size, "parity": check}
    return result
