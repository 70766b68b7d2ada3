"""Plotly bars of per-field scores (``FieldScores``): one horizontal bar per field, coloured by group."""

from __future__ import annotations

import textwrap

import numpy as np
import plotly.graph_objects as go

from recsys_core.analysis.matrix import GROUP_RANK
from recsys_core.analysis.native.base import FieldScores
from recsys_core.viz.heatmap import health_lines, tick_labels
from recsys_core.viz.text import plot_text

GROUP_COLOURS = {
    "user": "#1f77b4",
    "movie": "#ff7f0e",
    "item": "#ff7f0e",
    "context": "#2ca02c",
}
OTHER_COLOUR = "#7f7f7f"


def group_colour(group: str) -> str:
    return GROUP_COLOURS.get(group, OTHER_COLOUR)


def wrapped(text: str, width: int = 100) -> list[str]:
    """``text`` in lines of at most ``width`` characters (Plotly titles do not wrap)."""
    return textwrap.wrap(text, width) or [""]


def bars_figure(scores: FieldScores, height: int | None = None, sort: bool = False) -> go.Figure:
    """One horizontal bar per field, first field on top (``sort``: largest |value| on top).

    Field names sit on the vertical axis, so 20 and more fields stay readable (the figure grows
    with the number of fields); bars are coloured by group (user | movie | context) with a legend,
    the title carries the description as its subtitle, and hovering shows field, value and group.
    """
    values = np.asarray(scores.values, dtype=float)
    names = list(scores.fields)
    groups = [scores.groups.get(f, "context") for f in names]
    order = list(range(len(names)))
    if sort:
        key = np.where(np.isnan(values), -np.inf, np.abs(values))
        order = sorted(order, key=lambda i: (-key[i], i))
    category = [names[i] for i in order]
    described = [plot_text(line) for line in wrapped(scores.description)]
    subtitle = health_lines(scores) + described  # a run that did not learn: first
    fig = go.Figure()
    for group in sorted(set(groups), key=lambda g: (GROUP_RANK.get(g, 3), g)):
        members = [i for i in order if groups[i] == group]
        fig.add_trace(
            go.Bar(
                x=values[members],
                y=[names[i] for i in members],
                orientation="h",
                name=plot_text(group),
                marker={"color": group_colour(group)},
                customdata=[plot_text(group)] * len(members),
                text=[plot_text(names[i]) for i in members],  # Plotly reads tags: names escaped
                textposition="none",  # the names are for the hover text only
                hovertemplate="<b>%{text}</b><br>value %{x:.4g}<br>group %{customdata}"
                "<extra></extra>",
            )
        )
    fig.update_layout(
        title={
            "text": plot_text(scores.title),
            "subtitle": {"text": "<br>".join(subtitle)},
            "x": 0.0,
            "xanchor": "left",
        },
        height=height or max(320, 130 + 16 * len(subtitle) + 24 * len(names)),
        margin={"l": 10, "r": 10, "t": 70 + 16 * len(subtitle), "b": 10},
        template="plotly_white",
        barmode="overlay",
        bargap=0.25,
        legend={"title": {"text": "group"}},
        showlegend=len(set(groups)) > 1,
    )
    fig.update_yaxes(
        categoryorder="array",
        categoryarray=category,
        autorange="reversed",
        automargin=True,
        tickfont={"size": 12},
        **tick_labels(category),
    )
    fig.update_xaxes(
        title={"text": "signed score" if scores.signed else "score"},
        zeroline=True,
        zerolinecolor="#333333",
        automargin=True,
    )
    return fig
