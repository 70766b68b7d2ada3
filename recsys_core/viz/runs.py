"""Figures of runs rather than maps: one run's fit and refit, many runs' curves overlaid, and
hyper-parameters against the test metric (parallel coordinates) for runs of one model."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from recsys_core.viz.curves import training_curves_figure
from recsys_core.viz.text import plot_text

COLORS = qualitative.Plotly + qualitative.D3


def run_curves_figure(
    history: list[dict[str, Any]], refit_history: list[dict[str, Any]] | None = None
) -> go.Figure:
    """The early-stopped fit's training loss and validation metrics, and, where the run recorded
    it, the refit's training loss on all training rows (dashed: it has no validation part)."""
    fig = training_curves_figure(history)
    if refit_history:
        fig.add_trace(
            go.Scatter(
                x=[r.get("epoch") for r in refit_history],
                y=[r.get("loss") for r in refit_history],
                name="refit loss (all training rows)",
                mode="lines+markers",
                line={"dash": "dash"},
            ),
            1,
            1,
        )
    return fig


def _val_key(history: list[dict[str, Any]], task: str) -> str | None:
    """The validation metric early stopping ranked by (rmse, or log loss for clicks)."""
    wanted = "val_log_loss" if task == "binary" else "val_rmse"
    keys = {k for row in history for k in row if k.startswith("val_")}
    if wanted in keys:
        return wanted
    return sorted(keys)[0] if keys else None


def overlaid_curves_figure(runs: Sequence[tuple[str, str, list[dict[str, Any]]]]) -> go.Figure:
    """Training loss (left) and the validation metric early stopping used (right) of several
    runs, one colour per run on both sides. ``runs``: (label, task, history) each."""
    keys = {_val_key(h, task) for _label, task, h in runs} - {None}
    right = " / ".join(sorted(k.removeprefix("val_") for k in keys if k)) or "metric"
    fig = make_subplots(rows=1, cols=2, subplot_titles=("training loss", f"validation {right}"))
    for k, (label, task, history) in enumerate(runs):
        color = COLORS[k % len(COLORS)]
        x = [row.get("epoch") for row in history]
        name = plot_text(label)
        fig.add_trace(
            go.Scatter(x=x, y=[row.get("loss") for row in history], name=name, legendgroup=name,
                       mode="lines+markers", line={"color": color}),
            1, 1,
        )  # fmt: skip
        key = _val_key(history, task)
        if key is not None:
            fig.add_trace(
                go.Scatter(x=x, y=[row.get(key) for row in history], name=name, legendgroup=name,
                           showlegend=False, mode="lines+markers", line={"color": color},
                           hovertemplate=f"{plot_text(key.removeprefix('val_'))} %{{y:.4f}}"
                                         "<extra>%{fullData.name}</extra>"),
                1, 2,
            )  # fmt: skip
    fig.update_layout(
        height=380,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        template="plotly_white",
        legend={"orientation": "h", "y": -0.2, "x": 0},
    )
    longest = max((len(h) for _label, _task, h in runs), default=0)
    fig.update_xaxes(title_text="epoch", dtick=1 if longest <= 20 else None)
    return fig


def _dimension(values: pd.Series, label: str) -> dict[str, Any]:
    """One parallel-coordinates axis: numbers as they are (log10 when they span two decades, or a
    rate or penalty one), anything else as categories in sorted order."""
    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.notna().all():
        positive = (numeric > 0).all()
        ratio = numeric.max() / numeric.min() if positive else 0.0
        rate = any(word in label for word in ("learning_rate", "l2", "decay"))
        if ratio >= 100 or (rate and ratio >= 10):
            return {
                "label": plot_text(f"log10 {label}"),
                "values": [math.log10(v) for v in numeric],
            }
        return {"label": plot_text(label), "values": numeric.tolist()}
    text = values.astype(str)
    levels = sorted(text.unique())
    return {
        "label": plot_text(label),
        "values": [levels.index(v) for v in text],
        "tickvals": list(range(len(levels))),
        "ticktext": [plot_text(v) for v in levels],
    }


def hparams_figure(
    frame: pd.DataFrame, settings: Sequence[str], metric: str, title: str
) -> go.Figure:
    """Parallel coordinates of ``settings`` (columns of ``frame``, one row per run) and the test
    metric in column ``metric`` (``test_rmse``; the last axis and the colour): which settings go
    with a better metric."""
    dims = [_dimension(frame[s], s) for s in settings]
    name = metric.removeprefix("test_").replace("_", " ")
    dims.append({"label": plot_text(f"test {name}"), "values": frame[metric].tolist()})
    better_low = name != "auc"
    fig = go.Figure(
        go.Parcoords(
            line={
                "color": frame[metric].tolist(),
                "colorscale": "Viridis_r" if better_low else "Viridis",
                "showscale": True,
                "colorbar": {"title": {"text": plot_text(name)}, "x": 1.08},
            },
            dimensions=dims,
        )
    )
    fig.update_layout(
        title={"text": plot_text(title)},
        height=440,
        margin={"l": 70, "r": 40, "t": 110, "b": 30},
        template="plotly_white",
    )
    return fig
