"""What the dashboard pages share: the run store, the job queue and cached analyses.

Pages only lay out what these functions return; everything here is plain ``recsys_core``.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import pandas as pd

from recsys_core.analysis.native import NativeView, ViewResult, native_views
from recsys_core.analysis.views import METHOD_TITLES, available_methods, interaction_matrix
from recsys_core.runs.store import RunStore, SavedRun
from recsys_core.training.jobs import Job, JobManager


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


@lru_cache(maxsize=16)
def _cached_run(run_id: str, mtime: float) -> SavedRun:
    return store().open(run_id)


def _mtime(run_id: str) -> float:
    path = store().path_of(run_id)
    return path.stat().st_mtime if path.exists() else 0.0


def open_run(run_id: str) -> SavedRun:
    """The saved run with its model loaded once per server process (keyed on the folder's mtime)."""
    return _cached_run(run_id, _mtime(run_id))


@lru_cache(maxsize=128)
def _cached_matrix(
    run_id: str, method: str, row: int | None, view: str | None, layer: int | None,
    head: int | None, mtime: float,
) -> ViewResult:  # fmt: skip
    return interaction_matrix(
        _cached_run(run_id, mtime), method, row=row, view=view, layer=layer, head=head
    )


def run_matrix(
    run_id: str,
    method: str = "native",
    row: int | None = None,
    view: str | None = None,
    layer: int | None = None,
    head: int | None = None,
) -> ViewResult:
    """The run's matrix (or per-field scores), computed once per run and choice of view, layer,
    head and row (keyed on the run folder's mtime)."""
    return _cached_matrix(run_id, method, row, view, layer, head, _mtime(run_id))


def run_native_views(run_id: str) -> list[NativeView]:
    """The native views of the run's model, primary first."""
    return native_views(open_run(run_id).model)


def run_methods(run_id: str) -> dict[str, str]:
    """The analysis methods the run's model supports, with their titles, native first."""
    return {m: METHOD_TITLES[m] for m in available_methods(open_run(run_id))}


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


def submit_trust_check(
    model: str,
    table: str,
    seed: int = 0,
    n_rows: int = 20_000,
    task: str = "regression",
    owner: str = "",
) -> Job:
    """Queue a planted-interaction check (``analysis.planted_check``) in the shared job pool."""
    from functools import partial

    from recsys_core.analysis.validation import planted_check

    task = "regression" if table == "dcn" else task  # the polynomial is a regression table
    work = partial(planted_check, model, table, seed=seed, n_rows=n_rows, task=task)
    label = f"{model} on planted {table}, {task}, {n_rows:,} rows (seed {seed})"
    return job_manager().submit_call(label, work, owner)
