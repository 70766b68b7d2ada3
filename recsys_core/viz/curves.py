"""Training curves: loss and validation metric per epoch."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from recsys_core.viz.text import plot_text


def training_curves_figure(
    epochs: list[dict[str, Any]], height: int | None = None, stacked: bool = False
) -> go.Figure:
    """Training loss (left, or on top when ``stacked`` for a narrow column) and each validation
    metric (right, or below) against the epoch."""
    val_keys = sorted({k for row in epochs for k in row if k.startswith("val_")})
    rows, cols = (2, 1) if stacked else (1, 2)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=("training loss", "validation"),
                        vertical_spacing=0.18)  # fmt: skip
    x = [row["epoch"] for row in epochs]
    fig.add_trace(
        go.Scatter(
            x=x, y=[row.get("loss") for row in epochs], name="train loss", mode="lines+markers"
        ),
        1,
        1,
    )
    for key in val_keys:
        y = [row.get(key) for row in epochs]
        fig.add_trace(
            go.Scatter(x=x, y=y, name=plot_text(key.removeprefix("val_")), mode="lines+markers"),
            rows,
            cols,
        )
    fig.update_layout(
        height=height or (440 if stacked else 320),
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        template="plotly_white",
    )
    if stacked:  # the legend under the plots, not beside them in a narrow column
        fig.update_layout(legend={"orientation": "h", "y": -0.15, "x": 0})
    fig.update_xaxes(dtick=1 if len(x) <= 20 else None)
    for row, col in ([(2, 1)] if stacked else [(1, 1), (1, 2)]):  # stacked: one axis title, below
        fig.update_xaxes(title_text="epoch", row=row, col=col)
    return fig
