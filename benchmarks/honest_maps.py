"""Honest maps, measured: masks, calibration and the Uncertain rule on real tiles with synthetic artefacts.

    .venv/bin/python benchmarks/honest_maps.py [--model models/eurosat_resnet_light.tflite] [--n 600]

Writes ``benchmarks/honest_maps.md`` and ``honest_maps.json``. Every artefact is made in code
(:mod:`eurosat.synthetic`, seeded), over real data:

1. **Masks on clear EuroSAT test tiles** (the whole test split): share of tiles the visible-band tests
   would drop (clear fraction under the default 0.75), per class — the false alarms.
2. **Masks on artefacts over test tiles** (``--n`` tiles each): cumulus (coverage 0.6-1, soft edges),
   thick haze (0.6-0.9), thin haze (0.3-0.5), mostly no data: share dropped as Cloud / no data.
3. **The shipped February scene**: tiles dropped and why, and what the model says of the rest.
4. **Synthetic cumulus and shadows over the real scene** (25 % cover, shadows 600 m south-east):
   tiles whose true cloud+shadow share is ≥ 25 % must come out 253 or 254; tiles with < 5 % must
   keep the class they get on the clear scene.
5. **Model**: test ECE / reliability before and after temperature (from the model's metrics), and
   the out-of-distribution AUROC of 1 − top-1 probability for each outlier kind vs clear test tiles,
   with the share of each kind that the Uncertain rule catches at the model's threshold.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from eurosat import config  # noqa: E402
from eurosat.calibration import max_probability_score, ood_auroc  # noqa: E402
from eurosat.classes import CLASS_NAMES, NUM_CLASSES  # noqa: E402
from eurosat.data import ImageSource, read_split  # noqa: E402
from eurosat.decision import CLOUD_CODE, UNCERTAIN_CODE, model_thresholds, tile_codes  # noqa: E402
from eurosat.inference import TFLiteClassifier  # noqa: E402
from eurosat.masks import masks_of_tiles, rgb_masks, tile_quality  # noqa: E402
from eurosat.synthetic import (  # noqa: E402
    OUTLIER_KINDS,
    add_cloud,
    add_haze,
    add_nodata,
    cloud_field,
    cloudy_scene,
    outlier_tile,
)

OUT_MD = ROOT / "benchmarks" / "honest_maps.md"
OUT_JSON = ROOT / "benchmarks" / "honest_maps.json"


def pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def artefact_sets(x: np.ndarray, n: int, seed: int = 7) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(x), size=min(n, len(x)), replace=False)
    out: dict[str, list[np.ndarray]] = {"cumulus": [], "thick haze": [], "thin haze": [], "no data": []}
    for i in idx:
        a = cloud_field((64, 64), rng, coverage=rng.uniform(0.6, 1.0), scale_px=rng.uniform(6, 20))
        out["cumulus"].append(add_cloud(x[i], a))
        out["thick haze"].append(add_haze(x[i], rng.uniform(0.6, 0.9)))
        out["thin haze"].append(add_haze(x[i], rng.uniform(0.3, 0.5)))
        holes = cloud_field((64, 64), rng, coverage=rng.uniform(0.6, 1.0)) > 0.5
        out["no data"].append(add_nodata(x[i], holes))
    return {k: np.stack(v) for k, v in out.items()}


def scene_tiles(img: np.ndarray) -> np.ndarray:
    h, w = img.shape[0] // 64, img.shape[1] // 64
    return img[: h * 64, : w * 64].reshape(h, 64, w, 64, 3).swapaxes(1, 2).reshape(-1, 64, 64, 3)


def main(argv: list[str] | None = None) -> int:
    import rasterio

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, default=None,
                   help="a .tflite (default: the shipped dynamic-range file)")
    p.add_argument("--n", type=int, default=600, help="tiles per artefact kind")
    a = p.parse_args(argv)
    model_path = a.model or config.models_dir() / config.TFLITE_DYNAMIC
    metrics_path = model_path.parent / config.METRICS_FILE
    metrics = json.loads(metrics_path.read_text()) if metrics_path.is_file() else {}
    rule = model_thresholds(metrics)
    clf = TFLiteClassifier(model_path, batch_size=128)
    t0 = time.time()
    src = ImageSource(config.eurosat_zip())
    x, y = src.load(read_split(config.SPLIT_FILE)["test"])
    res: dict = {"model": model_path.name, "rule": rule.to_dict(),
                 "machine": platform.processor() or platform.machine(), "n_test": int(len(x))}
    md = [f"`python benchmarks/honest_maps.py` — model `{model_path.name}`, rule: land needs "
          f"≥ {rule.min_clear:.0%} clear pixels and calibrated p ≥ {rule.min_probability:.3f} "
          f"({'the model’s own, chosen on validation' if 'decision' in metrics else 'fallback'}).", ""]

    # 1. false alarms on clear test tiles
    q = masks_of_tiles(x)
    dropped = q.clear < rule.min_clear
    res["clear_test_dropped"] = {n: float(dropped[y == k].mean()) for k, n in enumerate(CLASS_NAMES)}
    res["clear_test_dropped_all"] = float(dropped.mean())
    md += ["### 1. Masks on clear EuroSAT test tiles (false alarms)", "",
           f"{dropped.sum()} of {len(x)} clear test tiles ({pct(dropped.mean())}) would be dropped as cloud.",
           "",
           "| class | tiles | dropped | mean cloud pixels |", "| --- | ---: | ---: | ---: |"]
    for k, n in enumerate(CLASS_NAMES):
        s = y == k
        md.append(f"| {n} | {s.sum()} | {pct(dropped[s].mean())} | {pct(q.cloud[s].mean())} |")

    # 2. artefacts over test tiles
    sets = artefact_sets(x, a.n)
    md += ["", f"### 2. Masks on synthetic artefacts over {a.n} test tiles each", "",
           "| artefact | dropped as cloud / no data | mean clear fraction |", "| --- | ---: | ---: |"]
    res["artefacts_dropped"] = {}
    for kind, tiles in sets.items():
        qa = masks_of_tiles(tiles, np.all(tiles == 0, axis=-1))
        res["artefacts_dropped"][kind] = float((qa.clear < rule.min_clear).mean())
        md.append(f"| {kind} | {pct((qa.clear < rule.min_clear).mean())} | {qa.clear.mean():.2f} |")

    # 3. the shipped scene
    with rasterio.open(config.default_scene()) as f:
        scene = np.moveaxis(f.read(), 0, -1)
    sq = tile_quality(rgb_masks(scene))
    stiles = scene_tiles(scene)
    sp = clf.predict(stiles)
    scodes = tile_codes(sp, sq.clear, rule)
    flagged = np.flatnonzero(scodes == CLOUD_CODE)
    res["scene"] = {"tiles": int(len(stiles)), "cloud": int((scodes == CLOUD_CODE).sum()),
                    "uncertain": int((scodes == UNCERTAIN_CODE).sum()),
                    "land": int((scodes < NUM_CLASSES).sum()),
                    "flagged": [{"row": int(i // 24), "col": int(i % 24),
                                 "cloud": round(float(sq.cloud[i]), 3),
                                 "shadow": round(float(sq.shadow[i]), 3)} for i in flagged]}
    land_counts = np.bincount(scodes[scodes < NUM_CLASSES], minlength=NUM_CLASSES)
    md += ["", "### 3. The shipped February scene (288 tiles, visible-band tests)", "",
           f"Cloud / no data: {res['scene']['cloud']} tiles; uncertain: {res['scene']['uncertain']}; "
           f"land: {res['scene']['land']}. Land classes: "
           + ", ".join(f"{CLASS_NAMES[k]} {n}" for k, n in enumerate(land_counts) if n) + ".", "",
           "Flagged tiles (row, col: cloud / shadow share): "
           + ("; ".join(f"r{f['row']} c{f['col']}: {f['cloud']:.2f} / {f['shadow']:.2f}"
                        for f in res["scene"]["flagged"]) or "none") + "."]

    # 4. synthetic cumulus + shadows over the real scene
    cloudy, cloud, shadow = cloudy_scene(scene, seed=3, coverage=0.25)
    truth = scene_tiles(np.stack([cloud, shadow, np.zeros_like(cloud)], -1).astype(np.float32))
    t_cloud = (truth[..., 0] > 0.5).mean(axis=(1, 2))
    t_shadow = (truth[..., 1] > 0.5).mean(axis=(1, 2))
    t_bad = t_cloud + t_shadow
    cq = tile_quality(rgb_masks(cloudy))
    cp = clf.predict(scene_tiles(cloudy))
    ccodes = tile_codes(cp, cq.clear, rule)
    clear_ref = sp.argmax(1)
    must_flag = t_bad >= 0.25
    must_keep = t_bad < 0.05
    flagged_ok = np.isin(ccodes[must_flag], (CLOUD_CODE, UNCERTAIN_CODE))
    kept_land = ccodes[must_keep] < NUM_CLASSES
    same = ccodes[must_keep][kept_land] == clear_ref[must_keep][kept_land]
    naive = cp.argmax(1)
    res["cloudy_scene"] = {
        "tiles_cloud_or_shadow_ge_25pct": int(must_flag.sum()),
        "of_those_253_or_254": float(flagged_ok.mean()) if must_flag.any() else None,
        "of_those_253": float((ccodes[must_flag] == CLOUD_CODE).mean()) if must_flag.any() else None,
        "tiles_clear_lt_5pct": int(must_keep.sum()),
        "of_those_kept_as_land": float(kept_land.mean()) if must_keep.any() else None,
        "of_kept_same_class_as_clear_scene": float(same.mean()) if same.size else None,
        "naive_model_classes_on_cloud_tiles": {
            CLASS_NAMES[k]: int(n)
            for k, n in enumerate(np.bincount(naive[t_cloud >= 0.5], minlength=NUM_CLASSES)) if n},
    }
    cs = res["cloudy_scene"]
    md += ["", "### 4. Synthetic cumulus (25 % cover) and their shadows over the real scene", "",
           f"- {cs['tiles_cloud_or_shadow_ge_25pct']} tiles are ≥ 25 % cloud or shadow: "
           f"{pct(cs['of_those_253_or_254'] or 0)} come out 253/254 ({pct(cs['of_those_253'] or 0)} as 253).",
           f"- {cs['tiles_clear_lt_5pct']} tiles are < 5 % cloud or shadow: "
           f"{pct(cs['of_those_kept_as_land'] or 0)} stay land, and "
           f"{pct(cs['of_kept_same_class_as_clear_scene'] or 0)} of those keep the class they have on the "
           "clear scene.",
           "- Without masks, the model calls the ≥ 50 % cloud tiles: "
           + ", ".join(f"{k} {v}" for k, v in cs["naive_model_classes_on_cloud_tiles"].items()) + "."]

    # 5. model: calibration and OOD
    cal = metrics.get("calibration") or {}
    md += ["", "### 5. The model: calibration and out-of-distribution tiles", ""]
    if cal:
        md += [f"Temperature T = {cal['temperature']:.3f} (fitted on validation). Test ECE "
               f"{cal['test_before']['ece']:.4f} → **{cal['test_after']['ece']:.4f}**, mean top-1 "
               f"{cal['test_before']['mean_confidence']:.3f} → {cal['test_after']['mean_confidence']:.3f} "
               f"at accuracy {cal['test_after']['accuracy']:.4f}.", ""]
    else:
        md += ["This model has no calibration in its metrics.", ""]
    p_clear = clf.predict(x)
    score_clear = max_probability_score(p_clear)
    rng = np.random.default_rng(11)
    idx = rng.choice(len(x), size=min(a.n, len(x)), replace=False)
    md += [f"AUROC of 1 − top-1 probability, {len(idx)} outliers of each kind (made from test tiles) vs all "
           f"{len(x)} clear test tiles; 'uncertain' = share under p {rule.min_probability:.3f} "
           f"(clear test tiles: {pct((p_clear.max(1) < rule.min_probability).mean())}).", "",
           "| outlier | AUROC | uncertain | masks drop it | either |", "| --- | ---: | ---: | ---: | ---: |"]
    res["ood"] = {"clear_uncertain": float((p_clear.max(1) < rule.min_probability).mean())}
    for kind in OUTLIER_KINDS:
        tiles = np.stack([outlier_tile(x[i], kind, rng) for i in idx])
        po = clf.predict(tiles)
        qo = masks_of_tiles(tiles, np.all(tiles == 0, axis=-1))
        unsure = po.max(1) < rule.min_probability
        drop = qo.clear < rule.min_clear
        res["ood"][kind] = {"auroc": ood_auroc(max_probability_score(po), score_clear),
                            "uncertain": float(unsure.mean()), "masked": float(drop.mean()),
                            "either": float((unsure | drop).mean())}
        r = res["ood"][kind]
        md.append(f"| {kind} | {r['auroc']:.3f} | {pct(r['uncertain'])} | {pct(r['masked'])} | "
                  f"{pct(r['either'])} |")
    res["seconds"] = round(time.time() - t0, 1)
    md += ["", f"({res['seconds']:.0f} s.)"]
    OUT_MD.write_text("\n".join(md) + "\n")
    OUT_JSON.write_text(json.dumps(res, indent=1))
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
