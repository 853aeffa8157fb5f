"""Side-by-side comparison of training runs: learning curves, headline metrics, confusion differences.

Everything is read from what the trainer wrote (``metrics.jsonl``, ``results.json``) defensively: a run
that did not finish, or an older or hand-edited file, gives empty cells, never an exception.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from eurosat.classes import CLASS_NAMES, NUM_CLASSES
from eurosat.runs import Run

#: The served model whose test results are compared.
SERVED = "tflite_dynamic"


def _get(d: object, *keys: str) -> object:
    for k in keys:
        if not isinstance(d, dict):
            return None
        d = d.get(k)
    return d


def _num(v: object) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def served_report(run: Run) -> dict:
    """The test report of the run's served file (else its Keras model), {} when it was not tested."""
    test = _get(run.results, "test")
    if not isinstance(test, dict):
        return {}
    for key in (SERVED, "keras"):
        if isinstance(test.get(key), dict):
            return test[key]
    return {}


def metrics_table(runs: Sequence[Run]) -> pd.DataFrame:
    """One column per run: test accuracy, macro F1, ECE, per-class recall, parameters, MFLOPs, time."""
    rows: dict[str, list[object]] = {}
    index = ["test accuracy", "macro F1", "test ECE (served)", "best val accuracy", "parameters",
             "MFLOPs per tile (served)", "epochs", "training time (min)",
             *[f"recall {c}" for c in CLASS_NAMES]]
    for run in runs:
        report, results = served_report(run), run.results or {}
        flops = _num(results.get("flops_per_tile_exported", results.get("flops_per_tile")))
        seconds = _num(results.get("train_time_s"))
        recall = [_num(_get(report, "per_class", c, "recall")) for c in CLASS_NAMES]
        rows[run.name] = [_num(report.get("accuracy")), _num(report.get("macro_f1")),
                          _num(_get(results, "calibration", "test_after", "ece")), run.best_val_accuracy,
                          _num(results.get("parameters")), flops / 1e6 if flops is not None else None,
                          run.epochs_done, seconds / 60 if seconds is not None else None, *recall]
    return pd.DataFrame(rows, index=index)


def confusion_of(run: Run) -> np.ndarray | None:
    """The served file's test confusion matrix (10, 10), or None."""
    cm = served_report(run).get("confusion_matrix")
    try:
        arr = np.asarray(cm, dtype=np.int64)
    except (TypeError, ValueError):
        return None
    return arr if arr.shape == (NUM_CLASSES, NUM_CLASSES) else None


def confusion_difference(a: Run, b: Run) -> np.ndarray | None:
    """``b``'s test confusion matrix minus ``a``'s (images): int64 (10, 10), or None if either lacks one."""
    ca, cb = confusion_of(a), confusion_of(b)
    return None if ca is None or cb is None else cb - ca


def curves_overlay(runs: Sequence[Run], metric: str = "val_accuracy", height: int = 340) -> go.Figure:
    """``metric`` per epoch, one line per run."""
    fig = go.Figure()
    for run in runs:
        pts = [(r.get("epoch"), r.get(metric)) for r in run.metrics
               if isinstance(r.get("epoch"), int) and _num(r.get(metric)) is not None]
        fig.add_trace(go.Scatter(x=[p[0] for p in pts], y=[p[1] for p in pts], mode="lines+markers",
                                 name=run.name))
    fig.update_layout(height=height, margin={"l": 10, "r": 10, "t": 10, "b": 10}, xaxis_title="epoch",
                      yaxis_title=metric.replace("_", " "), legend={"font": {"size": 10}})
    return fig


def difference_figure(diff: np.ndarray, a: str, b: str, height: int = 420) -> go.Figure:
    """Heatmap of a confusion-matrix difference: blue where ``b`` has more images than ``a``."""
    lim = max(1, int(np.abs(diff).max()))
    fig = go.Figure(go.Heatmap(z=diff, x=list(CLASS_NAMES), y=list(CLASS_NAMES), zmin=-lim, zmax=lim,
                               colorscale="RdBu", text=diff, texttemplate="%{text}",
                               hovertemplate="true %{y}, predicted %{x}: %{z:+d} images<extra></extra>"))
    fig.update_layout(height=height, margin={"l": 10, "r": 10, "t": 30, "b": 10},
                      title={"text": f"{b} minus {a} (test images)", "font": {"size": 13}},
                      yaxis={"autorange": "reversed", "title": "true"}, xaxis={"title": "predicted"})
    return fig
