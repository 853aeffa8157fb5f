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


def adjusted_area_figure(table: pd.DataFrame, level: float = 0.95) -> go.Figure:
    """Mapped against error-adjusted area per class, the adjusted one with its confidence interval.

    Args:
        table: :meth:`eurosat.accuracy.Assessment.table` (class, mapped_km2, adjusted_km2, adjusted_pm_km2).
        level: the interval's level (for the legend).
    """
    from eurosat.classes import CLASS_COLORS

    fig = go.Figure([
        go.Bar(name="mapped (cells counted)", x=table["class"], y=table["mapped_km2"],
               marker_color="#bbbbbb", hovertemplate="%{x}: %{y:.2f} km² mapped<extra></extra>"),
        go.Bar(name=f"error-adjusted, {level:.0%} interval", x=table["class"], y=table["adjusted_km2"],
               marker_color=[CLASS_COLORS[c] for c in table["class"]], marker_line_color="#333",
               marker_line_width=0.5,
               error_y={"type": "data", "array": table["adjusted_pm_km2"].fillna(0), "visible": True},
               customdata=table["adjusted_pm_km2"],
               hovertemplate="%{x}: %{y:.2f} ± %{customdata:.2f} km² (adjusted)<extra></extra>"),
    ])
    fig.update_layout(barmode="group", height=360, margin={"l": 10, "r": 10, "t": 40, "b": 10},
                      title={"text": "Area by class: mapped and error-adjusted", "font": {"size": 14}},
                      yaxis={"title": "km²", "rangemode": "tozero"}, legend={"orientation": "h", "y": -0.25})
    return fig
