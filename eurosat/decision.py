"""What a classified tile is called: a land class, *Cloud / no data*, or *Uncertain*.

The model must answer one of its ten classes; this module decides when that answer is shown:

* a tile whose clear-pixel fraction (:mod:`eurosat.masks`) is under ``min_clear`` is
  **Cloud / no data** (code 253) and not classified as land;
* a tile whose calibrated top-1 probability is under ``min_probability`` is **Uncertain**
  (code 254): the model is not sure, or the tile looks unlike anything it was trained on (its
  outlier-exposure training gives clouds, haze, shadow and blank tiles a flat answer);
* otherwise the class index (0-9). 255 is a cell that was not classified (outside the area).

The default ``min_probability`` belongs to the model (chosen on its validation split by the
trainer, stored in its ``metrics.json`` under ``decision``); :data:`FALLBACK_MIN_PROBABILITY`
is used for a model without one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from eurosat.classes import CLASS_COLORS, CLASS_NAMES

CLOUD_CODE: int = 253
UNCERTAIN_CODE: int = 254
NOT_CLASSIFIED_CODE: int = 255
CLOUD_LABEL = "Cloud / no data"
UNCERTAIN_LABEL = "Uncertain"
#: Colours of the two non-land statuses (map, legend, charts, GeoTIFF colour table).
CLOUD_COLOR = "#bdbdbd"
UNCERTAIN_COLOR = "#f2f2f2"
STATUS_LAND, STATUS_CLOUD, STATUS_UNCERTAIN = "land", "cloud", "uncertain"

DEFAULT_MIN_CLEAR: float = 0.75
FALLBACK_MIN_PROBABILITY: float = 0.5
#: Selective risk the trainer aims for when it picks ``min_probability`` on validation.
TARGET_ERROR_OF_KEPT: float = 0.01


@dataclass(frozen=True)
class Thresholds:
    """When a tile is land: at least ``min_clear`` clear pixels and ``min_probability`` top-1."""

    min_clear: float = DEFAULT_MIN_CLEAR
    min_probability: float = FALLBACK_MIN_PROBABILITY

    def to_dict(self) -> dict:
        """Plain dict for JSON and export tags."""
        return asdict(self)


def with_overrides(base: Thresholds, min_clear: float | None = None,
                   min_probability: float | None = None) -> Thresholds:
    """``base`` with the values a user gave (command-line flags; None keeps the base value)."""
    return Thresholds(base.min_clear if min_clear is None else min_clear,
                      base.min_probability if min_probability is None else min_probability)


def tile_codes(probs: np.ndarray, clear: np.ndarray, thresholds: Thresholds) -> np.ndarray:
    """Code per tile: class index 0-9, 253 cloud / no data, 254 uncertain. uint8 (N,).

    Args:
        probs: float (N, 10) calibrated probabilities.
        clear: float (N,) clear-pixel fraction.
        thresholds: the rule.
    """
    probs = np.asarray(probs)
    codes = probs.argmax(axis=1).astype(np.uint8) if len(probs) else np.zeros(0, np.uint8)
    codes[probs.max(axis=1) < thresholds.min_probability] = UNCERTAIN_CODE
    codes[np.asarray(clear) < thresholds.min_clear] = CLOUD_CODE
    return codes


def code_label(code: int) -> str:
    """Name of a code: the class name, ``Cloud / no data``, ``Uncertain`` or ``Not classified``."""
    if 0 <= code < len(CLASS_NAMES):
        return CLASS_NAMES[code]
    return {CLOUD_CODE: CLOUD_LABEL, UNCERTAIN_CODE: UNCERTAIN_LABEL}.get(code, "Not classified")


def code_color(code: int) -> str:
    """Colour (hex) of a code: the class colour, or the cloud / uncertain colour (map, charts, GeoTIFF)."""
    if code == CLOUD_CODE:
        return CLOUD_COLOR
    if code == UNCERTAIN_CODE:
        return UNCERTAIN_COLOR
    return CLASS_COLORS[CLASS_NAMES[code]]


def code_status(codes: np.ndarray) -> np.ndarray:
    """``land`` / ``cloud`` / ``uncertain`` per code: object array (N,)."""
    codes = np.asarray(codes)
    out = np.full(codes.shape, STATUS_LAND, dtype=object)
    out[codes == CLOUD_CODE] = STATUS_CLOUD
    out[codes == UNCERTAIN_CODE] = STATUS_UNCERTAIN
    return out


def choose_min_probability(probs: np.ndarray, labels: np.ndarray,
                           target_error: float = TARGET_ERROR_OF_KEPT) -> dict:
    """The lowest top-1 threshold whose kept tiles are wrong at most ``target_error`` of the time.

    Chosen on validation predictions (calibrated). Returns the threshold with the coverage (share
    kept) and the error of the kept tiles there, and the figures at no threshold for comparison.
    """
    probs, labels = np.asarray(probs), np.asarray(labels)
    conf = probs.max(1)
    wrong = probs.argmax(1) != labels
    order = np.argsort(-conf, kind="stable")
    cum_err = np.cumsum(wrong[order]) / np.arange(1, len(order) + 1)
    ok = np.flatnonzero(cum_err <= target_error)
    k = int(ok.max()) + 1 if len(ok) else 1  # keep the k most confident
    threshold = float(conf[order][k - 1])  # not rounded: rounding down would keep more wrong tiles
    kept = conf >= threshold
    return {
        "min_probability": threshold,
        "target_error_of_kept": target_error,
        "coverage": round(float(kept.mean()), 5),
        "error_of_kept": round(float(wrong[kept].mean()) if kept.any() else 0.0, 5),
        "error_all": round(float(wrong.mean()), 5),
        "n": int(len(labels)),
    }


def model_thresholds(metrics: dict | None) -> Thresholds:
    """The default rule of a model: its validation-chosen ``min_probability`` (``metrics.json``
    ``decision``), else :data:`FALLBACK_MIN_PROBABILITY`; ``min_clear`` :data:`DEFAULT_MIN_CLEAR`."""
    decision = (metrics or {}).get("decision")
    value = decision.get("min_probability") if isinstance(decision, dict) else None
    if isinstance(value, int | float) and 0.0 <= value <= 1.0:
        return Thresholds(DEFAULT_MIN_CLEAR, float(value))
    return Thresholds()


def main(argv: list[str] | None = None) -> int:
    """Choose a run's Uncertain threshold again from its served file on the validation split.

    ``python -m eurosat.decision RUN_DIR [--target-error 0.01]`` writes ``decision`` into the run's
    ``results.json`` (the probabilities are the dynamic-range TFLite file's own, calibration included).
    """
    import argparse
    import json
    from pathlib import Path

    from eurosat import config
    from eurosat.data import ImageSource, read_split, take_fraction
    from eurosat.inference import TFLiteClassifier

    p = argparse.ArgumentParser(prog="python -m eurosat.decision", description=main.__doc__)
    p.add_argument("run_dir", type=Path)
    p.add_argument("--target-error", type=float, default=TARGET_ERROR_OF_KEPT)
    a = p.parse_args(argv)
    cfg = json.loads((a.run_dir / "config.json").read_text())
    x, y = ImageSource(cfg["data"]).load(take_fraction(read_split(Path(cfg["split"]))["val"], cfg["subset"]))
    probs = TFLiteClassifier(a.run_dir / config.TFLITE_DYNAMIC, batch_size=128).predict(x)
    results_path = a.run_dir / "results.json"
    results = json.loads(results_path.read_text())
    results["decision"] = {**choose_min_probability(probs, y, a.target_error), "of": config.TFLITE_DYNAMIC}
    results_path.write_text(json.dumps(results, indent=1))
    print(json.dumps(results["decision"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
