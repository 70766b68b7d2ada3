"""Figures of one field pair: its strongest value combinations and its contribution distribution."""

from __future__ import annotations

import textwrap

import numpy as np
import plotly.graph_objects as go

from recsys_core.analysis.pair_detail import PairDetail
from recsys_core.viz.heatmap import DIVERGING
from recsys_core.viz.text import plot_text


def pair_combos_figure(detail: PairDetail, k: int = 10, units: str | None = None) -> go.Figure:
    """Horizontal bars: the ``k`` value combinations that push the score down most and up most.

    Never an empty chart without a reason: when no combination has ``min_count`` rows the bars
    are those seen in 2 or more (``PairDetail.coarse``), and when every combination is seen once
    the figure says why (``PairDetail.note``)."""
    a, b = detail.fields
    units = units or detail.unit
    top = detail.strongest(k)
    # cell values of the user's table: Plotly would read tags in them
    labels = [plot_text(f"{va} × {vb}") for va, vb in zip(top[a], top[b], strict=True)]
    fig = go.Figure(
        go.Bar(
            x=top["mean"],
            y=labels,
            orientation="h",
            marker={"color": top["mean"], "colorscale": DIVERGING, "cmid": 0.0},
            customdata=np.stack([top["count"], top["std"].fillna(0.0)], axis=1)
            if len(top)
            else None,
            hovertemplate="<b>%{y}</b><br>mean contribution %{x:.4g}<br>"
            "%{customdata[0]} rows, std %{customdata[1]:.3g}<extra></extra>",
        )
    )
    rare = not len(detail.combos) and len(top)
    title = f"{a} × {b}: strongest value combinations" + (" (seen in 2+ rows)" if rare else "")
    if detail.note:
        wrapped = "<br>".join(textwrap.wrap(plot_text(detail.note), 90))
        fig.add_annotation(
            text=wrapped,
            xref="paper",
            yref="paper",
            x=0.0,
            y=1.0 if len(top) else 0.5,
            yanchor="bottom" if len(top) else "middle",
            xanchor="left",
            align="left",
            showarrow=False,
            font={"size": 11, "color": "#555555"},
        )
    fig.update_layout(
        title={"text": plot_text(title), "x": 0.0},
        xaxis_title=f"mean interaction contribution ({units})",
        yaxis_title=f"{plot_text(a)} × {plot_text(b)} values "
        f"(rows ≥ {2 if rare else detail.min_count})",
        height=max(320, 120 + 24 * len(labels)) + (40 if detail.note else 0),
        margin={"l": 10, "r": 10, "t": 50 + (50 if detail.note and len(top) else 0), "b": 10},
        template="plotly_white",
    )
    fig.update_yaxes(autorange="reversed", automargin=True)
    if not len(top):
        fig.update_xaxes(visible=False)
        fig.update_yaxes(visible=False)
    return fig


def pair_distribution_figure(detail: PairDetail, units: str | None = None) -> go.Figure:
    """Histogram of the pair's per-row contribution over the held-out rows."""
    a, b = detail.fields
    units = units or detail.unit
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
