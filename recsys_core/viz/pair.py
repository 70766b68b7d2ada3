"""Figures of one field pair: its strongest value combinations and its contribution distribution."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from recsys_core.analysis.pair_detail import PairDetail
from recsys_core.viz.heatmap import DIVERGING
from recsys_core.viz.text import plot_text


def pair_combos_figure(detail: PairDetail, k: int = 10, units: str = "score") -> go.Figure:
    """Horizontal bars: the ``k`` value combinations that push the score down most and up most."""
    a, b = detail.fields
    top = detail.strongest(k)
    # cell values of the user's table: Plotly would read tags in them
    labels = [plot_text(f"{va} × {vb}") for va, vb in zip(top[a], top[b], strict=True)]
    fig = go.Figure(
        go.Bar(
            x=top["mean"],
            y=labels,
            orientation="h",
            marker={"color": top["mean"], "colorscale": DIVERGING, "cmid": 0.0},
            customdata=np.stack([top["count"], top["std"].fillna(0.0)], axis=1),
            hovertemplate="<b>%{y}</b><br>mean contribution %{x:.4g}<br>"
            "%{customdata[0]} rows, std %{customdata[1]:.3g}<extra></extra>",
        )
    )
    fig.update_layout(
        title={"text": plot_text(f"{a} × {b}: strongest value combinations"), "x": 0.0},
        xaxis_title=f"mean interaction contribution ({units})",
        height=max(320, 120 + 24 * len(labels)),
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        template="plotly_white",
    )
    fig.update_yaxes(autorange="reversed", automargin=True)
    return fig


def pair_distribution_figure(detail: PairDetail, units: str = "score") -> go.Figure:
    """Histogram of the pair's per-row contribution over the held-out rows."""
    a, b = detail.fields
    fig = go.Figure(go.Histogram(x=detail.contributions, nbinsx=40, marker_color="#4c78a8"))
    fig.add_vline(x=0.0, line_dash="dot", line_color="#555555")
    fig.update_layout(
        title={
            "text": plot_text(f"{a} × {b}: contribution per held-out row ({detail.n_rows:,} rows)"),
            "x": 0.0,
        },
        xaxis_title=f"interaction contribution ({units})",
        yaxis_title="rows",
        height=320,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        template="plotly_white",
    )
    return fig
