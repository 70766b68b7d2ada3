"""Several seeds of the same configuration, summarised as mean ± std, and leaderboards of models."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd

from recsys_core.training.pipeline import RunConfig, TrainedRun, train_run


def run_trials(
    config: RunConfig,
    seeds: Iterable[int],
    table: pd.DataFrame | None = None,
    on_run: Callable[[int, TrainedRun], None] | None = None,
) -> list[TrainedRun]:
    """Train ``config`` once per seed (the seed sets initialisation and shuffling; the split stays fixed)."""
    runs = []
    for seed in seeds:
        cfg = dataclasses.replace(config, train=dataclasses.replace(config.train, seed=int(seed)))
        run = train_run(cfg, table=table)
        runs.append(run)
        if on_run is not None:
            on_run(seed, run)
    return runs


def summarize(runs: list[TrainedRun]) -> dict[str, float]:
    """Mean and standard deviation of every test metric, parameter count and training time."""
    out: dict[str, float] = {"trials": len(runs), "params": runs[0].params}
    for key in runs[0].test_metrics:
        values = np.array([r.test_metrics[key] for r in runs])
        out[f"{key}_mean"], out[f"{key}_std"] = float(values.mean()), float(values.std())
    secs = np.array([r.train_seconds for r in runs])
    out["train_seconds_mean"] = float(secs.mean())
    return out


def leaderboard_markdown(frame: pd.DataFrame) -> str:
    """A leaderboard as a Markdown table, metrics as mean ± std."""
    metrics = sorted(
        {
            c[: -len("_mean")]
            for c in frame.columns
            if c.endswith("_mean") and c != "train_seconds_mean"
        }
    )
    header = ["model", *metrics, "params", "train s", "trials"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for _, row in frame.iterrows():
        cells = [str(row["model"])]
        if int(row["trials"]) > 1:
            cells += [f"{row[f'{m}_mean']:.4f} ± {row[f'{m}_std']:.4f}" for m in metrics]
        else:
            cells += [f"{row[f'{m}_mean']:.4f}" for m in metrics]
        cells += [
            f"{int(row['params']):,}",
            f"{row['train_seconds_mean']:.1f}",
            str(int(row["trials"])),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
