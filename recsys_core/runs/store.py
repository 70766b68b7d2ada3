"""The run store: one folder per trained run, written atomically, reopened without retraining.

Layout of ``<root>/<run_id>/``: ``run.json`` (config, metrics, history), ``model.keras``,
``preprocessor.json`` and ``holdout.parquet`` (held-out rows for analysis). A run is written into a
hidden temporary folder (``.tmp-<id>-*``, holding a ``.writer`` note of its host and process) and
renamed into place, so readers never see a half-written run; a deleted run is renamed to
``.deleting-*`` and then removed. A writer killed half-way leaves only such a hidden folder, which
:meth:`RunStore.sweep` (run by every :meth:`RunStore.list`) removes once its process is gone (same
host) or it is older than ``STALE_SECONDS`` (another host sharing the store). Writers that pick the
same generated id at once do not clash: the second one takes a fresh id.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import socket
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import pandas as pd

from recsys_core import _backend  # noqa: F401
from recsys_core.errors import RunStoreError, is_disk_full, storage_error
from recsys_core.features.preprocessing import Preprocessor
from recsys_core.runs import annotations as notes
from recsys_core.runs import imported
from recsys_core.runs import provenance as prov
from recsys_core.runs.validate import check_model_archive, check_run_json
from recsys_core.training.health import verdict_of_run
from recsys_core.training.pipeline import RunConfig, TrainedRun

RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
FILES = ("run.json", "model.keras", "preprocessor.json", "holdout.parquet")
WRITER = ".writer"  # in a temporary folder: which host and process is writing it
STALE_SECONDS = 3600.0  # a hidden folder this old is abandoned whoever wrote it


def _writer_note() -> str:
    return json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "started": time.time()})


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def _abandoned(path: Path, now: float) -> bool:
    """Whether a hidden ``.tmp-*`` / ``.deleting-*`` folder is left over from a writer that is gone."""
    if path.name.startswith(".deleting-"):
        return True  # already out of the store: whatever removes it first wins
    try:
        age = now - path.stat().st_mtime
    except OSError:
        return False
    if age > STALE_SECONDS:
        return True
    try:
        note = json.loads((path / WRITER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False  # no note yet (a writer between mkdtemp and its note) or another layout
    if not isinstance(note, dict) or note.get("host") != socket.gethostname():
        return False  # another machine's writer: only its age tells
    pid = note.get("pid")
    return isinstance(pid, int) and not _process_alive(pid)


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
    _pre: Preprocessor | imported.ModelInputs | None = None

    @property
    def config(self) -> RunConfig:
        return RunConfig.from_dict(self.meta["config"])

    @property
    def annotations(self) -> notes.Annotations:
        """Its name, tags and note (read afresh: people change them while the run is open)."""
        return notes.read(self.path)

    @property
    def model(self) -> keras.Model:
        if self._model is None:
            # Keras allocates every variable from the config before reading a weight: a config
            # asking for billions of rows aborts the process, so look at the archive first.
            check_model_archive(self.path / "model.keras", self.run_id)
            if imported.is_imported(self.meta):  # trained elsewhere: its class paths checked again
                imported.check_archive_classes(self.path / "model.keras", f"run {self.run_id}")
                imported._register_layers()
            try:
                self._model = keras.saving.load_model(self.path / "model.keras", safe_mode=True)
            except Exception as exc:  # Keras raises many types for a damaged archive
                reason = _without_paths(str(exc), self.path)
                raise RunStoreError(
                    f"run {self.run_id!r}: model.keras cannot be loaded ({reason})."
                ) from exc
        return self._model

    @property
    def preprocessor(self) -> Preprocessor | imported.ModelInputs:
        if self._pre is None:
            data = _read_json(self.path / "preprocessor.json", self.run_id)
            if imported.is_imported(self.meta):  # the model's own named inputs, nothing fitted
                self._pre = imported.ModelInputs.from_dict(data)
            else:
                self._pre = Preprocessor.from_dict(data)
        return self._pre

    def holdout(self) -> pd.DataFrame:
        try:
            return pd.read_parquet(self.path / "holdout.parquet")
        except Exception as exc:
            reason = _without_paths(str(exc), self.path)
            raise RunStoreError(
                f"run {self.run_id!r}: holdout.parquet cannot be read ({reason})."
            ) from exc


def _without_paths(text: str, run_path: Path) -> str:
    """``text`` with the run's folder and the store's path taken out: messages reach web pages,
    and visitors have no business knowing where the server keeps its files."""
    for path in (run_path, run_path.parent):
        for form in {str(path), str(path.resolve())}:
            text = text.replace(form + os.sep, "").replace(form, "<run store>")
    return text


def _read_json(path: Path, run_id: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunStoreError(f"run {run_id!r} is incomplete: {path.name} is missing.") from None
    except OSError as exc:  # its text names the file's full path: the reason alone
        reason = exc.strerror or type(exc).__name__
        raise RunStoreError(f"run {run_id!r}: {path.name} cannot be read ({reason}).") from exc
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
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
            raise RunStoreError(f"run id {run_id!r} points outside the run store.")
        return path

    def new_id(self, model: str) -> str:
        return f"{model}-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"

    def save(
        self, run: TrainedRun, run_id: str | None = None, provenance: dict[str, Any] | None = None
    ) -> SavedRun:
        """Write ``run`` atomically and return it as stored (a generated id that another writer
        took in the meantime is replaced by a fresh one; a given ``run_id`` that exists is an error).

        ``provenance`` (:func:`recsys_core.runs.provenance.collect`) says who trained it and with
        which code; by default the OS user, as the command line and scripts save."""
        generated = run_id is None
        run_id = run_id or self.new_id(run.config.model)
        final = self.path_of(run_id)
        while generated and final.exists():
            run_id = self.new_id(run.config.model)
            final = self.path_of(run_id)
        if final.exists():
            raise RunStoreError(f"run {run_id!r} already exists in the run store.")
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{run_id}-", dir=self.root))
        except OSError as exc:  # a full disk, a read-only store: one line, not a traceback
            raise storage_error(exc, f"run {run_id!r}", self.root) from exc
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
            "refit_epochs": run.history.refit_epochs,
            "refit_history": getattr(run.history, "refit_history", []),
            # who, where, which release and commit (runs.provenance; never fails a save)
            "provenance": provenance if provenance is not None else prov.collect(via="script"),
            # did it learn (training.health); runs saved without it read as "unknown"
            "health": run.health.to_dict() if getattr(run, "health", None) else None,
            "config": run.config.to_dict(),
        }
        try:
            (tmp / WRITER).write_text(_writer_note(), encoding="utf-8")
            run.model.save(tmp / "model.keras")
            (tmp / "preprocessor.json").write_text(
                json.dumps(run.preprocessor.to_dict()), encoding="utf-8"
            )
            run.holdout.to_parquet(tmp / "holdout.parquet", index=False)
            for _attempt in range(16):
                # run.json last: its presence marks the folder complete.
                meta["run_id"] = run_id
                (tmp / "run.json").write_text(
                    json.dumps(meta, indent=1, default=float), encoding="utf-8"
                )
                (tmp / WRITER).unlink(missing_ok=True)
                try:
                    # rename(2) will not replace a non-empty folder: a run that appeared under
                    # the same id since the check above makes this fail instead of mixing the two
                    os.rename(tmp, final)
                    break
                except OSError:
                    if not final.exists():
                        raise
                    if not generated:
                        raise RunStoreError(
                            f"run {run_id!r} already exists in the run store."
                        ) from None
                    (tmp / WRITER).write_text(_writer_note(), encoding="utf-8")
                    run_id = self.new_id(run.config.model)
                    final = self.path_of(run_id)
            else:
                raise RunStoreError("no free run id in the run store after 16 tries.")
        except BaseException as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            if isinstance(exc, OSError) or is_disk_full(exc):  # Keras may wrap the OSError
                raise storage_error(exc, f"run {run_id!r}", self.root) from exc
            raise
        return SavedRun(run_id, final, meta, run.model, run.preprocessor)

    def open(self, run_id: str) -> SavedRun:
        path = self.path_of(run_id)
        if not path.is_dir():
            raise RunStoreError(f"no run {run_id!r} in the run store.")
        meta = _read_json(path / "run.json", run_id)
        check_run_json(meta, run_id)  # fields and types (runs.validate.RUN_JSON)
        if not zipfile.is_zipfile(path / "model.keras"):
            raise RunStoreError(f"run {run_id!r}: model.keras is missing or not a Keras archive.")
        return SavedRun(run_id, path, meta)

    def sweep(self) -> list[str]:
        """Remove the hidden folders of writers and deleters that died half-way; their names."""
        removed: list[str] = []
        if not self.root.is_dir():
            return removed
        now = time.time()
        for path in self.root.iterdir():
            hidden = path.name.startswith((".tmp-", ".deleting-"))
            if hidden and path.is_dir() and _abandoned(path, now):
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path.name)
        return removed

    def list(self) -> pd.DataFrame:
        """One row per complete run, newest first; unreadable runs are listed with their error.
        Leftovers of writers that died half-way are swept first (:meth:`sweep`)."""
        rows = []
        with contextlib.suppress(OSError):  # a read-only store still lists
            self.sweep()
        if self.root.is_dir():
            for path in self.root.iterdir():
                if path.name.startswith(".") or not path.is_dir() or not RUN_ID.match(path.name):
                    continue
                try:
                    meta = _read_json(path / "run.json", path.name)
                    check_run_json(meta, path.name)  # a wrong type is listed, not fatal
                except RunStoreError as exc:
                    if path.is_dir():  # not deleted while we were listing
                        rows.append({"run_id": path.name, "error": str(exc)})
                    continue
                said = notes.read(path)  # name, tags, note: the sidecar, never run.json
                trained_by = meta.get("provenance")
                trained_by = trained_by if isinstance(trained_by, dict) else {}
                rows.append(
                    {
                        "run_id": path.name,
                        "name": said.name,
                        "tags": ", ".join(said.tags),
                        "created": meta.get("created"),
                        "model": meta.get("model"),
                        "task": meta.get("task"),
                        # a user's table shows as its file name
                        "dataset": (meta.get("config", {}).get("data") or {}).get("name")
                        or meta.get("dataset"),
                        **{f"test_{k}": v for k, v in meta.get("test", {}).items()},
                        "params": meta.get("params"),
                        "train_seconds": meta.get("train_seconds"),
                        "epochs": len(meta.get("history", [])),
                        "health": verdict_of_run(meta).status,
                        "user": trained_by.get("user"),
                        "note": said.note,
                    }
                )
        frame = pd.DataFrame(rows)
        if not frame.empty and "created" in frame:
            frame = frame.sort_values("created", ascending=False, na_position="last").reset_index(
                drop=True
            )
        return frame

    def annotate(self, run_id: str, by: str | None = None, **changes: Any) -> notes.Annotations:
        """Change the name, tags or note of ``run_id`` (see :func:`recsys_core.runs.annotations.update`
        for ``changes``); ``by`` is who changed them. ``run.json`` is left as training wrote it."""
        path = self.path_of(run_id)
        if not (path / "run.json").is_file():
            raise RunStoreError(f"no run {run_id!r} in the run store.")
        return notes.update(path, by=by, **changes)

    def delete(self, run_id: str) -> None:
        path = self.path_of(run_id)
        if not path.is_dir():
            raise RunStoreError(f"no run {run_id!r} in the run store.")
        # Rename first so the run vanishes from listings at once, then remove it.
        doomed = self.root / f".deleting-{run_id}-{secrets.token_hex(2)}"
        os.replace(path, doomed)
        shutil.rmtree(doomed, ignore_errors=True)
