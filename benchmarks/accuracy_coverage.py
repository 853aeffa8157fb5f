"""Do the Accuracy page's estimates hit the truth, and do its 95 % intervals cover it 95 % of the time?

    .venv/bin/python benchmarks/accuracy_coverage.py [--draws 1000] [--cells 200] [--minimum 20]

A synthetic map with a known truth (made here: 20,000 cells of 0.1024 km² (32 px at 10 m); true classes
drawn 50 / 30 / 15 / 5 %; the map right 85 % of the time, else a random class; 8 % of cells marked
Uncertain). Each draw is a stratified random sample allocated by :func:`eurosat.accuracy.allocate`,
labelled with the truth and assessed by :func:`eurosat.accuracy.assess`. Prints per class: the true area, the
mapped area (counting cells), the mean adjusted estimate, its relative bias, the mean 95 % half-width and how
often the interval covered the true area; the same for the overall accuracy of the classified land.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from eurosat.accuracy import allocate, assess, draw_sample, strata_of  # noqa: E402
from eurosat.decision import UNCERTAIN_CODE  # noqa: E402


def population(seed: int = 3, n: int = 20000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(truth (n,), map codes (n,), areas km² (n,)) of the synthetic map described above."""
    rng = np.random.default_rng(seed)
    truth = rng.choice(4, size=n, p=[0.5, 0.3, 0.15, 0.05])
    codes = np.where(rng.random(n) < 0.85, truth, rng.choice(4, size=n))
    codes[rng.random(n) < 0.08] = UNCERTAIN_CODE
    return truth, codes, np.full(n, 0.1024)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--cells", type=int, default=200)
    ap.add_argument("--minimum", type=int, default=20)
    a = ap.parse_args(argv)
    truth, codes, areas = population()
    strata = strata_of(codes, areas)
    sizes = allocate(strata, a.cells, a.minimum)
    true_km2 = np.array([areas[truth == j].sum() for j in range(4)])
    mapped = np.array([areas[codes == j].sum() for j in range(4)])
    land = codes < 4
    true_oa = float(np.mean(truth[land] == codes[land]))
    est, half, oa, oa_half = [], [], [], []
    for seed in range(a.draws):
        cells = draw_sample(codes, strata, sizes, seed)
        r = assess(strata, codes[cells], truth[cells])
        est.append([r.area_km2[j].value for j in range(4)])
        half.append([r.area_km2[j].half_width() for j in range(4)])
        oa.append(r.overall.value)
        oa_half.append(r.overall.half_width())
    est_a, half_a = np.array(est), np.array(half)
    cover = np.mean(np.abs(est_a - true_km2) <= half_a, axis=0)
    print(f"`python benchmarks/accuracy_coverage.py --draws {a.draws} --cells {a.cells} "
          f"--minimum {a.minimum}` — {len(codes):,} cells, {a.cells} labelled per draw "
          f"({', '.join(map(str, sizes))} per stratum {', '.join(strata.labels)}), {a.draws} draws\n")
    print("| class | true km² | mapped km² | mean adjusted km² | bias | mean 95 % half-width | coverage |\n"
          "| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for j in range(4):
        print(f"| {strata.labels[j]} | {true_km2[j]:.1f} | {mapped[j]:.1f} | {est_a[:, j].mean():.1f} | "
              f"{100 * (est_a[:, j].mean() / true_km2[j] - 1):+.1f} % | {half_a[:, j].mean():.1f} | "
              f"{100 * cover[j]:.1f} % |")
    oa_a, oa_h = np.array(oa), np.array(oa_half)
    print(f"| overall accuracy (land) | {100 * true_oa:.1f} % | | {100 * oa_a.mean():.1f} % | "
          f"{100 * (oa_a.mean() - true_oa):+.1f} pt | {100 * oa_h.mean():.1f} pt | "
          f"{100 * np.mean(np.abs(oa_a - true_oa) <= oa_h):.1f} % |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
