"""TFLite vs Keras on the whole test split: top-1 agreement and accuracy of each model file.

    python benchmarks/agreement.py [--models-dir models/] [--data EuroSAT_RGB.zip] [--limit N]

Loads the shipped ``.keras`` model and both ``.tflite`` files (dynamic-range and full-int8) of
the models folder (default: the shipped ``models/`` through ``eurosat.registry.shipped_model``),
classifies every test image of ``splits/eurosat_rgb_split.csv`` (2,430 images) and prints a
Markdown table: accuracy of each file, and for each TFLite file its top-1 agreement with Keras
and the largest probability difference.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from eurosat import config  # noqa: E402
from eurosat.data import ImageSource, read_split, take_fraction  # noqa: E402
from eurosat.inference import TFLiteClassifier  # noqa: E402
from eurosat.registry import ModelInfo, shipped_model  # noqa: E402


def compare(info: ModelInfo, x: np.ndarray, y: np.ndarray) -> list[dict]:
    """Accuracy of the Keras and both TFLite files on ``x``/``y``, and agreement with Keras.

    Args:
        info: the model files.
        x: uint8 (N, 64, 64, 3) images; y: int (N,) labels.

    Returns:
        One row per file: name, accuracy, agreement with Keras, max |Δp|, seconds.
    """
    from eurosat.explain import load_keras_model
    from eurosat.model import with_tta
    from eurosat.registry import served_views

    def predict(m) -> tuple[np.ndarray, float]:
        t0 = time.perf_counter()
        probs = np.asarray(m.predict(x.astype(np.float32), batch_size=256, verbose=0))
        return probs, time.perf_counter() - t0

    model = load_keras_model(info.keras)
    plain, plain_s = predict(model)
    rows = []
    ref, ref_s = plain, plain_s
    if served_views(info.metrics) > 1:  # the TFLite files average 8 views: the reference is the same
        ref, ref_s = predict(with_tta(model))
        rows.append({"file": f"{info.keras.name} (plain, one view)",
                     "accuracy": float((plain.argmax(1) == y).mean()),
                     "agreement": float((plain.argmax(1) == ref.argmax(1)).mean()),
                     "max_dp": float(np.abs(plain - ref).max()), "seconds": plain_s})
    rows.append({"file": info.keras.name + (" + TTA" if rows else "") + " (reference)",
                 "accuracy": float((ref.argmax(1) == y).mean()), "agreement": 1.0, "max_dp": 0.0,
                 "seconds": ref_s})
    for path in (info.tflite, info.tflite_int8):
        t0 = time.perf_counter()
        probs = TFLiteClassifier(path, num_threads=2, batch_size=128).predict(x)
        rows.append(
            {
                "file": path.name,
                "accuracy": float((probs.argmax(1) == y).mean()),
                "agreement": float((probs.argmax(1) == ref.argmax(1)).mean()),
                "max_dp": float(np.abs(probs - ref).max()),
                "seconds": time.perf_counter() - t0,
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    """Print the table; exit status 2 when the data or a model file is missing."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models-dir", default=None, help="folder with the three model files (default: models/)")
    p.add_argument("--data", default=str(config.eurosat_zip()), help="EuroSAT_RGB.zip or folder")
    p.add_argument("--limit", type=float, default=1.0, help="fraction of every class of the subset")
    p.add_argument("--subset", choices=("train", "val", "test"), default="test", help="subset of the split")
    a = p.parse_args(argv)

    info = shipped_model()
    if a.models_dir:
        d = Path(a.models_dir)
        info = ModelInfo(d.name, "folder", d)
    missing = [q.name for q in (info.keras, info.tflite, info.tflite_int8) if not q.is_file()]
    if missing:
        print(f"error: missing in {info.directory}: {', '.join(missing)}")
        return 2
    from eurosat.errors import DataNotFoundError

    try:
        test = take_fraction(read_split(config.SPLIT_FILE)[a.subset], a.limit)
        x, y = ImageSource(a.data).load(test)
    except DataNotFoundError as exc:
        print(f"error: {exc}")
        return 2
    rows = compare(info, x, y)
    print(f"{a.subset} subset: {len(y)} images ({config.SPLIT_FILE.name}); models: {info.directory}\n")
    print(f"| file | {a.subset} accuracy | top-1 agreement with the reference | max abs Δp | seconds |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(
            f"| {r['file']} | {r['accuracy']:.2%} | {r['agreement']:.2%} | {r['max_dp']:.4f} | "
            f"{r['seconds']:.1f} |"
        )
    n_diff = {r["file"]: int(round((1 - r["agreement"]) * len(y))) for r in rows if r["agreement"] < 1}
    print(f"\nImages whose top-1 class differs from the reference: {n_diff}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
