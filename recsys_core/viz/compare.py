"""The Compare page's figures: runs' maps on one colour scale, their rank agreement, the mean map
over seeds with its unstable cells crossed. Each carries its caption and unit, as every export does."""

from __future__ import annotations

import html

import numpy as np
import plotly.graph_objects as go

from recsys_core.analysis.compare import Comparison
from recsys_core.analysis.stability import RankAgreement, Stability
from recsys_core.viz.facets import facet_figure
from recsys_core.viz.heatmap import DIVERGING, LINE_PX, colour_title, heatmap_figure
from recsys_core.viz.text import plot_text

UNSTABLE_MARK = "#d50000"


def _grey(text: str) -> str:
    return f"<span style='color:#555555'>{html.escape(text)}</span>"


def grid_figure(comparison: Comparison) -> go.Figure:
    """Every run's map side by side on one colour scale, on the fields all runs share."""
    maps = comparison.maps
    fig = facet_figure(
        maps,
        titles=comparison.names,
        cols=min(len(maps), 3),
        title=f"{maps[0].title}: {len(maps)} runs on one colour scale",
    )
    left_out = sum(len(v) for v in comparison.match.unmatched.values())
    caption = (
        f"{colour_title(maps[0])} · {len(comparison.match.common)} fields every run has"
        + (f" ({left_out} left out)" if left_out else "")
        + f" · tier: {maps[0].kind}"
    )
    title = fig.layout.title.to_plotly_json() if fig.layout.title else {}
    warning = (title.get("subtitle") or {}).get("text")
    lines = [_grey(caption), *([warning] if warning else [])]
    fig.update_layout(
        title={**title, "subtitle": {"text": "<br>".join(lines)}},
        margin={"t": 70 + LINE_PX * len(lines)},
        height=(fig.layout.height or 400) + LINE_PX,
    )
    return fig


def agreement_figure(agreement: RankAgreement) -> go.Figure:
    """The runs' pairwise Spearman rank correlation of pair values, -1 to 1, each cell labelled."""
    names = [plot_text(n) for n in agreement.names]
    rho = agreement.rho
    text = [["" if np.isnan(v) else f"{v:.2f}" for v in row] for row in rho]
    counts = agreement.n_pairs.astype(int)
    fig = go.Figure(
        go.Heatmap(
            z=rho,
            x=names,
            y=names,
            zmin=-1.0,
            zmax=1.0,
            zmid=0.0,
            colorscale=DIVERGING,
            text=text,
            texttemplate="%{text}",
            customdata=counts,
            hovertemplate="%{y} vs %{x}<br>Spearman ρ %{z:.3f} over %{customdata} pairs<extra></extra>",
            colorbar={"title": {"text": "Spearman ρ (no unit)", "side": "right"}},
            xgap=1,
            ygap=1,
        )
    )
    mean = agreement.mean
    caption = (
        "rank correlation of the pair values of every two runs (Spearman 1904); "
        + (f"mean {mean:.2f}" if np.isfinite(mean) else "mean undefined")
    )
    fig.update_layout(
        title={
            "text": "Rank agreement of the runs' pairs",
            "x": 0.0,
            "xanchor": "left",
            "subtitle": {"text": _grey(caption)},
        },
        height=max(320, 160 + 48 * len(names)),
        margin={"l": 10, "r": 10, "t": 76 + LINE_PX, "b": 10},
        template="plotly_white",
    )
    fig.update_xaxes(tickangle=-30, automargin=True, showgrid=False)
    fig.update_yaxes(autorange="reversed", automargin=True, showgrid=False)
    return fig


def stability_figure(stability: Stability, order: str = "given") -> go.Figure:
    """The mean map over seeds (one colour scale), unstable cells crossed, mean ± std on hover."""
    matrix = stability.as_matrix().ordered(order)
    fig = heatmap_figure(matrix)
    unstable = np.array(matrix.extra["unstable"], dtype=bool)
    std = np.array(matrix.extra["std"], dtype=float)
    ii, jj = np.nonzero(unstable)
    names = list(matrix.fields)
    unit = f" {stability.unit}" if stability.unit else ""
    fig.add_trace(
        go.Scatter(
            x=[names[j] for j in jj],
            y=[names[i] for i in ii],
            mode="markers",
            marker={"symbol": "x-thin", "size": 14, "line": {"width": 2, "color": UNSTABLE_MARK}},
            text=[
                f"{plot_text(names[i])} × {plot_text(names[j])}: "
                f"{matrix.values[i, j]:.3g} ± {std[i, j]:.3g}{html.escape(unit)}"
                for i, j in zip(ii, jj, strict=True)
            ],
            hovertemplate="%{text}<br>unstable across seeds<extra></extra>",
            name="unstable across seeds",
            showlegend=False,
        )
    )
    title = fig.layout.title.to_plotly_json()
    lines = [title["subtitle"]["text"], _grey(stability.summary() + " Crossed cells are unstable.")]
    fig.update_layout(
        title={**title, "subtitle": {"text": "<br>".join(lines)}},
        height=fig.layout.height + LINE_PX,
        margin={"t": fig.layout.margin.t + LINE_PX},
    )
    return fig
