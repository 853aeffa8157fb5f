"""Accuracy against cost: every candidate model file, measured in one run on this machine.

    .venv/bin/python benchmarks/bench_models.py [--runs runs/NAME ...] [--shipped-at COMMIT ...] \
        [--reference REF.tflite]

The shipped files in ``models/`` are always measured beside the runs given; ``--shipped-at`` adds the
files ``models/`` held at earlier commits (taken from git, e.g. the model shipped before this one).
For each file: parameters, MFLOPs per tile as served (views included), tiles/s on 1 and 2 LiteRT
threads (the 288 tiles of the shipped scene, model only, median of 3), validation and test accuracy
and expected calibration error of the file itself, and for int8 files their top-1 agreement with the
dynamic-range file of the same model. The reference row is today's shipped file before this change
(``--reference``; default: taken from git at :data:`REFERENCE_COMMIT`, the 8-view TTA file).
Writes ``benchmarks/models.md`` and ``models.json``; prints the CPU flags.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from eurosat import config  # noqa: E402
from eurosat.calibration import expected_calibration_error  # noqa: E402
from eurosat.data import ImageSource, read_split  # noqa: E402
from eurosat.inference import TFLiteClassifier  # noqa: E402

#: The commit whose models/ held the 8-view files shipped before the single-pass default.
REFERENCE_COMMIT = "9d438de"
PARAMS_V1 = 698_858
FLOPS_V1 = 211_487_232


def cpu_flags() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = line.split(":", 1)[1].split()
                return " ".join(sorted(f for f in flags if f.startswith(("avx", "fma", "amx"))))
    except OSError:
        pass
    return "unknown"


def reference_file(tmp: Path) -> Path:
    out = tmp / "reference_tta.tflite"
    data = subprocess.run(["git", "show", f"{REFERENCE_COMMIT}:models/{config.TFLITE_DYNAMIC}"], cwd=ROOT,
                          capture_output=True, check=True).stdout
    out.write_bytes(data)
    return out


def scene_tiles() -> np.ndarray:
    import rasterio

    with rasterio.open(config.default_scene()) as src:
        rgb = np.moveaxis(src.read(), 0, -1)
    h, w = rgb.shape[0] // 64, rgb.shape[1] // 64
    return rgb[: h * 64, : w * 64].reshape(h, 64, w, 64, 3).swapaxes(1, 2).reshape(-1, 64, 64, 3)


def tiles_per_s(path: Path, tiles: np.ndarray, threads: int) -> float:
    clf = TFLiteClassifier(path, num_threads=threads, batch_size=64)
    clf.predict(tiles[:64])
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        clf.predict(tiles)
        times.append(time.perf_counter() - t0)
    return len(tiles) / statistics.median(times)


def shipped_at(commit: str, tmp: Path) -> Path:
    """The ``models/`` files of an earlier commit, written to a folder under ``tmp``."""
    out = tmp / f"models_{commit}"
    out.mkdir()
    for name in (config.TFLITE_DYNAMIC, config.TFLITE_INT8, config.TFLITE_TTA, config.METRICS_FILE):
        got = subprocess.run(["git", "show", f"{commit}:models/{name}"], cwd=ROOT, capture_output=True)
        if got.returncode == 0:
            (out / name).write_bytes(got.stdout)
    if not (out / config.METRICS_FILE).is_file():
        raise SystemExit(f"--shipped-at {commit}: no models/{config.METRICS_FILE} at that commit")
    return out


def candidates(run_dirs: list[Path], reference: Path, earlier: dict[str, Path] | None = None) -> list[dict]:
    """Rows to measure: the reference, ``models/``, the ``models/`` of ``earlier`` commits
    (commit → folder from :func:`shipped_at`), then each run."""
    rows = [{"label": "today's file (8-view TTA inside), reference", "path": reference,
             "params": PARAMS_V1, "mflops": 8 * FLOPS_V1 / 1e6, "views": 8}]
    # model folders (their results in metrics.json) first, then each run's (results.json)
    folders = [(config.models_dir(), "shipped (models/)", True),
               *((d, f"shipped at {c}", True) for c, d in (earlier or {}).items()),
               *((d, d.name, False) for d in run_dirs)]
    for d, name, card in folders:
        results = json.loads((d / (config.METRICS_FILE if card else "results.json")).read_text())
        flops = results["flops_per_tile"] / 1e6
        if card and d != config.models_dir():
            name += f" ({results.get('run', '?')})"
        for kind, file, views in (("dynamic", config.TFLITE_DYNAMIC, 1), ("int8", config.TFLITE_INT8, 1),
                                  ("tta", config.TFLITE_TTA, 8)):
            if (d / file).is_file():
                label = f"{name} {kind}" + (" (8 views)" if views > 1 else "")
                rows.append({"label": label, "path": d / file,
                             "params": results["parameters"], "mflops": flops * views, "views": views,
                             "run": name, "kind": kind})
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=Path, nargs="*", default=[])
    p.add_argument("--shipped-at", nargs="*", default=[], help="commits whose models/ files to add")
    p.add_argument("--reference", type=Path, default=None)
    a = p.parse_args(argv)
    src = ImageSource(config.eurosat_zip())
    split = read_split(config.SPLIT_FILE)
    xv, yv = src.load(split["val"])
    xt, yt = src.load(split["test"])
    tiles = scene_tiles()
    with tempfile.TemporaryDirectory() as tmp:
        ref = a.reference or reference_file(Path(tmp))
        rows = candidates(a.runs, ref, {c: shipped_at(c, Path(tmp)) for c in a.shipped_at})
        dyn_pred: dict[str, np.ndarray] = {}
        for r in rows:
            clf = TFLiteClassifier(r["path"], batch_size=128)
            pv, pt = clf.predict(xv), clf.predict(xt)
            r.update(val=float((pv.argmax(1) == yv).mean()), test=float((pt.argmax(1) == yt).mean()),
                     test_ece=expected_calibration_error(pt, yt),
                     tps1=tiles_per_s(r["path"], tiles, 1), tps2=tiles_per_s(r["path"], tiles, 2))
            if r.get("kind") == "dynamic":
                dyn_pred[r["run"]] = pt.argmax(1)
            if r.get("kind") == "int8" and r["run"] in dyn_pred:
                r["int8_agreement"] = float((pt.argmax(1) == dyn_pred[r["run"]]).mean())
            r["path"] = str(r["path"])
    ref_row = rows[0]
    shipped_opt = f" --shipped-at {' '.join(a.shipped_at)}" if a.shipped_at else ""
    md = [f"`python benchmarks/bench_models.py --runs {' '.join(str(d) for d in a.runs)}{shipped_opt}` on "
          f"{len(tiles)} scene tiles; CPU flags: {cpu_flags()}.", "",
          "| model | params | MFLOPs/tile served | tiles/s 1 thread | tiles/s 2 threads | speed vs reference "
          "(2 threads) | val acc | test acc | test ECE | int8 agreement |",
          "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        agree = f"{100 * r['int8_agreement']:.2f} %" if "int8_agreement" in r else "—"
        md.append(f"| {r['label']} | {r['params']:,} | {r['mflops']:.0f} | {r['tps1']:.0f} | "
                  f"{r['tps2']:.0f} | {r['tps2'] / ref_row['tps2']:.1f}× | {100 * r['val']:.2f} % | "
                  f"{100 * r['test']:.2f} % | "
                  f"{r['test_ece']:.4f} | {agree} |")
    (ROOT / "benchmarks" / "models.md").write_text("\n".join(md) + "\n")
    (ROOT / "benchmarks" / "models.json").write_text(json.dumps({"cpu_flags": cpu_flags(), "rows": rows},
                                                                indent=1))
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
