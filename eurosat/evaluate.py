"""Evaluate a model on a subset of the fixed split.

``python -m eurosat.evaluate MODEL [--data PATH] [--subset test] [--limit N]`` prints JSON:
accuracy, macro F1, per-class precision/recall/F1 and the confusion matrix. ``MODEL`` is a
``.tflite`` file (run through LiteRT) or a ``.keras`` file (TensorFlow).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from eurosat import config
from eurosat.data import SUBSETS, ImageSource, Item, read_split
from eurosat.errors import EuroSATError, ModelLoadError
from eurosat.metrics import classification_report


def predict_file(model_path: Path, x: np.ndarray, num_threads: int = 2) -> np.ndarray:
    """Class probabilities (N, 10) of a .tflite or .keras model on uint8 images (N, 64, 64, 3)."""
    if model_path.suffix == ".tflite":
        from eurosat.inference import TFLiteClassifier

        return TFLiteClassifier(model_path, num_threads=num_threads, batch_size=128).predict(x)
    if model_path.suffix == ".keras":
        from eurosat.explain import load_keras_model

        model = load_keras_model(model_path)
        return np.asarray(model.predict(x.astype(np.float32), batch_size=256, verbose=0))
    raise ModelLoadError(f"'{model_path}' is neither a .tflite nor a .keras model.")


def spread_sample(items: list[Item], limit: int | None) -> list[Item]:
    """At most ``limit`` items, evenly spaced (so every class is represented)."""
    if limit is None or limit >= len(items):
        return items
    idx = np.linspace(0, len(items) - 1, limit).round().astype(int)
    return [items[i] for i in idx]


def evaluate(model_path: Path, data: Path, subset: str = "test", limit: int | None = None,
             split_file: Path = config.SPLIT_FILE) -> dict:
    """Metrics of ``model_path`` on ``subset`` of the split (optionally an even sample of ``limit``)."""
    items = spread_sample(read_split(split_file)[subset], limit)
    x, y = ImageSource(data).load(items)
    report = classification_report(y, predict_file(Path(model_path), x).argmax(1))
    return {"model": str(model_path), "subset": subset, **report}


def main(argv: list[str] | None = None) -> int:
    """CLI: print the metrics as JSON; a bad model or data path gives one clear message (exit 2)."""
    p = argparse.ArgumentParser(prog="python -m eurosat.evaluate", description=__doc__)
    p.add_argument("model", help=".tflite or .keras file")
    p.add_argument("--data", default=str(config.eurosat_zip()))
    p.add_argument("--subset", choices=SUBSETS, default="test")
    p.add_argument("--limit", type=int, default=None, help="evaluate an even sample of N images")
    p.add_argument("--split", default=str(config.SPLIT_FILE))
    a = p.parse_args(argv)
    try:
        result = evaluate(Path(a.model), Path(a.data), a.subset, a.limit, Path(a.split))
    except EuroSATError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
