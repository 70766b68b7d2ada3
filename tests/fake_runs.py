"""Many runs without training many: copies of one trained run whose run.json says otherwise.

The browser, the comparisons and pagination read only run.json (and the annotations sidecar), so a
copy of the session's trained run with another id, date, model, task, settings, metrics and curve
stands for a run trained that way; its model.keras stays the original's (never loaded here).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any


def fake_run(
    source: Path,
    root: Path,
    run_id: str,
    *,
    created: str = "2026-01-01T00:00:00+0000",
    model: str | None = None,
    task: str | None = None,
    hparams: dict[str, Any] | None = None,
    train: dict[str, Any] | None = None,
    test: dict[str, float] | None = None,
    losses: list[float] | None = None,
    health: str | None = None,
) -> Path:
    """A copy of the run folder ``source`` as ``root/run_id`` with run.json changed as given."""
    path = Path(root) / run_id
    shutil.copytree(source, path, ignore=shutil.ignore_patterns("analyses", "annotations.json"))
    meta = json.loads((path / "run.json").read_text())
    meta["run_id"], meta["created"] = run_id, created
    if model is not None and model != meta["model"]:  # that model's own hyper-parameters
        from recsys_core.models.registry import resolve_hparams

        meta["model"] = meta["config"]["model"] = model
        meta["config"]["hparams"] = resolve_hparams(model)
    if task is not None:
        meta["task"] = meta["config"]["task"] = task
    if hparams is not None:
        meta["config"]["hparams"] = {**meta["config"]["hparams"], **hparams}
    if train is not None:
        meta["config"]["train"] = {**meta["config"]["train"], **train}
    if test is not None:
        meta["test"] = test
    if losses is not None:
        meta["history"] = [
            {"epoch": k + 1, "loss": loss, "seconds": 0.1, "val_rmse": loss / 2}
            for k, loss in enumerate(losses)
        ]
        meta["best_epoch"] = len(losses)
    if health is not None:
        meta["health"] = {**(meta.get("health") or {}), "status": health}
    (path / "run.json").write_text(json.dumps(meta))
    return path
