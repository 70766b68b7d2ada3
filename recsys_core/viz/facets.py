"""A grid of interaction heatmaps (for example every attention layer x head) on one colour scale."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from recsys_core.analysis.matrix import InteractionMatrix
from recsys_core.viz.heatmap import (
    DIVERGING,
    HOVER,
    SEQUENTIAL,
    cell_names,
    cell_notes,
    colour_title,
    health_lines,
    outline_group_blocks,
    tick_labels,
)
from recsys_core.viz.text import plot_text

COLORAXIS = "coloraxis"


def shared_range(matrices: Sequence[InteractionMatrix]) -> tuple[float, float]:
    """``(cmin, cmax)`` of one scale for all matrices: symmetric about 0 when any is signed."""
    finite = np.concatenate([m.values[np.isfinite(m.values)].ravel() for m in matrices])
    top = float(np.abs(finite).max()) if finite.size else 1.0
    top = top or 1.0
    if any(m.signed for m in matrices):
        return -top, top
    return 0.0, top


def facet_figure(
    matrices: Sequence[InteractionMatrix],
    titles: Sequence[str] | None = None,
    cols: int | None = None,
    title: str | None = None,
    height: int | None = None,
    outline_groups: bool = True,
    colorbar_title: str | None = None,
) -> go.Figure:
    """The matrices as a grid of heatmaps sharing ONE colour scale (``layout.coloraxis``).

    ``titles``: one per facet (default: each matrix's title); ``cols``: facets per row (default
    about the square root of their number; pass the head count for a layer x head grid). When every
    matrix has the same fields the axes are shared: field names appear on the left column and the
    bottom row only, so large grids stay readable. Hover text and group outlines are those of the
    single heatmap (``viz.heatmap``); the colour bar names the first matrix's quantity and unit
    (``colour_title``) unless ``colorbar_title`` is given.
    """
    matrices = list(matrices)
    if not matrices:
        raise ValueError("facet_figure needs at least one matrix.")
    titles = [m.title for m in matrices] if titles is None else [str(t) for t in titles]
    if len(titles) != len(matrices):
        raise ValueError(f"{len(titles)} titles for {len(matrices)} matrices.")
    n = len(matrices)
    cols = max(1, min(n, int(cols) if cols else math.ceil(math.sqrt(n))))
    rows = math.ceil(n / cols)
    same_fields = all(list(m.fields) == list(matrices[0].fields) for m in matrices)
    n_fields = max(len(m.fields) for m in matrices)
    height = height or max(360, rows * (150 + 18 * n_fields) + 80)
    # room for the facet titles (and, with separate axes, each facet's x labels)
    gap = 60 if same_fields else 60 + 7 * max(len(f) for m in matrices for f in m.fields)
    fig = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=[plot_text(t) for t in titles],
        shared_xaxes=same_fields,
        shared_yaxes=same_fields,
        horizontal_spacing=0.02 if same_fields else 0.12 / cols,
        vertical_spacing=min(gap / height, 0.5 / rows) if rows > 1 else 0.0,
    )
    cmin, cmax = shared_range(matrices)
    signed = any(m.signed for m in matrices)
    warning = health_lines(*matrices)  # maps of a run that did not learn say so
    heading = (
        {"text": plot_text(title or ""), "x": 0.0, "xanchor": "left"} if title or warning else None
    )
    if heading is not None and warning:
        heading["subtitle"] = {"text": "<br>".join(warning)}
    for k, matrix in enumerate(matrices):
        row, col = k // cols + 1, k % cols + 1
        names = list(matrix.fields)
        fig.add_trace(
            go.Heatmap(
                z=matrix.values,
                x=names,
                y=names,
                coloraxis=COLORAXIS,
                hovertemplate=HOVER,
                customdata=cell_notes(matrix),
                text=cell_names(matrix),
                hoverongaps=False,
                xgap=1,
                ygap=1,
                name=titles[k],
            ),
            row=row,
            col=col,
        )
        if outline_groups:
            outline_group_blocks(fig, matrix, row=row, col=col)
        ticks = tick_labels(names)  # names that hold <, > or & show as text
        if ticks:
            fig.update_xaxes(**ticks, row=row, col=col)
            fig.update_yaxes(**ticks, row=row, col=col)
    fig.update_layout(
        coloraxis={
            "colorscale": DIVERGING if signed else SEQUENTIAL,
            "cmin": cmin,
            "cmax": cmax,
            "colorbar": {
                "title": {
                    "text": plot_text(colorbar_title or colour_title(matrices[0])),
                    "side": "right",
                }
            },
        },
        title=heading,
        height=height + 16 * len(warning),
        margin={"l": 10, "r": 10, "t": (70 if title else 40) + 16 * len(warning), "b": 10},
        template="plotly_white",
        plot_bgcolor="#eeeeee",
    )
    fig.update_annotations(font_size=12)  # the facet titles
    font = {"size": 11 if n_fields <= 12 else 9}
    fig.update_xaxes(tickangle=-45, automargin=True, showgrid=False, tickfont=font)
    fig.update_yaxes(autorange="reversed", automargin=True, showgrid=False, tickfont=font)
    if same_fields:  # names on the left column and the bottom row only
        for k in range(n):
            row, col = k // cols + 1, k % cols + 1
            below = k + cols < n
            fig.update_xaxes(showticklabels=not below, row=row, col=col)
            fig.update_yaxes(showticklabels=col == 1, row=row, col=col)
    return fig
