"""A two-model committee run as a cascade: does a second opinion on the doubtful tiles pay per FLOP?

    .venv/bin/python benchmarks/committee.py runs/FIRST runs/SECOND [--threshold 0.99] [--split val]

Every tile goes through FIRST's single-pass file; a tile whose top-1 probability is under ``--threshold``
also goes through SECOND's, and gets the mean of the two (Wang et al., "Wisdom of Committees", ICLR 2022).
The cost served per tile is FIRST's FLOPs + (share re-examined) × SECOND's FLOPs; the worst case (every tile
doubtful) is their sum. For the dynamic-range and the full-int8 files of both runs, prints per split: the
share re-examined, mean MFLOPs per tile, images wrong and accuracy of FIRST alone, SECOND alone, the committee
and the mean of both on every tile. By default only the validation split is read (choose the pair and
threshold there); ``--split val,test`` adds the test split.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from eurosat import config  # noqa: E402
from eurosat.data import ImageSource, read_split  # noqa: E402
from eurosat.evaluate import predict_file  # noqa: E402

FILES = {"dynamic": config.TFLITE_DYNAMIC, "int8": config.TFLITE_INT8}


def committee_probabilities(first: np.ndarray, second: np.ndarray, threshold: float
                            ) -> tuple[np.ndarray, np.ndarray]:
    """The cascade's probabilities and which tiles it re-examined.

    Args:
        first, second: (N, 10) probabilities of the two models on the same tiles.
        threshold: a tile whose top-1 probability under ``first`` is below this gets the mean of both.

    Returns:
        ((N, 10) probabilities, bool (N,) re-examined).
    """
    doubtful = first.max(axis=1) < threshold
    probs = first.copy()
    probs[doubtful] = (first[doubtful] + second[doubtful]) / 2
    return probs, doubtful


def flops(run: Path) -> float:
    """Single-pass FLOPs per tile of a run's exported file (from its results.json)."""
    return float(json.loads((run / "results.json").read_text())["flops_per_tile_exported"])


def rows(first: Path, second: Path, threshold: float, splits: list[str]) -> list[str]:
    """Markdown table rows, one per (file kind, split)."""
    split = read_split(config.SPLIT_FILE)
    source = ImageSource(config.eurosat_zip())
    f1, f2 = flops(first) / 1e6, flops(second) / 1e6
    out = []
    for name in splits:
        x, y = source.load(split[name])
        for kind, filename in FILES.items():
            a, b = predict_file(first / filename, x), predict_file(second / filename, x)
            p, doubtful = committee_probabilities(a, b, threshold)
            cells = [f"{np.sum(q.argmax(1) != y)} ({100 * np.mean(q.argmax(1) == y):.2f} %)"
                     for q in (a, b, p, (a + b) / 2)]
            share = doubtful.mean()
            out.append(f"| {name} | {kind} | {100 * share:.1f} % | {f1 + share * f2:.0f} | "
                       + " | ".join(cells) + " |")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("first", type=Path)
    ap.add_argument("second", type=Path)
    ap.add_argument("--threshold", type=float, default=0.99)
    ap.add_argument("--split", default="val", help="comma-separated splits (val, test)")
    a = ap.parse_args(argv)
    f1, f2 = flops(a.first) / 1e6, flops(a.second) / 1e6
    print(f"`python benchmarks/committee.py {a.first} {a.second} --threshold {a.threshold} "
          f"--split {a.split}`\n")
    print(f"First {a.first.name} {f1:.0f} MFLOPs, second {a.second.name} {f2:.0f} MFLOPs "
          f"(worst case {f1 + f2:.0f}). Images wrong (accuracy):\n")
    print(f"| split | files | re-examined | MFLOPs / tile | {a.first.name} alone | {a.second.name} alone | "
          "committee | mean of both on every tile |\n| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    print("\n".join(rows(a.first, a.second, a.threshold, a.split.split(","))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
