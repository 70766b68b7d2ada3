"""Training curves: loss and validation metric per epoch."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots


def training_curves_figure(epochs: list[dict[str, Any]], height: int = 320) -> go.Figure:
    """Training loss (left) and each validation metric (right) against the epoch."""
    val_keys = sorted({k for row in epochs for k in row if k.startswith("val_")})
    fig = make_subplots(rows=1, cols=2, subplot_titles=("training loss", "validation"))
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
            go.Scatter(x=x, y=y, name=key.removeprefix("val_"), mode="lines+markers"), 1, 2
        )
    fig.update_layout(
        height=height, margin={"l": 10, "r": 10, "t": 40, "b": 10}, template="plotly_white"
    )
    fig.update_xaxes(title_text="epoch", dtick=1 if len(x) <= 20 else None)
    return fig
