"""Plotly figures for classified images: top-k bar, per-tile class grid, class distribution.

Builders only: they return ``plotly.graph_objects.Figure`` and never call Streamlit.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from eurosat.classes import CLASS_COLORS, CLASS_NAMES, NUM_CLASSES
from eurosat.decision import (
    CLOUD_CODE,
    CLOUD_LABEL,
    UNCERTAIN_CODE,
    UNCERTAIN_LABEL,
    code_color,
)

_MARGIN = {"l": 10, "r": 10, "t": 40, "b": 10}


def topk_bar(probs: np.ndarray, k: int = 3, title: str = "Top classes") -> go.Figure:
    """Horizontal bar of the ``k`` most probable classes, most probable on top.

    Args:
        probs: float (10,) probabilities in ``CLASS_NAMES`` order.
        k: number of classes shown.
    """
    probs = np.asarray(probs, dtype=float)
    order = np.argsort(-probs, kind="stable")[:k][::-1]
    names = [CLASS_NAMES[i] for i in order]
    values = [float(probs[i]) for i in order]
    fig = go.Figure(
        go.Bar(
            x=values,
            y=names,
            orientation="h",
            marker_color=[CLASS_COLORS[n] for n in names],
            text=[f"{v:.1%}" for v in values],
            textposition="auto",
            hovertemplate="%{y}: %{x:.2%}<extra></extra>",
        )
    )
    fig.update_layout(
        title=title,
        xaxis={"range": [0, 1], "tickformat": ".0%", "title": "probability"},
        height=80 + 45 * k,
        margin=_MARGIN,
    )
    return fig


def _discrete_colorscale() -> list[list]:
    """One flat band per class index 0..9, then cloud / no data (10) and uncertain (11), for z in
    [-0.5, 11.5]."""
    colours = [code_color(c) for c in (*range(NUM_CLASSES), CLOUD_CODE, UNCERTAIN_CODE)]
    n = len(colours)
    scale: list[list] = []
    for i, colour in enumerate(colours):
        scale.append([i / n, colour])
        scale.append([(i + 1) / n, colour])
    return scale


def tile_class_grid(probs: np.ndarray, grid: tuple[int, int], title: str = "Class per tile",
                    codes: np.ndarray | None = None) -> go.Figure:
    """The shown class of every tile, laid out like the image (top row first).

    Args:
        probs: float (N, 10) per-tile probabilities, tiles row-major.
        grid: (rows, cols) with rows·cols == N.
        codes: uint8 (N,) tile codes (:mod:`eurosat.decision`): 253 cloud / no data and 254
            uncertain get their own colours; None: the model's top class everywhere.
    """
    probs = np.asarray(probs, dtype=float)
    rows, cols = grid
    codes = probs.argmax(axis=1) if codes is None else np.asarray(codes)
    z = np.where(codes == CLOUD_CODE, NUM_CLASSES, np.where(codes == UNCERTAIN_CODE, NUM_CLASSES + 1, codes))
    labels = z.reshape(rows, cols)
    conf = probs.max(axis=1).reshape(rows, cols)
    names = np.array([*CLASS_NAMES, CLOUD_LABEL, UNCERTAIN_LABEL], dtype=object)[labels]
    fig = go.Figure(
        go.Heatmap(
            z=labels,
            customdata=np.dstack([names, conf]),
            zmin=-0.5,
            zmax=NUM_CLASSES + 1.5,
            colorscale=_discrete_colorscale(),
            xgap=1,
            ygap=1,
            colorbar={
                "tickvals": list(range(NUM_CLASSES + 2)),
                "ticktext": [*CLASS_NAMES, CLOUD_LABEL, UNCERTAIN_LABEL],
                "title": "class",
                "len": 1.0,
            },
            hovertemplate="row %{y}, col %{x}<br>%{customdata[0]} (%{customdata[1]:.0%})<extra></extra>",
            x=np.arange(1, cols + 1),
            y=np.arange(1, rows + 1),
        )
    )
    fig.update_yaxes(autorange="reversed", scaleanchor="x", constrain="domain", title="row", dtick=1)
    fig.update_xaxes(constrain="domain", title="col", dtick=1)
    fig.update_layout(title=title, margin=_MARGIN, height=420, plot_bgcolor="white")
    return fig


def class_distribution(labels: np.ndarray, title: str = "Tiles per class") -> go.Figure:
    """Bar of how many tiles fall in each class (all 10 classes, in ``CLASS_NAMES`` order).

    Args:
        labels: int (N,) class index per tile.
    """
    counts = np.bincount(np.asarray(labels, dtype=int).ravel(), minlength=NUM_CLASSES)
    total = max(int(counts.sum()), 1)
    fig = go.Figure(
        go.Bar(
            x=list(CLASS_NAMES),
            y=counts,
            marker_color=[CLASS_COLORS[n] for n in CLASS_NAMES],
            text=[f"{c / total:.0%}" if c else "" for c in counts],
            textposition="outside",
            hovertemplate="%{x}: %{y} tiles<extra></extra>",
        )
    )
    fig.update_layout(
        title=title,
        yaxis={"title": "tiles", "rangemode": "tozero"},
        xaxis={"tickangle": -35},
        margin=_MARGIN,
        height=420,
    )
    return fig


def outlined_chip(chip: np.ndarray, box: tuple[int, int, int, int], scale: int = 4,
                  color: tuple[int, int, int] = (255, 230, 0)) -> np.ndarray:
    """A chip enlarged ``scale``× (nearest pixels, so nothing is invented) with a cell outlined.

    Args:
        chip: uint8 (H, W, 3); box: (top, left, bottom, right) of the cell in chip pixels, half-open.
        scale: enlargement; color: outline colour (2 px wide, drawn just outside the cell).

    Returns:
        uint8 (H·scale, W·scale, 3).
    """
    big = np.repeat(np.repeat(np.asarray(chip, np.uint8), scale, axis=0), scale, axis=1).copy()
    top, left, bottom, right = (v * scale for v in box)
    h, w = big.shape[:2]
    t0, l0, b1, r1 = max(0, top - 2), max(0, left - 2), min(h, bottom + 2), min(w, right + 2)
    big[t0:top, l0:r1] = color
    big[bottom:b1, l0:r1] = color
    big[t0:b1, l0:left] = color
    big[t0:b1, right:r1] = color
    return big
