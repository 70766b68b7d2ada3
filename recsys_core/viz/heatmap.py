"""Plotly heatmap of an interaction matrix: field names on both axes, values on hover, a colour bar."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from recsys_core.analysis.matrix import InteractionMatrix

SEQUENTIAL = "Blues"
DIVERGING = "RdBu_r"


def heatmap_figure(matrix: InteractionMatrix, height: int | None = None) -> go.Figure:
    """The matrix as a heatmap; signed matrices get a diverging scale centred at zero."""
    z = matrix.values
    names = list(matrix.fields)
    n = len(names)
    finite = z[np.isfinite(z)]
    hover = "row <b>%{y}</b><br>column <b>%{x}</b><br>value %{z:.4g}<extra></extra>"
    heat = go.Heatmap(
        z=z,
        x=names,
        y=names,
        colorscale=DIVERGING if matrix.signed else SEQUENTIAL,
        zmid=0.0 if matrix.signed else None,
        zmin=None if matrix.signed or finite.size == 0 else 0.0,
        hovertemplate=hover,
        hoverongaps=False,
        colorbar={"title": {"text": "strength", "side": "right"}},
        xgap=1,
        ygap=1,
    )
    fig = go.Figure(heat)
    fig.update_layout(
        title={"text": matrix.title, "x": 0.0, "xanchor": "left"},
        height=height or max(420, 140 + 34 * n),
        margin={"l": 10, "r": 10, "t": 60, "b": 10},
        template="plotly_white",
        plot_bgcolor="#eeeeee",
    )
    fig.update_xaxes(tickangle=-40, side="bottom", automargin=True, showgrid=False)
    fig.update_yaxes(autorange="reversed", automargin=True, showgrid=False)
    return fig
