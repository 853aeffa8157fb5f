"""Validation and test accuracy of TFLite files and of the mean of their probabilities (an ensemble
teacher for ``python -m eurosat.train --teacher A,B``).

    .venv/bin/python benchmarks/ensemble_accuracy.py A.tflite B.tflite [...]
    .venv/bin/python benchmarks/ensemble_accuracy.py --subsets A.tflite B.tflite C.tflite [...]

``--subsets`` scores the mean of every combination of the files on the validation split only (to choose
a teacher without looking at test): accuracy, images wrong and log loss, best first.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from eurosat import config  # noqa: E402
from eurosat.calibration import nll  # noqa: E402
from eurosat.data import ImageSource, read_split  # noqa: E402
from eurosat.evaluate import predict_file  # noqa: E402


def subsets_table(files: list[str], x: np.ndarray, y: np.ndarray) -> list[str]:
    """Markdown rows: the mean of each combination of ``files`` on (x, y), best accuracy (then log loss)
    first."""
    from itertools import combinations

    probs = {f: predict_file(Path(f), x) for f in files}
    rows = []
    for k in range(1, len(files) + 1):
        for combo in combinations(files, k):
            p = np.mean([probs[f] for f in combo], axis=0)
            wrong = int(np.sum(p.argmax(1) != y))
            rows.append((wrong, nll(p, y), " + ".join(Path(f).parent.name or f for f in combo)))
    rows.sort()
    return [f"| {name} | {100 * (1 - wrong / len(y)):.2f}% | {wrong} | {loss:.4f} |"
            for wrong, loss, name in rows]


def main(files: list[str]) -> int:
    if not files or files == ["--subsets"]:
        raise SystemExit(__doc__)
    if files[0] == "--subsets":
        split = read_split(config.SPLIT_FILE)
        x, y = ImageSource(config.eurosat_zip()).load(split["val"])
        print(f"`python benchmarks/ensemble_accuracy.py {' '.join(files)}` — validation split only\n")
        print("| files (run folders), mean probabilities | val acc | images wrong | val log loss |\n"
              "| --- | ---: | ---: | ---: |")
        print("\n".join(subsets_table(files[1:], x, y)))
        return 0
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
