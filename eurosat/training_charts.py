"""Plotly figures and tables for training runs: learning curves, confusion matrix, per-class metrics.

No Streamlit here: each builder returns a figure or a DataFrame that a page renders.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from eurosat.classes import CLASS_NAMES

TRAIN_COLOR = "#1f77b4"
VAL_COLOR = "#ff7f0e"

#: results.json test keys -> what the page calls them
MODEL_LABELS: dict[str, str] = {
    "keras": "Keras (float32)",
    "keras_tta": "Keras, 8 views",
    "tflite_dynamic": "TFLite dynamic-range (used by the app)",
    "tflite_int8": "TFLite full int8",
    "tflite_float32": "TFLite float32",
    "tflite_tta": "TFLite, 8 views (slower)",
}


def model_label(key: str) -> str:
    """What the page calls a ``results["test"]`` key; an unknown key (a newer trainer's) is shown as is."""
    return MODEL_LABELS.get(key, key)


def _one_two_five(lo: float, hi: float) -> list[float]:
    """Log-axis ticks 1, 2, 5, 10, 20, ... covering [lo, hi]."""
    start, stop = int(np.floor(np.log10(lo))), int(np.ceil(np.log10(hi)))
    ticks = [m * 10.0**e for e in range(start, stop + 1) for m in (1, 2, 5)]
    return [t for t in ticks if lo / 1.5 <= t <= hi * 1.5]


def curves_figure(rows: Sequence[dict], height: int = 320) -> go.Figure:
    """Loss and accuracy per epoch, training and validation, side by side.

    Args:
        rows: ``metrics.jsonl`` rows (``epoch``, ``loss``, ``accuracy``, ``val_loss``,
            ``val_accuracy``; ``partial`` marks an epoch cut short by a stop).
    """
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Loss", "Accuracy"), horizontal_spacing=0.16)
    epochs = [r.get("epoch") for r in rows]
    symbols = ["circle-open" if r.get("partial") else "circle" for r in rows]
    for col, metric in ((1, "loss"), (2, "accuracy")):
        for prefix, name, color in (("", "train", TRAIN_COLOR), ("val_", "validation", VAL_COLOR)):
            fig.add_trace(
                go.Scatter(
                    x=epochs, y=[r.get(prefix + metric) for r in rows], name=name,
                    mode="lines+markers", line={"color": color}, marker={"symbol": symbols, "size": 7},
                    legendgroup=name, showlegend=col == 1,
                    hovertemplate=f"epoch %{{x}}<br>{name} {metric} %{{y:.4f}}<extra></extra>",
                ),
                row=1, col=col,
            )
    fig.update_xaxes(title_text="epoch", dtick=1 if len(rows) <= 15 else None)
    losses = [v for r in rows for v in (r.get("loss"), r.get("val_loss"))
              if isinstance(v, int | float) and v > 0]
    if losses and max(losses) / min(losses) > 3:  # an early validation loss can be 100x the rest
        ticks = _one_two_five(min(losses), max(losses))
        fig.update_yaxes(type="log", tickvals=ticks, ticktext=[f"{t:g}" for t in ticks],
                         title_text="log scale", row=1, col=1)
    fig.update_yaxes(tickformat=".0%", range=[0, 1.02], row=1, col=2)
    fig.update_layout(height=height, margin={"l": 10, "r": 10, "t": 40, "b": 10},
                      legend={"orientation": "h", "y": -0.2})
    return fig


def confusion_figure(cm: Sequence[Sequence[int]], class_names: Sequence[str] = CLASS_NAMES,
                     normalise: bool = True, height: int = 520) -> go.Figure:
    """Confusion-matrix heatmap: rows true classes, columns predicted.

    Args:
        cm: (n, n) counts.
        normalise: colour by the share of each true class (recall per row); counts stay in the text.
    """
    counts = np.asarray(cm, dtype=float)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1] or counts.shape[0] != len(class_names):
        raise ValueError(f"confusion matrix must be ({len(class_names)}, {len(class_names)}), "
                         f"got {counts.shape}")
    if normalise:
        totals = counts.sum(axis=1, keepdims=True)
        z = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    else:
        z = counts
    names = list(class_names)
    fig = go.Figure(go.Heatmap(
        z=z, x=names, y=names, colorscale="Blues", zmin=0, zmax=1 if normalise else None,
        text=counts.astype(int), texttemplate="%{text}",
        customdata=z, colorbar={"title": {"text": "row share" if normalise else "count", "side": "right"},
                                 "thickness": 12},
        hovertemplate="true %{y}<br>predicted %{x}<br>%{text} images (%{customdata:.1%})<extra></extra>",
    ))
    fig.update_yaxes(autorange="reversed", title_text="true class")
    fig.update_xaxes(title_text="predicted class", tickangle=-45)
    fig.update_layout(height=height, margin={"l": 10, "r": 10, "t": 10, "b": 10})
    return fig


def per_class_frame(report: dict) -> pd.DataFrame:
    """Per-class precision, recall, F1 and support from a ``classification_report`` dict."""
    per_class = report.get("per_class", {})
    rows = [{"class": name, **{k: per_class[name].get(k) for k in ("precision", "recall", "f1", "support")}}
            for name in CLASS_NAMES if name in per_class]
    return pd.DataFrame(rows, columns=["class", "precision", "recall", "f1", "support"])


def models_with_results(results: dict | None) -> list[str]:
    """The ``results["test"]`` keys present, in :data:`MODEL_LABELS` order."""
    test = (results or {}).get("test", {})
    return [k for k in MODEL_LABELS if k in test] + [k for k in test if k not in MODEL_LABELS]
