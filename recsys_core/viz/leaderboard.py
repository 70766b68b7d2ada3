"""A leaderboard as a dot plot: each model's mean test metric over seeds, ± one standard deviation."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

# metric column stem -> (axis title, lower is better)
METRICS = {
    "rmse": ("test RMSE", True),
    "mae": ("test MAE", True),
    "auc": ("test AUC", False),
    "log_loss": ("test log loss", True),
}


def leaderboard_metric(frame: pd.DataFrame) -> str:
    """The metric a leaderboard is ranked by: the first of RMSE, AUC, MAE, log loss it has."""
    for stem in ("rmse", "auc", "mae", "log_loss"):
        if f"{stem}_mean" in frame:
            return stem
    raise ValueError(f"no <metric>_mean column among {list(frame.columns)}.")


def leaderboard_figure(frame: pd.DataFrame, metric: str | None = None) -> go.Figure:
    """Models best first (top), a dot at the mean of ``metric`` with a bar of ± one standard
    deviation over the trials, on an axis fitted to the spread (bars from zero would hide it)."""
    metric = metric or leaderboard_metric(frame)
    title, lower_better = METRICS.get(metric, (metric, True))
    mean, std = frame[f"{metric}_mean"], frame.get(f"{metric}_std", pd.Series(0.0, frame.index))
    ranked = frame.assign(_mean=mean, _std=std.fillna(0.0)).sort_values(
        "_mean", ascending=lower_better
    )
    trials = ranked["trials"] if "trials" in ranked else pd.Series(1, ranked.index)
    fig = go.Figure(
        go.Scatter(
            x=ranked["_mean"],
            y=ranked["model"],
            mode="markers",
            marker={"size": 9},
            error_x={"type": "data", "array": ranked["_std"], "visible": True},
            customdata=list(zip(ranked["_std"], trials, strict=True)),
            hovertemplate=f"%{{y}}: {title} %{{x:.4f}} ± %{{customdata[0]:.4f}}"
            " (%{customdata[1]} seeds)<extra></extra>",
        )
    )
    fig.update_layout(
        height=max(260, 22 * len(ranked) + 80),
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        template="plotly_white",
        xaxis_title=f"{title} ({'lower' if lower_better else 'higher'} is better)",
    )
    fig.update_yaxes(autorange="reversed", type="category")  # best on top
    return fig
