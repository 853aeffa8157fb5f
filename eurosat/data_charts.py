"""Plotly figures of the Data page: split per class, channel histograms, mean colours (no Streamlit)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from eurosat.data_explore import CHANNEL_COLORS, CHANNELS

#: Bar colour of each subset.
SUBSET_COLORS: dict[str, str] = {"train": "#4c72b0", "val": "#dd8452", "test": "#55a868"}
_DASHES = ("solid", "dash", "dot", "dashdot")
_MARGIN = {"l": 10, "r": 10, "t": 50, "b": 10}


def split_figure(counts: pd.DataFrame) -> go.Figure:
    """Stacked bars: images per class, one segment per subset.

    Args:
        counts: :func:`eurosat.data_explore.split_counts` (columns class, train, val, test, total).
    """
    subsets = [c for c in counts.columns if c not in ("class", "total")]
    fig = go.Figure()
    for subset in subsets:
        fig.add_bar(
            x=counts["class"], y=counts[subset], name=subset,
            marker_color=SUBSET_COLORS.get(subset, "#999999"),
            hovertemplate=f"%{{x}}<br>{subset}: %{{y:,}} images<extra></extra>",
        )
    total = int(counts["total"].sum()) if "total" in counts else int(counts[subsets].to_numpy().sum())
    fig.update_layout(
        barmode="stack", height=380, margin=_MARGIN,
        title={"text": f"Images per class and subset ({total:,} in all)", "font": {"size": 14}},
        xaxis={"title": None, "tickangle": -30}, yaxis={"title": "images"},
        legend={"orientation": "h", "y": 1.02, "x": 1, "xanchor": "right", "yanchor": "bottom",
                "traceorder": "normal"},
    )
    return fig


def channel_histogram_figure(edges: np.ndarray, series: Mapping[str, np.ndarray],
                             title: str = "Pixel values per channel") -> go.Figure:
    """One panel per channel (R, G, B, in the channel colours), each data set's histogram overlaid.

    Counts are shown as shares of each data set's pixels, so sets of different sizes compare.

    Args:
        edges: float (bins + 1,) bin edges on the 0-255 scale.
        series: name -> int (3, bins) pixel counts (:func:`eurosat.data_explore.channel_histograms`);
            the first is drawn filled, the others as lines (solid, dashed, dotted...).
        title: figure title.
    """
    centres = (np.asarray(edges[:-1]) + np.asarray(edges[1:])) / 2
    fig = make_subplots(rows=1, cols=3, shared_yaxes=True, horizontal_spacing=0.03,
                        subplot_titles=[f"{c} ({name})" for c, name in zip(CHANNELS, ("red", "green", "blue"),
                                                                          strict=True)])
    for k, (name, counts) in enumerate(series.items()):
        counts = np.asarray(counts, dtype=float)
        totals = counts.sum(axis=1, keepdims=True)
        shares = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0) * 100
        for c, channel in enumerate(CHANNELS):
            colour = CHANNEL_COLORS[channel]
            fig.add_scatter(
                x=centres, y=shares[c], name=name, legendgroup=name, showlegend=c == 0,
                mode="lines", line={"color": colour, "dash": _DASHES[k % len(_DASHES)],
                                    "width": 2 if k else 1.5, "shape": "hvh"},
                fill="tozeroy" if k == 0 else None, opacity=0.9,
                hovertemplate=f"{name} {channel} %{{x:.0f}}: %{{y:.2f}}% of pixels<extra></extra>",
                row=1, col=c + 1,
            )
    fig.update_xaxes(range=[0, 256], title_text="value (0-255)")
    fig.update_yaxes(title_text="share of pixels (%)", row=1, col=1)
    fig.update_layout(
        height=330, margin=_MARGIN, title={"text": title, "font": {"size": 14}},
        legend={"orientation": "h", "y": -0.25, "x": 0},
    )
    return fig


def mean_colour_figure(stats: pd.DataFrame) -> go.Figure:
    """One swatch per class filled with its mean colour, labelled with the hex code.

    Args:
        stats: :func:`eurosat.data_explore.channel_stats` (columns class, images, mean_r/g/b, hex).
    """
    df = stats.iloc[::-1]  # first class at the top
    brightness = df[["mean_r", "mean_g", "mean_b"]].mean(axis=1)
    fig = go.Figure(
        go.Bar(
            x=[1.0] * len(df), y=df["class"], orientation="h",
            marker_color=df["hex"], marker_line_color="#333", marker_line_width=0.5,
            text=df["hex"], textposition="inside", insidetextanchor="middle",
            textfont={"color": ["#000" if b > 140 else "#fff" for b in brightness]},
            customdata=df[["mean_r", "mean_g", "mean_b", "images"]].to_numpy(),
            hovertemplate="%{y}: %{text}<br>R %{customdata[0]:.1f} · G %{customdata[1]:.1f} · "
            "B %{customdata[2]:.1f}<br>%{customdata[3]} images<extra></extra>",
        )
    )
    fig.update_layout(
        height=90 + 30 * len(df), margin=_MARGIN, showlegend=False, bargap=0.15,
        title={"text": "Mean colour per class", "font": {"size": 14}},
        xaxis={"visible": False, "range": [0, 1]}, yaxis={"title": None},
    )
    return fig

