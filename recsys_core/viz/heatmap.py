"""Plotly heatmap of an interaction matrix: field names on both axes, values on hover, a colour bar."""

from __future__ import annotations

import html
import textwrap
from typing import Any

import numpy as np
import plotly.graph_objects as go

from recsys_core.analysis.matrix import InteractionMatrix
from recsys_core.training.health import warning_of
from recsys_core.viz.text import plot_text

SEQUENTIAL = "Blues"
DIVERGING = "RdBu_r"
WARNING_COLOUR = "#b00020"


def health_lines(*results: Any, width: int = 100) -> list[str]:
    """The warning of a run that did not learn (``training.health.mark``), as red subtitle lines
    for a figure of any of ``results`` — a map of such a model shows noise, and must say so
    wherever it is drawn or exported. Empty when none of them carries a warning."""
    text = next((w for w in map(warning_of, results) if w), None)
    if text is None:
        return []
    return [
        f"<span style='color:{WARNING_COLOUR}'>{html.escape(line)}</span>"
        for line in textwrap.wrap("⚠ " + text, width)
    ]


def group_blocks(matrix: InteractionMatrix) -> list[tuple[int, int, str]]:
    """``(start, stop, group)`` of each run of consecutive fields of one group (more than one field)."""
    blocks, start = [], 0
    groups = [matrix.group_of(f) for f in matrix.fields]
    for i in range(1, len(groups) + 1):
        if i == len(groups) or groups[i] != groups[start]:
            if i - start > 1:
                blocks.append((start, i, groups[start]))
            start = i
    return blocks


# The names come from ``text`` (``cell_names``), escaped: Plotly reads tags in hover text, and a
# field named "<a href=...>" would otherwise be a link there.
HOVER = "%{text}<br>value %{z:.4g}<br>%{customdata}<extra></extra>"


def cell_names(matrix: InteractionMatrix) -> list[list[str]]:
    """Hover text per cell naming its row and column field, escaped for Plotly (``plot_text``)."""
    names = [plot_text(f) for f in matrix.fields]
    return [[f"row <b>{a}</b><br>column <b>{b}</b>" for b in names] for a in names]


def tick_labels(names: list[str]) -> dict[str, Any]:
    """Axis settings that show category ``names`` as text (escaped tick labels, the categories
    themselves unchanged so clicks still return the field); empty when no name needs it."""
    shown = [plot_text(n) for n in names]
    return {} if shown == names else {"tickmode": "array", "tickvals": names, "ticktext": shown}


def cell_notes(matrix: InteractionMatrix) -> list[list[str]]:
    """Hover note per cell: within-group cells measure redundancy rather than interaction."""
    names = list(matrix.fields)
    same = matrix.within_group()
    return [
        [
            f"within group '{plot_text(matrix.group_of(a))}': redundancy rather than interaction"
            if same[i, j]
            else "across groups"
            for j, _ in enumerate(names)
        ]
        for i, a in enumerate(names)
    ]


def outline_group_blocks(fig: go.Figure, matrix: InteractionMatrix, **subplot: int) -> None:
    """Outline each run of fields of one group on the diagonal (``row``/``col``: a subplot)."""
    for start, stop, group in group_blocks(matrix):
        fig.add_shape(
            type="rect",
            x0=start - 0.5,
            x1=stop - 0.5,
            y0=start - 0.5,
            y1=stop - 0.5,
            line={"color": "#333333", "width": 2},
            fillcolor="rgba(0,0,0,0)",
            name=f"group {group}",
            **subplot,
        )


def heatmap_figure(
    matrix: InteractionMatrix,
    height: int | None = None,
    outline_groups: bool = True,
    zmax: float | None = None,
    clickable: bool = False,
) -> go.Figure:
    """The matrix as a heatmap; signed matrices get a diverging scale centred at zero.

    ``zmax`` fixes the top of the colour scale (the bottom too, mirrored, for signed matrices), so
    several figures side by side share one scale. ``clickable`` overlays a transparent marker on
    every cell centre carrying the hover text: Plotly heatmaps emit no selection events in
    Streamlit, scatter points do (``st.plotly_chart(on_select="rerun")`` then returns the cell).

    Runs of fields of one group (user | movie | context) are outlined on the diagonal, and the hover
    text flags within-group cells as redundancy rather than interaction.
    """
    z = matrix.values
    names = list(matrix.fields)
    n = len(names)
    finite = z[np.isfinite(z)]
    note = cell_notes(matrix)
    label = cell_names(matrix)
    heat = go.Heatmap(
        z=z,
        x=names,
        y=names,
        colorscale=DIVERGING if matrix.signed else SEQUENTIAL,
        zmid=0.0 if matrix.signed else None,
        zmin=(-zmax if zmax is not None else None)
        if matrix.signed
        else (None if finite.size == 0 else 0.0),
        zmax=zmax,
        hovertemplate=HOVER,
        customdata=note,
        text=label,
        hoverongaps=False,
        colorbar={"title": {"text": "strength", "side": "right"}},
        xgap=1,
        ygap=1,
    )
    fig = go.Figure(heat)
    if clickable:
        ii, jj = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        keep = np.isfinite(z).ravel()
        fig.data[0].hoverinfo = "skip"
        fig.add_trace(
            go.Scatter(
                x=[names[j] for j in jj.ravel()[keep]],
                y=[names[i] for i in ii.ravel()[keep]],
                mode="markers",
                marker={"size": 28, "opacity": 0.0, "symbol": "square"},
                customdata=[
                    [z[i, j], note[i][j]]
                    for i, j in zip(ii.ravel()[keep], jj.ravel()[keep], strict=True)
                ],
                text=[label[i][j] for i, j in zip(ii.ravel()[keep], jj.ravel()[keep], strict=True)],
                hovertemplate="%{text}<br>value %{customdata[0]:.4g}<br>%{customdata[1]}"
                "<extra>click for the pair</extra>",
                showlegend=False,
                name="cells",
            )
        )
    if outline_groups:
        outline_group_blocks(fig, matrix)
    warning = health_lines(matrix)
    fig.update_layout(
        title={
            "text": plot_text(matrix.title),
            "x": 0.0,
            "xanchor": "left",
            **({"subtitle": {"text": "<br>".join(warning)}} if warning else {}),
        },
        height=(height or max(420, 140 + 34 * n)) + 16 * len(warning),
        margin={"l": 10, "r": 10, "t": 60 + 16 * len(warning), "b": 10},
        template="plotly_white",
        plot_bgcolor="#eeeeee",
    )
    font = {"size": 12 if n <= 15 else 10}  # 20+ fields stay readable
    ticks = tick_labels(names)
    fig.update_xaxes(tickangle=-40, side="bottom", automargin=True, showgrid=False, tickfont=font,
                     **ticks)  # fmt: skip
    fig.update_yaxes(autorange="reversed", automargin=True, showgrid=False, tickfont=font, **ticks)
    return fig
