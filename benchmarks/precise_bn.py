"""Validation and test accuracy of Keras checkpoints with their running batch-norm statistics, then with
statistics re-estimated as the trainer now does (2,048 clean training images, :mod:`eurosat.batchnorm`).

    .venv/bin/python benchmarks/precise_bn.py MODEL.keras [MODEL.keras ...] [--at COMMIT]

``--at COMMIT`` adds that commit's ``models/eurosat_resnet_light.keras`` (e.g. the model shipped before).
Prints one Markdown row per model.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from eurosat import config  # noqa: E402
from eurosat.batchnorm import recompute_batchnorm_statistics  # noqa: E402
from eurosat.data import ImageSource, read_split  # noqa: E402
from eurosat.train import keras_predictions, precise_bn_images  # noqa: E402


def accuracy(model, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(keras_predictions(model, x) == y))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("models", type=Path, nargs="*")
    p.add_argument("--at", nargs="*", default=[], help="commits whose models/ .keras file to add")
    p.add_argument("--seed", type=int, default=config.TrainConfig().seed)
    a = p.parse_args()
    import keras

    from eurosat.model import register_custom_layers

    register_custom_layers()
    tmp = Path(tempfile.mkdtemp())
    models = {str(m): m for m in a.models}
    for commit in a.at:
        out = tmp / f"{commit}.keras"
        out.write_bytes(subprocess.run(["git", "show", f"{commit}:models/{config.KERAS_FILE}"], cwd=ROOT,
                                       capture_output=True, check=True).stdout)
        models[f"models/ at {commit}"] = out
    split = read_split(config.SPLIT_FILE)
    source = ImageSource(config.eurosat_zip())
    x_train, _ = source.load(split["train"])
    x_val, y_val = source.load(split["val"])
    x_test, y_test = source.load(split["test"])
    images = precise_bn_images(x_train, a.seed)
    print(f"`python benchmarks/precise_bn.py {' '.join(map(str, a.models))}"
          + (f" --at {' '.join(a.at)}" if a.at else "") + "`\n")
    print("| model | val, running stats | val, re-estimated | test, running stats | test, re-estimated |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for label, path in models.items():
        model = keras.models.load_model(path, compile=False)
        before = accuracy(model, x_val, y_val), accuracy(model, x_test, y_test)
        recompute_batchnorm_statistics(model, images)
        after = accuracy(model, x_val, y_val), accuracy(model, x_test, y_test)
        cells = " | ".join(f"{v:.2%}" for v in (before[0], after[0], before[1], after[1]))
        print(f"| {label} | {cells} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
