"""Finer maps: what strides 64 / 32 / 16 cost on the real scene and what they buy on mosaics.

    .venv/bin/python benchmarks/finer_maps.py [--subset test] [--images 1024] [--repeats 3]

Speed (one run, same process, ratios to stride 64): the whole shipped scene through the page / CLI
path (:func:`eurosat.tiling.classify_scene`: read, masks, windows, model, blend, footprints), and
the model alone on the same number of windows (pre-cut), so the overhead of the rest is visible.

Quality: the real scene has no per-pixel truth, so mosaics of EuroSAT images are used
(:mod:`eurosat.mosaic`): ``--images`` images of the split laid out in same-class blocks of 1, 2 or
4 images (fields of 0.64, 1.28, 2.56 km), cut at a random 0-63 px offset so that no grid lines up
with the image edges. Per stride and blend: the **pixel accuracy** (share of pixels whose cell
shows their image's class), and under the model's Uncertain rule (calibrated p ≥ its threshold)
the share of cells kept and how often the kept cells are wrong (majority class of the cell).
The stride and blend defaults were chosen on the validation split; the table reports ``--subset``.
Writes ``benchmarks/finer_maps.md`` / ``.json``, and ``finer_maps_lake.jpg``: the eastern lake of the
shipped scene (rows 128-447, cols 1024-1471) and the model's top class per cell at strides 64, 32
and 16 (the Uncertain rule off, so that the shapes can be compared; cloud tests on).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_models import cpu_flags  # noqa: E402
from eurosat import config  # noqa: E402
from eurosat.cells import STRIDES, window_grid_shape  # noqa: E402
from eurosat.data import ImageSource, read_split  # noqa: E402
from eurosat.inference import TFLiteClassifier  # noqa: E402
from eurosat.mosaic import cell_predictions  # noqa: E402
from eurosat.registry import active_model  # noqa: E402
from eurosat.tiling import classify_scene, classify_tiles  # noqa: E402

BLOCKS = ((1, 8), (2, 8), (4, 12))  # (images per block side, images per mosaic side)


def speed(clf: TFLiteClassifier, repeats: int) -> list[dict]:
    """Whole-scene and model-only seconds (median of ``repeats``) per stride."""
    import rasterio

    scene = config.default_scene()
    with rasterio.open(scene) as src:
        h, w = src.height, src.width
    rng = np.random.default_rng(0)
    rows = []
    for s in STRIDES:
        n_wr, n_wc = window_grid_shape(h, w, s)
        windows = rng.integers(0, 255, (n_wr * n_wc, 64, 64, 3), dtype=np.uint8)
        classify_scene(scene, clf, keep_tiles=False, stride=s)  # warm
        whole, model = [], []
        for _ in range(repeats):
            t0 = time.perf_counter()
            result = classify_scene(scene, clf, keep_tiles=False, stride=s)
            whole.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            classify_tiles(clf, windows)
            model.append(time.perf_counter() - t0)
        rows.append({"stride": s, "cells": result.n_tiles, "windows": n_wr * n_wc,
                     "scene_s": statistics.median(whole), "model_s": statistics.median(model)})
    base = rows[0]
    for r in rows:
        r["scene_ratio"] = r["scene_s"] / base["scene_s"]
        r["model_ratio"] = r["model_s"] / base["model_s"]
    return rows


def quality(clf: TFLiteClassifier, x: np.ndarray, y: np.ndarray, min_probability: float) -> list[dict]:
    """Pixel accuracy and Uncertain-rule figures per block size, stride and blend."""
    rows = []
    for block, side in BLOCKS:
        for s in STRIDES:
            for centre in ((False,) if s != 16 else (False, True)):
                m = cell_predictions(x, y, clf, s, side=side, block=block, centre=centre)
                keep = m.probs.max(axis=1) >= min_probability
                wrong = m.probs.argmax(axis=1) != m.labels
                rows.append({"block": block, "stride": s, "blend": "centre" if centre else "equal",
                             "cells": int(len(m.labels)), "pixel_accuracy": m.pixel_accuracy,
                             "cell_accuracy": float(1 - wrong.mean()), "kept": float(keep.mean()),
                             "wrong_of_kept": float(wrong[keep].mean()) if keep.any() else 0.0})
    return rows


LAKE = (128, 448, 1024, 1472)  # pixel rows and cols of the figure


def lake_cells(grid_off: np.ndarray, grid_on: np.ndarray, r0: int, c0: int, stride: int) -> dict:
    """Of the cells inside :data:`LAKE` that the model calls water with the Uncertain rule off
    (River or SeaLake), how many the rule (on) keeps as water and how many it turns Uncertain.

    Args:
        grid_off, grid_on: uint8 (rows, cols) cell codes without and with the rule, from
            :meth:`AreaResult.class_grid`; ``r0``, ``c0``: the grid's first cell row / col.
    """
    from eurosat.classes import CLASS_NAMES
    from eurosat.decision import UNCERTAIN_CODE

    y0, y1, x0, x1 = LAKE
    rows = (np.arange(grid_off.shape[0]) + r0) * stride
    cols = (np.arange(grid_off.shape[1]) + c0) * stride
    inside = np.outer((rows >= y0) & (rows + stride <= y1), (cols >= x0) & (cols + stride <= x1))
    water_codes = [CLASS_NAMES.index("River"), CLASS_NAMES.index("SeaLake")]
    water = inside & np.isin(grid_off, water_codes)
    n = int(water.sum())
    return {"stride": stride, "cells_in_crop": int(inside.sum()), "water_cells_rule_off": n,
            "kept_water": float(np.isin(grid_on[water], water_codes).mean()) if n else 0.0,
            "uncertain": float((grid_on[water] == UNCERTAIN_CODE).mean()) if n else 0.0}


def lake_figure(clf: TFLiteClassifier, out: Path, thresholds) -> tuple[Path, list[dict]]:
    """The scene crop, then the top class per cell at each stride blended over it (one PNG), and
    :func:`lake_cells` per stride under ``thresholds`` (the model's Uncertain rule)."""
    import rasterio
    from PIL import Image

    from eurosat.classes import hex_to_rgb
    from eurosat.decision import DEFAULT_MIN_CLEAR, Thresholds, code_color

    scene = config.default_scene()
    with rasterio.open(scene) as src:
        img = np.moveaxis(src.read(), 0, -1)
    y0, y1, x0, x1 = LAKE
    photo = np.clip(img[y0:y1, x0:x1].astype(float) * 1.6, 0, 255)
    lut = np.zeros((256, 3), np.uint8)
    for code in (*range(10), 253, 254):
        lut[code] = hex_to_rgb(code_color(code))
    panels = [photo.astype(np.uint8)]
    water = []
    for s in STRIDES:
        rule = Thresholds(DEFAULT_MIN_CLEAR, 0.0)
        result = classify_scene(scene, clf, keep_tiles=False, stride=s, thresholds=rule)
        r0, _, c0, _ = result.grid_bounds()
        grid = result.class_grid()
        water.append(lake_cells(grid, result.with_thresholds(thresholds).class_grid(), r0, c0, s))
        cells = np.kron(grid, np.ones((s, s), np.int64)).astype(np.uint8)
        colours = lut[cells][y0 - r0 * s:y1 - r0 * s, x0 - c0 * s:x1 - c0 * s]
        panels.append((0.6 * colours + 0.4 * photo).astype(np.uint8))
    padded = [np.pad(p, ((4, 4), (4, 4), (0, 0)), constant_values=255) for p in panels]
    Image.fromarray(np.concatenate(padded, axis=1)).save(out, quality=88)
    return out, water


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--subset", default="test", choices=("val", "test"))
    p.add_argument("--images", type=int, default=1024, help="images of the split used for mosaics")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--data", type=Path, default=config.eurosat_zip())
    a = p.parse_args(argv)

    info = active_model()
    clf = TFLiteClassifier(info.tflite, num_threads=2, batch_size=128)
    speed_rows = speed(clf, a.repeats)
    figure, water_rows = lake_figure(clf, ROOT / "benchmarks" / "finer_maps_lake.jpg", info.thresholds)
    items = read_split(config.SPLIT_FILE)[a.subset]
    items = [items[i] for i in np.random.default_rng(0).permutation(len(items))[: a.images]]
    x, y = ImageSource(a.data).load(items)
    rule = info.thresholds
    quality_rows = quality(clf, x, y, rule.min_probability)

    lines = [f"`python benchmarks/finer_maps.py --subset {a.subset} --images {a.images}` — model "
             f"`{info.name}` ({info.tflite.name}); CPU flags: {cpu_flags()}; 2 LiteRT threads.", "",
             "**Speed** on the shipped scene (1536 × 768 px), median of "
             f"{a.repeats}; ratios to stride 64 measured in this run:", "",
             "| stride | cells | windows | whole scene s | × stride 64 | model only s | × stride 64 |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in speed_rows:
        lines.append(f"| {r['stride']} | {r['cells']:,} | {r['windows']:,} | {r['scene_s']:.2f} | "
                     f"{r['scene_ratio']:.2f} | {r['model_s']:.2f} | {r['model_ratio']:.2f} |")
    lines += ["", f"**Quality** on mosaics of {len(y)} {a.subset} images (random 0-63 px offset), under "
              f"the model's Uncertain rule p ≥ {rule.min_probability:.3f}:", "",
              "| block (images) | stride | blend | cells | pixel accuracy | cell accuracy | cells kept | "
              "kept wrong |", "| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |"]
    for r in quality_rows:
        lines.append(f"| {r['block']} | {r['stride']} | {r['blend']} | {r['cells']:,} | "
                     f"{r['pixel_accuracy']:.1%} | {r['cell_accuracy']:.1%} | {r['kept']:.1%} | "
                     f"{r['wrong_of_kept']:.2%} |")
    lines += ["", f"`{figure.name}`: the shipped scene's eastern lake, then the model's top class per cell "
              "at strides " + ", ".join(map(str, STRIDES)) + " (Uncertain rule off, cloud tests on).",
              "", "**The lake under the Uncertain rule**: of the cells inside that crop that the model "
              "calls water (River or SeaLake) with the rule off, the share the rule keeps as water and the "
              "share it turns Uncertain:", "",
              "| stride | cells in crop | water cells (rule off) | kept as water | Uncertain |",
              "| ---: | ---: | ---: | ---: | ---: |"]
    for r in water_rows:
        lines.append(f"| {r['stride']} | {r['cells_in_crop']:,} | {r['water_cells_rule_off']:,} | "
                     f"{r['kept_water']:.1%} | {r['uncertain']:.1%} |")
    text = "\n".join(lines) + "\n"
    print(text)
    (ROOT / "benchmarks" / "finer_maps.md").write_text(text)
    (ROOT / "benchmarks" / "finer_maps.json").write_text(json.dumps(
        {"cpu_flags": cpu_flags(), "model": info.tflite.name, "subset": a.subset, "speed": speed_rows,
         "quality": quality_rows, "lake": water_rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
