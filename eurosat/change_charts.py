"""Plotly figures of a land-cover change: the from→to matrix (km²) and the Sankey diagram of the flows.

No Streamlit here: each builder returns a figure a page renders.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from eurosat.change import ChangeResult
from eurosat.classes import CLASS_COLORS, CLASS_NAMES, hex_to_rgb


def matrix_figure(result: ChangeResult, height: int = 460) -> go.Figure:
    """Heatmap of the from→to matrix in km² (rows: before, columns: after) over the comparable tiles."""
    m = result.matrix_km2()
    z = m.to_numpy()
    text = [[f"{v:.2f}" if v else "" for v in row] for row in z]
    fig = go.Figure(go.Heatmap(
        z=np.log1p(z * 10), x=list(m.columns), y=list(m.index), text=text, texttemplate="%{text}",
        customdata=z, colorscale="Blues", showscale=False,
        hovertemplate="from %{y} to %{x}: %{customdata:.3f} km²<extra></extra>"))
    fig.update_yaxes(autorange="reversed", title="before")
    fig.update_xaxes(title="after", tickangle=-35)
    fig.update_layout(title={"text": "From → to (km², comparable tiles; diagonal = unchanged)",
                             "font": {"size": 14}},
                      height=height, margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return fig


def _rgba(color: str, alpha: float) -> str:
    r, g, b = hex_to_rgb(color)
    return f"rgba({r},{g},{b},{alpha})"


def sankey_figure(result: ChangeResult, height: int = 420) -> go.Figure:
    """Sankey of the comparable area: every class before → every class after (changed flows coloured
    by the new class, unchanged ones pale)."""
    m = result.matrix_km2().to_numpy()
    n = len(CLASS_NAMES)
    src, dst, val, col = [], [], [], []
    for i in range(n):
        for j in range(n):
            if m[i, j] > 0:
                src.append(i)
                dst.append(n + j)
                val.append(float(m[i, j]))
                col.append(_rgba(CLASS_COLORS[CLASS_NAMES[j]], 0.75 if i != j else 0.15))
    colors = [CLASS_COLORS[c] for c in CLASS_NAMES] * 2
    fig = go.Figure(go.Sankey(
        node={"label": [f"{c} (before)" for c in CLASS_NAMES] + [f"{c} (after)" for c in CLASS_NAMES],
              "color": colors, "pad": 8, "thickness": 12},
        link={"source": src, "target": dst, "value": val, "color": col,
              "hovertemplate": "%{source.label} → %{target.label}: %{value:.2f} km²<extra></extra>"}))
    fig.update_layout(title={"text": "Flows between classes (km²)", "font": {"size": 14}}, height=height,
                      margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return fig
