"""Plotly figures of a model analysis (:mod:`eurosat.analysis`): confusion matrix, curves, reliability,
embedding map, filters. No Streamlit here."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from eurosat.calibration import ReliabilityBins
from eurosat.classes import CLASS_COLORS, CLASS_NAMES

_SHORT = {
    "HerbaceousVegetation": "HerbVeg",
    "PermanentCrop": "PermCrop",
    "AnnualCrop": "AnnCrop",
    "Residential": "Resid.",
    "Industrial": "Indust.",
}


def short(name: str) -> str:
    """Compact axis label of a class."""
    return _SHORT.get(name, name)


def confusion_scatter(cm: np.ndarray, height: int = 460) -> go.Figure:
    """The confusion matrix as clickable squares (rows true, columns predicted; colour: share of the row).

    Each point's ``customdata`` is (true index, predicted index), so a click selects a cell.
    """
    n = len(CLASS_NAMES)
    t, p = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    share = cm / np.maximum(1, cm.sum(axis=1, keepdims=True))
    text = [str(v) if v else "" for v in cm.ravel()]
    hover = [
        f"true {CLASS_NAMES[a]} → predicted {CLASS_NAMES[b]}: {cm[a, b]} images ({share[a, b]:.1%} of "
        f"{CLASS_NAMES[a]})<br>click for the images"
        for a, b in zip(t.ravel(), p.ravel(), strict=True)
    ]
    fig = go.Figure(
        go.Scatter(
            x=p.ravel(),
            y=t.ravel(),
            mode="markers+text",
            text=text,
            textfont={"size": 11},
            customdata=np.stack([t.ravel(), p.ravel()], axis=1),
            hovertext=hover,
            hoverinfo="text",
            marker={
                "symbol": "square",
                "size": 34,
                "color": np.sqrt(share.ravel()),
                "colorscale": "Blues",
                "cmin": 0,
                "cmax": 1,
                "line": {"width": 1, "color": "#888"},
            },
        )
    )
    ticks = {"tickmode": "array", "tickvals": list(range(n)), "ticktext": [short(c) for c in CLASS_NAMES]}
    fig.update_layout(
        height=height,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        xaxis={**ticks, "title": "predicted", "side": "top", "range": [-0.6, n - 0.4]},
        yaxis={**ticks, "title": "true", "autorange": "reversed", "range": [-0.6, n - 0.4]},
        clickmode="event+select",
        showlegend=False,
        plot_bgcolor="white",
    )
    return fig


def curves_figure(
    curves: dict, x_title: str, y_title: str, area: str, diagonal: bool = False, height: int = 360
) -> go.Figure:
    """One line per class (ROC or precision-recall), the area in the legend."""
    fig = go.Figure()
    for name, c in curves.items():
        fig.add_trace(
            go.Scatter(
                x=c.x,
                y=c.y,
                mode="lines",
                name=f"{short(name)} {area} {c.area:.3f}",
                line={"color": CLASS_COLORS[name], "width": 1.6},
            )
        )
    if diagonal:
        fig.add_trace(
            go.Scatter(
                x=[0, 1],
                y=[0, 1],
                mode="lines",
                name="chance",
                showlegend=False,
                line={"color": "#aaa", "dash": "dot", "width": 1},
            )
        )
    fig.update_layout(
        height=height,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        xaxis_title=x_title,
        yaxis_title=y_title,
        legend={"font": {"size": 10}},
    )
    return fig


def reliability_figure(
    before: ReliabilityBins, after: ReliabilityBins, ece_before: float, ece_after: float, height: int = 360
) -> go.Figure:
    """Accuracy against confidence per bin, before and after calibration, with the diagonal."""
    fig = go.Figure(
        go.Scatter(
            x=[0, 1],
            y=[0, 1],
            mode="lines",
            name="perfect calibration",
            line={"color": "#aaa", "dash": "dot", "width": 1},
        )
    )
    for bins, name, colour in (
        (before, f"before (ECE {ece_before:.3f})", "#d62728"),
        (after, f"served, calibrated (ECE {ece_after:.3f})", "#1f77b4"),
    ):
        pts = [
            (c, a, n)
            for c, a, n in zip(bins.confidence, bins.accuracy, bins.count, strict=True)
            if c is not None and a is not None
        ]
        fig.add_trace(
            go.Scatter(
                x=[p[0] for p in pts],
                y=[p[1] for p in pts],
                mode="lines+markers",
                name=name,
                text=[f"{p[2]} images" for p in pts],
                line={"color": colour},
                marker={"size": [4 + 10 * np.sqrt(p[2] / max(1, sum(bins.count))) for p in pts]},
            )
        )
    fig.update_layout(
        height=height,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        xaxis={"title": "confidence (top-1 probability)", "range": [0, 1]},
        yaxis={"title": "accuracy", "range": [0, 1.02]},
        legend={"font": {"size": 10}},
    )
    return fig


def embedding_figure(
    embedding: np.ndarray, labels: np.ndarray, predictions: np.ndarray, height: int = 520
) -> go.Figure:
    """t-SNE map coloured by true class; misclassified images as black-edged crosses. ``customdata``:
    the image index (a click selects it)."""
    fig = go.Figure()
    wrong = labels != predictions
    for k, name in enumerate(CLASS_NAMES):
        for miss in (False, True):
            sel = np.flatnonzero((labels == k) & (wrong == miss))
            if not len(sel):
                continue
            hover = [f"{name} → predicted {CLASS_NAMES[predictions[i]]}" for i in sel]
            fig.add_trace(
                go.Scatter(
                    x=embedding[sel, 0],
                    y=embedding[sel, 1],
                    mode="markers",
                    customdata=sel,
                    hovertext=hover,
                    hoverinfo="text",
                    name=f"{short(name)}{' (wrong)' if miss else ''}",
                    showlegend=not miss,
                    marker={
                        "color": CLASS_COLORS[name],
                        "size": 11 if miss else 5,
                        "symbol": "x" if miss else "circle",
                        "line": {"width": 1.5 if miss else 0, "color": "black"},
                    },
                )
            )
    fig.update_layout(
        height=height,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        xaxis={"visible": False},
        yaxis={"visible": False},
        legend={"font": {"size": 10}},
        clickmode="event+select",
        dragmode="pan",
    )
    return fig


def tile_strip(maps: np.ndarray, size: int = 96) -> np.ndarray:
    """Channels (C, H, W) as one row of greyscale images, each scaled to its range: uint8 (size, C·size)."""
    from PIL import Image

    out = []
    for a in maps:
        lo, hi = float(a.min()), float(a.max())
        g = ((a - lo) / (hi - lo) * 255 if hi > lo else np.zeros_like(a)).astype(np.uint8)
        out.append(np.asarray(Image.fromarray(g).resize((size, size), Image.Resampling.NEAREST)))
        out.append(np.full((size, 4), 255, np.uint8))
    return np.concatenate(out[:-1], axis=1) if out else np.zeros((size, size), np.uint8)


def filter_grid(kernel: np.ndarray, size: int = 40, per_row: int = 16) -> np.ndarray:
    """A first-layer kernel (kh, kw, 3, F) as RGB squares (each filter scaled to its range): uint8 image."""
    from PIL import Image

    f = np.moveaxis(kernel, -1, 0)  # (F, kh, kw, 3)
    tiles = []
    for w in f:
        lo, hi = float(w.min()), float(w.max())
        rgb = ((w - lo) / (hi - lo) * 255 if hi > lo else np.zeros_like(w)).astype(np.uint8)
        tiles.append(np.asarray(Image.fromarray(rgb).resize((size, size), Image.Resampling.NEAREST)))
    rows = []
    for i in range(0, len(tiles), per_row):
        row = tiles[i : i + per_row]
        row += [np.full_like(tiles[0], 255)] * (per_row - len(row))
        rows.append(
            np.concatenate([np.pad(t, ((2, 2), (2, 2), (0, 0)), constant_values=255) for t in row], axis=1)
        )
    return np.concatenate(rows, axis=0)
