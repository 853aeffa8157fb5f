"""Which single-pass file to ship, from the validation split only: can validation tell them apart?

    .venv/bin/python benchmarks/model_choice.py [--split test] runs/A runs/B [...]

For the dynamic-range single-pass file (``eurosat_resnet_light.tflite``) of each run: validation accuracy
with its binomial standard error, the paired exact McNemar test against the most accurate one (scipy's
``binomtest`` on the images exactly one of the two gets right), log loss (mean negative log-likelihood,
a proper scoring rule that uses every image's probability, not only its top-1) and ECE. By default the test
split is never read; ``--split test`` scores the same on the test split instead. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy.stats import binomtest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from eurosat import config  # noqa: E402
from eurosat.calibration import expected_calibration_error, nll  # noqa: E402
from eurosat.data import ImageSource, read_split  # noqa: E402
from eurosat.evaluate import predict_file  # noqa: E402


def mcnemar_p(right_a: np.ndarray, right_b: np.ndarray) -> float:
    """Exact two-sided McNemar p-value of two classifiers scored on the same images.

    Args:
        right_a, right_b: bool (N,), whether each model got each image right.
    """
    only_a = int(np.sum(right_a & ~right_b))
    only_b = int(np.sum(right_b & ~right_a))
    if only_a + only_b == 0:
        return 1.0
    return float(binomtest(only_a, only_a + only_b, 0.5).pvalue)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+")
    p.add_argument("--split", choices=("val", "test"), default="val")
    a = p.parse_args(argv)
    run_dirs, split = a.runs, a.split
    x, y = ImageSource(config.eurosat_zip()).load(read_split(config.SPLIT_FILE)[split])
    probs = {Path(d).name: predict_file(Path(d) / config.TFLITE_DYNAMIC, x) for d in run_dirs}
    right = {name: p.argmax(1) == y for name, p in probs.items()}
    top = max(right, key=lambda name: right[name].mean())
    opt = " --split test" if split == "test" else ""
    print(f"`python benchmarks/model_choice.py{opt} {' '.join(run_dirs)}` — {split} split, {len(y)} images, "
          f"single-pass dynamic-range files\n")
    print(f"| run | {split} acc | ± 1 SE | images wrong | McNemar p vs {top} | {split} log loss "
          f"| {split} ECE |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, p in probs.items():
        acc = float(right[name].mean())
        se = float(np.sqrt(acc * (1 - acc) / len(y)))
        print(f"| {name} | {acc:.2%} | {se:.2%} | {int((~right[name]).sum())} | "
              f"{mcnemar_p(right[name], right[top]):.2f} | {nll(p, y):.4f} | "
              f"{expected_calibration_error(p, y):.4f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
