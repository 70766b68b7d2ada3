"""Figures of the Cross weights page: one layer's d x d |W| with its field blocks, and the singular
values of every layer's W."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from recsys_core.analysis.native.cross import CrossSpectrum, FullCrossMatrix
from recsys_core.viz.heatmap import SEQUENTIAL
from recsys_core.viz.text import plot_text


def full_cross_figure(full: FullCrossMatrix, height: int | None = None) -> go.Figure:
    """|W| as a d x d heatmap: lines at the field block boundaries, field names at block centres."""
    d = full.values.shape[0]
    fig = go.Figure(
        go.Heatmap(
            z=full.values,
            colorscale=SEQUENTIAL,
            zmin=0.0,
            hovertemplate="row %{y}<br>column %{x}<br>|W| %{z:.4g}<extra></extra>",
            colorbar={"title": {"text": "|W|", "side": "right"}},
        )
    )
    line = {"color": "#333333", "width": 1}
    for b in full.boundaries:
        fig.add_shape(type="line", x0=b - 0.5, x1=b - 0.5, y0=-0.5, y1=d - 0.5, line=line)
        fig.add_shape(type="line", x0=-0.5, x1=d - 0.5, y0=b - 0.5, y1=b - 0.5, line=line)
    ticks = {
        "tickmode": "array",
        "tickvals": [float(c) for c in full.centres],
        "ticktext": [plot_text(f) for f in full.fields],  # field names: Plotly reads tags
        "showgrid": False,
        "automargin": True,
        "range": [-0.5, d - 0.5],
    }
    fig.update_xaxes(**ticks, tickangle=-40)
    fig.update_yaxes(**{**ticks, "range": [d - 0.5, -0.5]})  # row 0 on top
    fig.update_layout(
        title={"text": plot_text(full.title), "x": 0.0, "xanchor": "left"},
        height=height or 720,
        margin={"l": 10, "r": 10, "t": 60, "b": 10},
        template="plotly_white",
    )
    return fig


def spectrum_figure(spectrum: CrossSpectrum, height: int = 360) -> go.Figure:
    """One line of singular values per cross layer (index 1, 2, ...), with the rank bound marked."""
    fig = go.Figure()
    for k, values in enumerate(spectrum.values):
        fig.add_trace(
            go.Scatter(
                x=np.arange(1, len(values) + 1),
                y=np.asarray(values, dtype=float),
                mode="lines+markers",
                name=f"layer {k + 1}",
                hovertemplate="σ_%{x}: %{y:.4g}<extra>layer " + str(k + 1) + "</extra>",
            )
        )
    longest = max((len(v) for v in spectrum.values), default=0)
    if spectrum.rank < longest:
        fig.add_vline(
            x=spectrum.rank + 0.5,
            line={"dash": "dot", "color": "#777777"},
            annotation_text=f"rank {spectrum.rank}",
        )
    fig.update_layout(
        title={"text": spectrum.title, "x": 0.0, "xanchor": "left"},
        height=height,
        margin={"l": 10, "r": 10, "t": 60, "b": 10},
        template="plotly_white",
        legend={"title": {"text": "cross layer"}},
    )
    fig.update_xaxes(
        title={"text": "index (largest first)"},
        range=[0.5, longest + 0.5],
        tick0=1,
        dtick=max(1, -(-longest // 12)),
    )
    fig.update_yaxes(title={"text": "singular value"}, rangemode="tozero")
    return fig
