"""Plotly figures (no Streamlit here)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go


def class_distribution_figure(summary: pd.DataFrame, height: int | None = None) -> go.Figure:
    """Horizontal bars of each class's share of an area, labelled with share and km².

    Args:
        summary: :meth:`eurosat.tiling.AreaResult.summary` (columns class, tiles, share, area_km2, color).
        height: figure height in px (default: grows with the number of classes).
    """
    df = summary.iloc[::-1]  # largest at the top
    fig = go.Figure(
        go.Bar(
            x=df["share"] * 100,
            y=df["class"],
            orientation="h",
            marker_color=df["color"],
            marker_line_color="#333",
            marker_line_width=0.5,
            text=[f"{s:.1%} · {a:.2f} km²" for s, a in zip(df["share"], df["area_km2"], strict=True)],
            textposition="auto",
            customdata=df[["tiles", "area_km2"]].to_numpy(),
            hovertemplate="%{y}: %{x:.1f}% of land tiles<br>%{customdata[0]} tiles, %{customdata[1]:.2f} km²"
            "<extra></extra>",
        )
    )
    fig.update_layout(
        height=height or 90 + 32 * len(df),
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        title={"text": "Classified land by class (share, area)",
               "font": {"size": 14}},
        xaxis={"title": "share of land tiles (%)", "range": [0, 100]},
        yaxis={"title": None},
        showlegend=False,
    )
    return fig
