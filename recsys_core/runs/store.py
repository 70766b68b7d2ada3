"""The run store: one folder per trained run, written atomically, reopened without retraining.

Layout of ``<root>/<run_id>/``: ``run.json`` (config, metrics, history), ``model.keras``,
``preprocessor.json`` and ``holdout.parquet`` (held-out rows for analysis). A run is written into a
hidden temporary folder and renamed into place, so readers never see a half-written run.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import pandas as pd

from recsys_core import _backend  # noqa: F401
from recsys_core.errors import RunStoreError
from recsys_core.features.preprocessing import Preprocessor
from recsys_core.training.pipeline import RunConfig, TrainedRun

RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
FILES = ("run.json", "model.keras", "preprocessor.json", "holdout.parquet")


def default_runs_dir() -> Path:
    """``$RECSYS_CORE_RUNS`` or ``./runs``."""
    return Path(os.environ.get("RECSYS_CORE_RUNS", "runs"))


@dataclass
class SavedRun:
    """A run read back from the store; the model is loaded on first use."""

    run_id: str
    path: Path
    meta: dict[str, Any]
    _model: keras.Model | None = None
    _pre: Preprocessor | None = None

    @property
    def config(self) -> RunConfig:
        return RunConfig.from_dict(self.meta["config"])

    @property
    def model(self) -> keras.Model:
        if self._model is None:
            try:
                self._model = keras.saving.load_model(self.path / "model.keras", safe_mode=True)
            except Exception as exc:  # Keras raises many types for a damaged archive
                raise RunStoreError(
                    f"run {self.run_id!r}: model.keras cannot be loaded ({exc})."
                ) from exc
        return self._model

    @property
    def preprocessor(self) -> Preprocessor:
        if self._pre is None:
            self._pre = Preprocessor.from_dict(
                _read_json(self.path / "preprocessor.json", self.run_id)
            )
        return self._pre

    def holdout(self) -> pd.DataFrame:
        try:
            return pd.read_parquet(self.path / "holdout.parquet")
        except Exception as exc:
            raise RunStoreError(
                f"run {self.run_id!r}: holdout.parquet cannot be read ({exc})."
            ) from exc


def _read_json(path: Path, run_id: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunStoreError(f"run {run_id!r} is incomplete: {path.name} is missing.") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RunStoreError(f"run {run_id!r}: {path.name} is corrupted ({exc}).") from exc
    if not isinstance(data, dict):
        raise RunStoreError(f"run {run_id!r}: {path.name} does not hold a JSON object.")
    return data


class RunStore:
    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_runs_dir()

    def path_of(self, run_id: str) -> Path:
        """The folder of ``run_id``; ids that could escape the store are rejected."""
        if not isinstance(run_id, str) or not RUN_ID.match(run_id) or run_id in (".", ".."):
            raise RunStoreError(
                f"invalid run id {run_id!r}: use letters, digits, '.', '_' and '-' (no path separators)."
            )
        root = self.root.resolve()
        path = (root / run_id).resolve()
        if path.parent != root:
            raise RunStoreError(f"run id {run_id!r} points outside the run store {root}.")
        return path

    def new_id(self, model: str) -> str:
        return f"{model}-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"

    def save(self, run: TrainedRun, run_id: str | None = None) -> SavedRun:
        """Write ``run`` atomically and return it as stored."""
        run_id = run_id or self.new_id(run.config.model)
        final = self.path_of(run_id)
        if final.exists():
            raise RunStoreError(f"run {run_id!r} already exists in {self.root}.")
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{run_id}-", dir=self.root))
        meta = {
            "run_id": run_id,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "model": run.config.model,
            "task": run.config.task,
            "dataset": run.config.dataset,
            "data_source": run.data_source,
            "fields": run.model.field_names,
            "params": run.params,
            "train_seconds": run.train_seconds,
            "test": run.test_metrics,
            "history": run.history.epochs,
            "best_epoch": run.history.best_epoch,
            "stopped_early": run.history.stopped_early,
            "compile_seconds": run.history.compile_seconds,
            "config": run.config.to_dict(),
        }
        try:
            run.model.save(tmp / "model.keras")
            (tmp / "preprocessor.json").write_text(
                json.dumps(run.preprocessor.to_dict()), encoding="utf-8"
            )
            run.holdout.to_parquet(tmp / "holdout.parquet", index=False)
            # run.json last: its presence marks the folder complete.
            (tmp / "run.json").write_text(
                json.dumps(meta, indent=1, default=float), encoding="utf-8"
            )
            os.replace(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return SavedRun(run_id, final, meta, run.model, run.preprocessor)

    def open(self, run_id: str) -> SavedRun:
        path = self.path_of(run_id)
        if not path.is_dir():
            raise RunStoreError(f"no run {run_id!r} in {self.root}.")
        meta = _read_json(path / "run.json", run_id)
        for name in ("model", "config", "test", "fields"):
            if name not in meta:
                raise RunStoreError(
                    f"run {run_id!r}: run.json lacks {name!r}; the run is corrupted."
                )
        if not zipfile.is_zipfile(path / "model.keras"):
            raise RunStoreError(f"run {run_id!r}: model.keras is missing or not a Keras archive.")
        return SavedRun(run_id, path, meta)

    def list(self) -> pd.DataFrame:
        """One row per complete run, newest first; unreadable runs are listed with their error."""
        rows = []
        if self.root.is_dir():
            for path in self.root.iterdir():
                if path.name.startswith(".") or not path.is_dir() or not RUN_ID.match(path.name):
                    continue
                try:
                    meta = _read_json(path / "run.json", path.name)
                except RunStoreError as exc:
                    rows.append({"run_id": path.name, "error": str(exc)})
                    continue
                rows.append(
                    {
                        "run_id": path.name,
                        "created": meta.get("created"),
                        "model": meta.get("model"),
                        "task": meta.get("task"),
                        "dataset": meta.get("dataset"),
                        **{f"test_{k}": v for k, v in meta.get("test", {}).items()},
                        "params": meta.get("params"),
                        "train_seconds": meta.get("train_seconds"),
                        "epochs": len(meta.get("history", [])),
                    }
                )
        frame = pd.DataFrame(rows)
        if not frame.empty and "created" in frame:
            frame = frame.sort_values("created", ascending=False, na_position="last").reset_index(
                drop=True
            )
        return frame

    def delete(self, run_id: str) -> None:
        path = self.path_of(run_id)
        if not path.is_dir():
            raise RunStoreError(f"no run {run_id!r} in {self.root}.")
        # Rename first so the run vanishes from listings at once, then remove it.
        doomed = self.root / f".deleting-{run_id}-{secrets.token_hex(2)}"
        os.replace(path, doomed)
        shutil.rmtree(doomed, ignore_errors=True)
