"""Nothing is lost: a writer killed half-way, writers racing for the same id, deletion, leftovers."""

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from recsys_core.errors import RunStoreError
from recsys_core.runs import RunStore
from recsys_core.runs import store as store_module
from recsys_core.training import predict

ROOT = Path(__file__).resolve().parents[1]

# A child process that rebuilds a TrainedRun from a saved run (the model file copied as it is)
# and saves it into another store:
# "hang" stalls half-way through the held-out rows (to be killed); "race" waits for a go file
# and then saves under an id every racer picks first.
CHILD = r"""
import json, shutil, sys, time
from pathlib import Path

import pandas as pd

from recsys_core.runs import RunStore
from recsys_core.training.engine import History
from recsys_core.training.pipeline import TrainedRun

src, dst, mode = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
saved = RunStore(src.parent).open(src.name)
meta = saved.meta


class Model:  # the saved model file as it is: no need to load Keras weights to re-save them
    field_names = meta["fields"]

    def save(self, path):
        shutil.copyfile(src / "model.keras", path)


run = TrainedRun(saved.config, Model(), saved.preprocessor,
                 History(epochs=meta["history"], best_epoch=meta["best_epoch"]), meta["test"],
                 meta["params"], meta["train_seconds"], saved.holdout(), meta["data_source"])
store = RunStore(dst)
if mode == "hang":
    def stall(self, path, *args, **kwargs):
        Path(path).write_bytes(b"PAR1 half a file")
        print("WRITING", flush=True)
        time.sleep(600)
    pd.DataFrame.to_parquet = stall
    store.save(run)
else:
    first = iter(["dlrm-same-id"])
    real = store.new_id
    store.new_id = lambda model: next(first, None) or real(model)
    print("READY", flush=True)
    while not Path(sys.argv[4]).exists():
        time.sleep(0.005)
    print(json.dumps({"run_id": store.save(run).run_id}), flush=True)
"""


def fingerprint(root: Path) -> dict[str, str]:
    """sha256 of every file in the store, by relative path (hidden folders included)."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _child(tmp_path, saved, dst, mode, *extra):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    return subprocess.Popen(
        [sys.executable, str(script), str(saved.path), str(dst), mode, *map(str, extra)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _readline(proc, timeout=120.0) -> str:
    result: list[str] = []
    reader = threading.Thread(target=lambda: result.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    if not result or not result[0]:
        proc.kill()
        raise AssertionError(f"child said nothing: {proc.stderr.read()[-2000:]}")
    return result[0].strip()


def test_a_writer_killed_mid_save_loses_nothing(tmp_path, saved):
    store_dir = tmp_path / "store"
    store_dir.mkdir()
    shutil.copytree(saved.path, store_dir / "earlier-run")
    before = fingerprint(store_dir)
    child = _child(tmp_path, saved, store_dir, "hang")
    assert _readline(child) == "WRITING"
    os.kill(child.pid, signal.SIGKILL)
    assert child.wait(30) == -signal.SIGKILL  # reaped: its pid is gone
    leftovers = [p.name for p in store_dir.iterdir() if p.name.startswith(".tmp-")]
    assert len(leftovers) == 1  # the half-written run, hidden
    note = json.loads((store_dir / leftovers[0] / ".writer").read_text())
    assert note["pid"] == child.pid and note["host"] == socket.gethostname()

    store = RunStore(store_dir)
    listed = store.list()  # the store opens and lists; the dead writer's folder is swept
    assert listed["run_id"].tolist() == ["earlier-run"] and "error" not in listed
    assert [p.name for p in store_dir.iterdir()] == ["earlier-run"]
    assert fingerprint(store_dir) == before  # the earlier run is byte for byte intact
    run = store.open("earlier-run")
    x = run.preprocessor.transform(run.holdout())
    np.testing.assert_array_equal(
        predict(run.model, x, "regression"), predict(saved.model, x, "regression")
    )


def test_a_run_being_written_is_never_listed_nor_swept(tmp_path, trained, monkeypatch):
    store = RunStore(tmp_path)
    writing, release = threading.Event(), threading.Event()
    original = type(trained.holdout).to_parquet

    def slow(self, path, *args, **kwargs):
        writing.set()
        release.wait(30)
        return original(self, path, *args, **kwargs)

    monkeypatch.setattr(type(trained.holdout), "to_parquet", slow)
    result = {}

    def save():
        try:
            result["saved"] = store.save(trained)
        except BaseException as exc:  # surfaced below instead of dying silently in the thread
            result["error"] = exc
        finally:
            writing.set()  # a save that never reached the patched write fails the test at once

    writer = threading.Thread(target=save)
    writer.start()
    try:
        assert writing.wait(300)  # generous: a loaded CI machine saves model.keras slowly
        assert "error" not in result, result.get("error")
        assert store.list().empty  # half-written: not listed
        assert store.sweep() == []  # and not swept: its writer (this process) is alive
        assert any(p.name.startswith(".tmp-") for p in tmp_path.iterdir())
    finally:
        release.set()
        writer.join(60)
    assert store.list()["run_id"].tolist() == [result["saved"].run_id]
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())


def test_leftovers_are_swept_by_age_and_by_dead_writer_only(tmp_path):
    store = RunStore(tmp_path)

    def folder(name, note=None, age=0.0):
        path = tmp_path / name
        path.mkdir()
        (path / "model.keras").write_bytes(b"half")
        if note is not None:
            (path / ".writer").write_text(json.dumps(note))
        if age:
            os.utime(path, (time.time() - age, time.time() - age))
        return path

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    here = socket.gethostname()
    folder(".tmp-a-dead", {"host": here, "pid": dead.pid})
    folder(".tmp-b-alive", {"host": here, "pid": os.getpid()})
    folder(".tmp-c-elsewhere", {"host": "another-replica", "pid": 1})
    folder(".tmp-d-old-elsewhere", {"host": "another-replica", "pid": 1}, age=2 * 3600)
    folder(".tmp-e-no-note")
    folder(".deleting-f-1234")
    folder("a-run")  # not hidden: never touched by the sweep
    assert sorted(store.sweep()) == [".deleting-f-1234", ".tmp-a-dead", ".tmp-d-old-elsewhere"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".tmp-b-alive",
        ".tmp-c-elsewhere",
        ".tmp-e-no-note",
        "a-run",
    ]


def test_threads_saving_at_once_get_distinct_complete_runs(tmp_path, trained, monkeypatch):
    store = RunStore(tmp_path)
    lock, handed = threading.Lock(), []
    real = store.new_id

    def colliding(model):  # the first four ids are the same, as if four writers hit one second
        with lock:
            handed.append(1)
            return "dlrm-same-second" if len(handed) <= 4 else real(model)

    monkeypatch.setattr(store, "new_id", colliding)
    barrier, ids, errors = threading.Barrier(4), [], []

    def save():
        barrier.wait()
        try:
            ids.append(store.save(trained).run_id)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=save) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert len(set(ids)) == 4 and "dlrm-same-second" in ids
    assert sorted(store.list()["run_id"]) == sorted(ids)
    for run_id in ids:
        run = store.open(run_id)
        assert run.meta["run_id"] == run_id and run.model is not None


def test_processes_saving_at_once_get_distinct_complete_runs(tmp_path, saved):
    store_dir, go = tmp_path / "store", tmp_path / "go"
    store_dir.mkdir()
    children = [_child(tmp_path, saved, store_dir, "race", go) for _ in range(3)]
    for child in children:
        assert _readline(child) == "READY"
    go.touch()
    ids = [json.loads(_readline(child))["run_id"] for child in children]
    for child in children:
        assert child.wait(60) == 0, child.stderr.read()[-2000:]
    assert len(set(ids)) == 3 and "dlrm-same-id" in ids
    store = RunStore(store_dir)
    assert sorted(store.list()["run_id"]) == sorted(ids)
    for run_id in ids:
        assert store.open(run_id).meta["run_id"] == run_id
    assert not any(p.name.startswith(".") for p in store_dir.iterdir())


def test_a_rename_collision_never_mixes_two_runs(tmp_path, trained, monkeypatch):
    store = RunStore(tmp_path)
    real_rename = os.rename

    def someone_else_wins(src, dst):  # another writer renames its run into place first
        if Path(dst).name in ("given-id", "gen-0") and not Path(dst).exists():
            Path(dst).mkdir()
            (Path(dst) / "run.json").write_text('{"other": true}')
        return real_rename(src, dst)

    monkeypatch.setattr(store_module.os, "rename", someone_else_wins)
    with pytest.raises(RunStoreError, match="already exists"):
        store.save(trained, run_id="given-id")  # a given id is not silently changed
    assert json.loads((tmp_path / "given-id" / "run.json").read_text()) == {"other": True}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["given-id"]  # our tmp folder is gone
    numbers = iter(range(99))
    monkeypatch.setattr(store, "new_id", lambda model: f"gen-{next(numbers)}")
    saved = store.save(trained)  # a generated id moves on to a fresh one
    assert saved.run_id == "gen-1" and store.open("gen-1").meta["run_id"] == "gen-1"
    assert json.loads((tmp_path / "gen-0" / "run.json").read_text()) == {"other": True}


def test_delete_is_atomic_and_leaves_the_others(tmp_path, saved, monkeypatch):
    for name in ("keep", "drop"):
        shutil.copytree(saved.path, tmp_path / name)
    before = fingerprint(tmp_path / "keep")
    store = RunStore(tmp_path)
    seen = []
    real_rmtree = shutil.rmtree

    def look(path, *args, **kwargs):  # at removal time the run is already out of the listing
        if not seen:
            seen.append(Path(path).name)  # before listing: the listing's sweep comes back here
            seen.append(RunStore(tmp_path).list()["run_id"].tolist())
        return real_rmtree(path, *args, **kwargs)

    monkeypatch.setattr(store_module.shutil, "rmtree", look)
    store.delete("drop")
    assert seen[0].startswith(".deleting-drop-") and seen[1] == ["keep"]
    assert [p.name for p in tmp_path.iterdir()] == ["keep"]
    assert fingerprint(tmp_path / "keep") == before
    with pytest.raises(RunStoreError, match="no run 'drop'"):
        store.delete("drop")
    with pytest.raises(RunStoreError, match="invalid run id"):
        store.delete("../keep")
