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


VERDICT_COLOURS = {"above": "#1b5e20", "none": "#555555"}
VEIL = "rgba(255,255,255,0.72)"  # over the cells within the noise floor
LINE_PX = 20  # height of one subtitle line (caption, verdict, warning) in the top margin


def colour_title(matrix: Any) -> str:
    """What the colour bar measures, with its unit: the result's ``extra["quantity"]`` and
    ``extra["unit"]`` (set by the analysis: "sqrt(TII)" in "rating", "attention weight"), else
    the part of the title after its colon ("mean |<e_i, e_j>|"). Never the vague "strength"."""
    extra = getattr(matrix, "extra", {}) or {}
    quantity = extra.get("quantity")
    if not quantity:
        title = str(getattr(matrix, "title", "") or "")
        quantity = title.split(": ", 1)[1] if ": " in title else "value"
    unit = extra.get("unit")
    return f"{quantity} ({unit})" if unit else str(quantity)


def axis_titles(matrix: InteractionMatrix) -> tuple[str, str]:
    """(row axis title, column axis title): what a row and a column are. Directed maps say it in
    ``extra["orientation"]`` ("row: query field; column: key field"); a symmetric map says so."""
    orientation = str(matrix.extra.get("orientation") or "")
    if orientation.startswith("row:") and "; column:" in orientation:
        row, column = orientation.removeprefix("row:").split("; column:", 1)
        return row.strip(), column.strip()
    values = np.asarray(matrix.values, dtype=float)
    if values.size and np.allclose(values, values.T, equal_nan=True):
        return "field i", "field j (symmetric: cell i, j = cell j, i)"
    return "field (row)", "field (column)"


def caption_text(matrix: Any) -> str:
    """One line that travels with every figure: run id, view, data and tier (the analysis kind)."""
    extra = getattr(matrix, "extra", {}) or {}
    view = extra.get("view") or getattr(matrix, "method", "")
    where = "".join(
        f", {name} {int(extra[name]) + 1}"
        for name in ("layer", "head")
        if extra.get(name) is not None
    )
    n = int(getattr(matrix, "n_rows", 0) or 0)
    if extra.get("row_index") is not None:
        data = f"held-out row {int(extra['row_index'])}"
    elif n:
        data = f"{n:,} held-out rows"
    else:
        data = "weights only, no data"
    parts = [f"run {extra['run_id']}" if extra.get("run_id") else None, f"{view}{where}", data,
             f"tier: {getattr(matrix, 'kind', '')}"]  # fmt: skip
    return " · ".join(p for p in parts if p)


def verdict_lines(matrix: Any, width: int = 110) -> list[str]:
    """The map's verdict (``analysis.noise``) and what the pale cells mean, as subtitle lines;
    empty for a map without a floor (weights-only views)."""
    from recsys_core.analysis.noise import verdict_line

    verdict = verdict_line(matrix)
    if not verdict:
        return []
    noise = matrix.extra["noise"]
    unit = f" {noise['unit']}" if noise.get("unit") else ""
    colour = VERDICT_COLOURS["above" if noise.get("n_above") and not warning_of(matrix) else "none"]
    lines = [
        f"<span style='color:{colour}'><b>{html.escape(line)}</b></span>"
        for line in textwrap.wrap(verdict[:1].upper() + verdict[1:], width)
    ]
    lines.append(
        f"<span style='color:#555555'>noise floor {noise['floor']:.3g}{html.escape(unit)} "
        f"({html.escape(str(noise.get('statistic', 'value')))} vs references); pale cells are "
        "within it</span>"
    )
    return lines


def subtitle_lines(matrix: Any) -> list[str]:
    """Caption, verdict and (for a run that did not learn) the health warning of a figure."""
    caption = f"<span style='color:#555555'>{html.escape(caption_text(matrix))}</span>"
    return [caption, *verdict_lines(matrix), *health_lines(matrix)]


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
    """Hover note per cell: within-group cells measure redundancy rather than interaction; with a
    noise floor, whether the cell is above it."""
    from recsys_core.analysis.noise import above_mask

    names = list(matrix.fields)
    same = matrix.within_group()
    above = above_mask(matrix)
    floor = matrix.extra.get("noise", {}).get("floor") if above is not None else None

    def noise(i: int, j: int) -> str:
        if above is None:
            return ""
        return "<br>" + ("above" if above[i, j] else "within") + f" the noise floor ({floor:.3g})"

    return [
        [
            (
                f"within group '{plot_text(matrix.group_of(a))}': redundancy rather than interaction"
                if same[i, j]
                else "across groups"
            )
            + noise(i, j)
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
        colorbar={"title": {"text": plot_text(colour_title(matrix)), "side": "right"}},
        xgap=1,
        ygap=1,
    )
    fig = go.Figure(heat)
    from recsys_core.analysis.noise import above_mask

    above = above_mask(matrix)
    if above is not None and above.shape == z.shape:  # cells within the noise floor: pale
        veil = np.where(np.isfinite(z) & ~above, 1.0, np.nan)
        fig.add_trace(
            go.Heatmap(
                z=veil,
                x=names,
                y=names,
                colorscale=[[0.0, VEIL], [1.0, VEIL]],
                showscale=False,
                hoverinfo="skip",
                xgap=1,
                ygap=1,
                name="within the noise floor",
            )
        )
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
    lines = subtitle_lines(matrix)  # caption, verdict, warning: they travel with every export
    fig.update_layout(
        title={
            "text": plot_text(matrix.title),
            "x": 0.0,
            "xanchor": "left",
            "subtitle": {"text": "<br>".join(lines)},
        },
        height=(height or max(420, 140 + 34 * n)) + LINE_PX * len(lines),
        margin={"l": 10, "r": 10, "t": 76 + LINE_PX * len(lines), "b": 10},
        template="plotly_white",
        plot_bgcolor="#eeeeee",
    )
    font = {"size": 12 if n <= 15 else 10}  # 20+ fields stay readable
    ticks = tick_labels(names)
    row_title, column_title = axis_titles(matrix)
    fig.update_xaxes(tickangle=-40, side="bottom", automargin=True, showgrid=False, tickfont=font,
                     title={"text": plot_text(column_title), "font": {"size": 12}}, **ticks)  # fmt: skip
    fig.update_yaxes(autorange="reversed", automargin=True, showgrid=False, tickfont=font,
                     title={"text": plot_text(row_title), "font": {"size": 12}}, **ticks)  # fmt: skip
    return fig
