"""Keras → SavedModel → TFLite (float32, dynamic-range, full-int8) with a parity check.

``TFLiteConverter.from_keras_model`` fails in several Keras 3 setups; the route here is
``model.export(dir)`` then ``TFLiteConverter.from_saved_model(dir)``, and every file
written is loaded back with LiteRT and compared with the Keras model.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
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


#: Name of the weights file inside a ``.keras`` archive (Keras 3 format).
_KERAS_WEIGHTS = "model.weights.h5"


def _copy_h5_as_float16(src, dst) -> None:
    """Copy an h5py group recursively; float32 arrays become gzip-compressed float16."""
    import h5py

    for key, value in src.attrs.items():
        dst.attrs[key] = value
    for name, item in src.items():
        if isinstance(item, h5py.Group):
            _copy_h5_as_float16(item, dst.create_group(name))
            continue
        data = item[()]
        if getattr(data, "dtype", None) == np.float32:
            data = data.astype(np.float16)
        extra = {"compression": "gzip", "compression_opts": 9} if np.ndim(data) else {}
        ds = dst.create_dataset(name, data=data, **extra)
        for key, value in item.attrs.items():
            ds.attrs[key] = value


def save_keras_compact(model: keras.Model, path: str | Path) -> Path:
    """Save ``model`` (without optimizer) as a standard ``.keras`` file with float16-stored weights.

    A float32 ``.keras`` of the ~0.7 M-parameter model is ~3 MB; storing the weights as float16
    (gzip) halves it below the 2 MB bar. The file loads with plain ``keras.models.load_model``:
    Keras casts each stored array to the float32 variable it fills, so the loaded model computes
    in float32 with weights rounded to float16 (relative error <= 2**-11). Train, evaluate and
    export from the *reloaded* file so every reported figure is for the weights that ship.
    """
    import h5py

    path = Path(path)
    with tempfile.TemporaryDirectory() as tmp:
        plain = Path(tmp) / "plain.keras"
        strip_optimizer(model).save(plain)
        with zipfile.ZipFile(plain) as z:
            members = {name: z.read(name) for name in z.namelist()}
    buf = io.BytesIO()
    with h5py.File(io.BytesIO(members[_KERAS_WEIGHTS]), "r") as src, h5py.File(buf, "w") as dst:
        _copy_h5_as_float16(src, dst)
    members[_KERAS_WEIGHTS] = buf.getvalue()
    tmp_path = path.with_name(path.name + ".tmp")
    with zipfile.ZipFile(tmp_path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    tmp_path.replace(path)
    return path


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


def _top1(model: keras.Model, images: np.ndarray) -> np.ndarray:
    return np.asarray(model.predict(np.asarray(images, np.float32), verbose=0, batch_size=128)).argmax(1)


def export_tflite(
    model: keras.Model,
    out_dir: str | Path,
    representative: np.ndarray | list[np.ndarray],
    check_images: np.ndarray,
    kinds: tuple[str, ...] = KINDS,
    select_images: np.ndarray | None = None,
) -> dict[str, dict]:
    """Write the TFLite files of ``kinds`` into ``out_dir`` and check each against Keras.

    Args:
        model: the Keras model to convert.
        out_dir: folder for the files.
        representative: int8 calibration images (float (N, 64, 64, 3), 0-255), or a list of
            candidate sets: full-int8 accuracy depends on which images fix the activation ranges
            (min/max calibration), so each candidate is converted and the one whose int8 model
            agrees most with the float model on ``select_images`` (validation images, never the
            test split) is kept.
        check_images: images of the parity check written into the result.
        kinds: which of :data:`KINDS` to write.
        select_images: images that choose among calibration candidates.

    Returns:
        ``{kind: {"path", "size_bytes", "parity": {...}}}``; int8 also gets ``"calibration"``.

    Raises:
        RuntimeError: an exported file disagrees grossly with Keras (e.g. lost weights).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    candidates = representative if isinstance(representative, list) else [representative]
    if len(candidates) > 1 and select_images is None:
        raise ValueError("several calibration candidates need select_images to choose among them")
    result: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        saved = Path(tmp) / "saved_model"
        model.export(str(saved), format="tf_saved_model", verbose=False)
        for kind in kinds:
            path = out_dir / FILENAMES[kind]
            calibration = None
            if kind == "int8" and len(candidates) > 1 and select_images is not None:
                reference = _top1(model, select_images)
                scores, files = [], []
                for rep in candidates:
                    files.append(convert(saved, kind, rep))
                    path.write_bytes(files[-1])
                    pred = TFLiteClassifier(path, batch_size=128).predict(select_images).argmax(1)
                    scores.append(round(float(np.mean(pred == reference)), 5))
                path.write_bytes(files[int(np.argmax(scores))])
                calibration = {"candidates": len(candidates), "images_each": len(candidates[0]),
                               "agreement_with_float_on_selection_images": scores,
                               "chosen": int(np.argmax(scores)), "selection_images": len(select_images)}
            else:
                path.write_bytes(convert(saved, kind, candidates[0]))
            check = parity(model, path, check_images)
            if not check["finite"] or check["mean_abs_prob_diff"] > 0.05:
                raise RuntimeError(f"{path.name} does not reproduce the Keras model ({check}): "
                                   "the export is broken")
            result[kind] = {"path": str(path), "size_bytes": path.stat().st_size, "parity": check}
            if calibration:
                result[kind]["calibration"] = calibration
    return result


def export_tta_file(tta_model: keras.Model, out_dir: str | Path, check_images: np.ndarray) -> dict:
    """Write the optional "8 views, slower" dynamic-range file (:data:`config.TFLITE_TTA`).

    ``tta_model`` is :func:`eurosat.model.with_tta` of the shipped model; same contract, 8× the FLOPs.

    Returns:
        ``{"path", "size_bytes", "parity": {...}}``.
    """
    out_dir = Path(out_dir)
    path = out_dir / config.TFLITE_TTA
    with tempfile.TemporaryDirectory() as tmp:
        saved = Path(tmp) / "saved_model"
        tta_model.export(str(saved), format="tf_saved_model", verbose=False)
        path.write_bytes(convert(saved, "dynamic"))
    check = parity(tta_model, path, check_images)
    if not check["finite"] or check["mean_abs_prob_diff"] > 0.05:
        raise RuntimeError(f"{path.name} does not reproduce the Keras model ({check}): the export is broken")
    return {"path": str(path), "size_bytes": path.stat().st_size, "parity": check}
