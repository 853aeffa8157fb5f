"""Does the heatmap point at the evidence? Half-Forest / half-SeaLake tiles, share of each map on its half.

    python benchmarks/gradcam_evidence.py [--keras models/eurosat_resnet_light.keras] [--pairs 6]
                                          [--png test-artifacts/gradcam_halves.png]

Builds 64×64 inputs from real test-split tiles the model recognises (left 32 columns from a Forest
tile, right 32 from a SeaLake tile, and the mirror arrangement), explains Forest and SeaLake with
every method, and prints the share of each map's mass that lies on the half holding that class
(1.0 = all on the right half, 0.5 = no preference). With ``--png``, saves a panel: input,
Forest map, SeaLake map (Grad-CAM overlays) for the first pairs.
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
from PIL import Image, ImageDraw  # noqa: E402

from eurosat import config  # noqa: E402
from eurosat.classes import CLASS_NAMES  # noqa: E402
from eurosat.data import ImageSource, read_split  # noqa: E402
from eurosat.explain import METHODS, CamExplainer, evidence_share, load_keras_model, overlay  # noqa: E402
from eurosat.registry import shipped_model  # noqa: E402

FOREST, SEALAKE = CLASS_NAMES.index("Forest"), CLASS_NAMES.index("SeaLake")


def recognised_tiles(model, cls: int, n: int, data: str) -> np.ndarray:
    """The first ``n`` test tiles of class ``cls`` that the model puts in that class with p > 0.5."""
    test = [it for it in read_split(config.SPLIT_FILE)["test"] if it.label == cls][: 10 * n]
    x, _ = ImageSource(data).load(test)
    p = np.asarray(model.predict(x.astype(np.float32), verbose=0))
    return x[(p.argmax(1) == cls) & (p[:, cls] > 0.5)][:n]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keras", default=str(shipped_model().keras))
    ap.add_argument("--data", default=str(config.eurosat_zip()))
    ap.add_argument("--pairs", type=int, default=6)
    ap.add_argument("--png", default=None, help="save a panel of the first pairs (Grad-CAM)")
    a = ap.parse_args(argv)

    model = load_keras_model(a.keras)
    ex = CamExplainer(model)
    forest, sea = (recognised_tiles(model, c, a.pairs, a.data) for c in (FOREST, SEALAKE))
    n = min(len(forest), len(sea))
    if n == 0:
        print("error: the model recognises none of the test Forest/SeaLake tiles (untrained model?)")
        return 2
    left = np.zeros((64, 64), bool)
    left[:, :32] = True
    shares: dict[tuple[str, int], list[float]] = {}
    seconds: dict[str, list[float]] = {}
    panel_rows = []
    for f, s in zip(forest[:n], sea[:n], strict=True):
        for forest_left in (True, False):
            a_, b_ = (f, s) if forest_left else (s, f)
            img = np.concatenate([a_[:, :32], b_[:, 32:]], axis=1)
            half = {FOREST: left if forest_left else ~left, SEALAKE: ~left if forest_left else left}
            for method in METHODS:
                for cls in (FOREST, SEALAKE):
                    t0 = time.perf_counter()
                    heat = ex.heatmap(img, cls, method)
                    seconds.setdefault(method, []).append(time.perf_counter() - t0)
                    shares.setdefault((method, cls), []).append(evidence_share(heat, half[cls]))
            if len(panel_rows) < 4:
                maps = [overlay(img, ex.heatmap(img, c, "gradcam"), 0.5, 192) for c in (FOREST, SEALAKE)]
                panel_rows.append(np.concatenate([overlay(img, np.zeros((64, 64)), 0.0, 192), *maps], axis=1))

    print(f"model: {a.keras}\n{n} Forest/SeaLake pairs × 2 arrangements = {2 * n} inputs\n")
    print("| method | class | mean share on its half | min | inputs with share > 0.5 | s per map |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for (method, cls), v in shares.items():
        arr = np.array(v)
        print(
            f"| {METHODS[method]} | {CLASS_NAMES[cls]} | {arr.mean():.2f} | {arr.min():.2f} | "
            f"{(arr > 0.5).sum()}/{len(arr)} | {np.median(seconds[method]):.3f} |"
        )
    if a.png:
        panel = np.concatenate(panel_rows, axis=0)
        header = Image.new("RGB", (panel.shape[1], 22), "white")
        draw = ImageDraw.Draw(header)
        titles = ["input: half Forest, half SeaLake", "Grad-CAM: Forest", "Grad-CAM: SeaLake"]
        for k, text in enumerate(titles):
            draw.text((k * 192 + 6, 5), text, fill="black")
        out = np.concatenate([np.asarray(header), panel], axis=0)
        Path(a.png).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(out).save(a.png)
        print(f"\npanel: {a.png}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
