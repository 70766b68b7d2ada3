"""What the dashboard pages share: the run store, the job queue and cached analyses.

Pages only lay out what these functions return; everything here is plain ``recsys_core``.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import pandas as pd

from recsys_core.analysis.matrix import InteractionMatrix
from recsys_core.analysis.views import METHOD_TITLES, available_methods, interaction_matrix
from recsys_core.runs.store import RunStore
from recsys_core.training.jobs import JobManager


@lru_cache(maxsize=1)
def job_manager() -> JobManager:
    """One job queue per server process, shared by every session (``RECSYS_CORE_MAX_TRAININGS``)."""
    return JobManager(max_workers=int(os.environ.get("RECSYS_CORE_MAX_TRAININGS", "1")))


def store() -> RunStore:
    return job_manager().store


def runs_table() -> pd.DataFrame:
    """Saved runs with readable columns, newest first."""
    frame = store().list()
    if frame.empty:
        return frame
    if "error" in frame:
        frame = frame[frame["error"].isna()].drop(columns="error")
    cols = [c for c in ("run_id", "model", "task", "test_rmse", "test_mae", "test_auc", "test_log_loss",
                        "params", "epochs", "train_seconds", "created") if c in frame]  # fmt: skip
    return frame[cols]


@lru_cache(maxsize=64)
def _cached_matrix(run_id: str, method: str, row: int | None, mtime: float) -> InteractionMatrix:
    return interaction_matrix(store().open(run_id), method, row=row)


def run_matrix(run_id: str, method: str = "native", row: int | None = None) -> InteractionMatrix:
    """The run's matrix, computed once per run, method and row (keyed on the run folder's mtime)."""
    path = store().path_of(run_id)
    return _cached_matrix(run_id, method, row, path.stat().st_mtime if path.exists() else 0.0)


def run_methods(run_id: str) -> dict[str, str]:
    """The analysis methods the run's model supports, with their titles, native first."""
    return {m: METHOD_TITLES[m] for m in available_methods(store().open(run_id))}


def published_leaderboards() -> dict[str, pd.DataFrame]:
    """The committed MovieLens leaderboards (``docs/leaderboard-<task>.csv``), by task."""
    roots = [Path.cwd() / "docs", Path(__file__).resolve().parents[1] / "docs"]
    found: dict[str, pd.DataFrame] = {}
    for root in roots:
        for path in sorted(root.glob("leaderboard-*.csv")):
            task = path.stem.removeprefix("leaderboard-")
            if task not in found:
                found[task] = pd.read_csv(path)
    return found
