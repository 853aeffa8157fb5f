"""Validation and test accuracy of TFLite files and of the mean of their probabilities (an ensemble
teacher for ``python -m eurosat.train --teacher A,B``).

    .venv/bin/python benchmarks/ensemble_accuracy.py A.tflite B.tflite [...]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from eurosat import config  # noqa: E402
from eurosat.data import ImageSource, read_split  # noqa: E402
from eurosat.evaluate import predict_file  # noqa: E402


def main(files: list[str]) -> int:
    if not files:
        raise SystemExit(__doc__)
    split = read_split(config.SPLIT_FILE)
    source = ImageSource(config.eurosat_zip())
    sets = {name: source.load(split[name]) for name in ("val", "test")}
    probs = {f: {name: predict_file(Path(f), x) for name, (x, _) in sets.items()} for f in files}
    probs["mean of all"] = {name: np.mean([p[name] for p in probs.values()], axis=0) for name in sets}
    print(f"`python benchmarks/ensemble_accuracy.py {' '.join(files)}`\n")
    print("| model | val acc | test acc |\n| --- | ---: | ---: |")
    for label, p in probs.items():
        acc = [float(np.mean(p[name].argmax(1) == y)) for name, (_, y) in sets.items()]
        print(f"| {label} | {acc[0]:.2%} | {acc[1]:.2%} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
