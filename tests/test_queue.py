"""The shared training queue: positions of waiting jobs, its bound, and what the Train page shows."""

import threading
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from recsys_core import dashboard
from recsys_core.errors import RecsysCoreError
from recsys_core.training import RunConfig, TrainConfig
from recsys_core.training.jobs import JobManager

APP = str(Path(__file__).resolve().parents[1] / "app" / "main.py")


def _blocker(gate: threading.Event, started: threading.Event | None = None):
    def work(on_epoch, cancel):
        if started is not None:
            started.set()
        gate.wait(30)
        return "ok"

    return work


def test_positions_count_the_jobs_ahead_in_submission_order(tmp_path):
    manager = JobManager(tmp_path, max_workers=1)
    gate, started = threading.Event(), threading.Event()
    first = manager.submit_call("first", _blocker(gate, started), owner="a")
    assert started.wait(10)
    waiting = [manager.submit_call(f"w{k}", _blocker(gate), owner="b") for k in range(3)]
    assert manager.position(first.job_id) is None  # running, not waiting
    assert [manager.position(j.job_id) for j in waiting] == [1, 2, 3]
    waiting[0].cancel()  # a cancelled job no longer holds anyone up
    assert [manager.position(j.job_id) for j in waiting] == [None, 1, 2]
    assert manager.position("no-such-job") is None
    gate.set()
    for job in [first, *waiting]:
        manager.wait(job.job_id, timeout=30)
    assert [j.state for j in waiting] == ["cancelled", "done", "done"]
    assert all(manager.position(j.job_id) is None for j in waiting)


def test_two_workers_run_two_jobs_at_once(tmp_path):
    manager = JobManager(tmp_path, max_workers=2)
    gate = threading.Event()
    starts = [threading.Event(), threading.Event()]
    running = [manager.submit_call(f"r{k}", _blocker(gate, starts[k])) for k in range(2)]
    assert all(s.wait(10) for s in starts) and manager.running() == 2
    queued = manager.submit_call("q", _blocker(gate))
    assert manager.position(queued.job_id) == 2
    gate.set()
    for job in [*running, queued]:
        assert manager.wait(job.job_id, timeout=30).state == "done"


def test_the_queue_is_bounded_and_trials_queue_all_or_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("RECSYS_CORE_MAX_QUEUED", "2")
    manager = JobManager(tmp_path, max_workers=1)
    assert manager.max_queued == 2
    gate, started = threading.Event(), threading.Event()
    manager.submit_call("running", _blocker(gate, started))
    assert started.wait(10)
    manager.submit_call("one", _blocker(gate))
    config = RunConfig(train=TrainConfig(epochs=1))
    with pytest.raises(RecsysCoreError, match="queue is full"):
        manager.submit_trials(config, 2)  # one slot left, two trials: none is queued
    assert len(manager.jobs()) == 2
    manager.submit_call("two", _blocker(gate))
    with pytest.raises(RecsysCoreError, match=r"queue is full \(2 job\(s\) waiting, at most 2\)"):
        manager.submit_call("three", _blocker(gate))
    gate.set()
    for job in manager.jobs():
        manager.wait(job.job_id, timeout=30)


def test_train_page_shows_the_queue_position_of_its_own_jobs_only(monkeypatch, tmp_path):
    from recsys_core.training import jobs as jobs_module
    from recsys_core.training.engine import TrainingCancelled

    def spy(config, table=None, spec=None, **kwargs):
        raise TrainingCancelled("spy")

    monkeypatch.setattr(jobs_module, "train_run", spy)
    monkeypatch.setenv("RECSYS_CORE_RUNS", str(tmp_path))
    dashboard.job_manager.cache_clear()
    try:
        manager = dashboard.job_manager()
        gate, started = threading.Event(), threading.Event()
        blocker = manager.submit_call("blocker", _blocker(gate, started), owner="someone else")
        assert started.wait(10)
        other = manager.submit(RunConfig(), owner="someone else")  # queued behind the blocker
        at = AppTest.from_file(APP, default_timeout=120)
        at.run()
        at.switch_page("../pages/train.py").run()
        next(w for w in at.number_input if w.label.startswith("Trials")).set_value(2)
        next(w for w in at.number_input if w.label.startswith("Epochs")).set_value(1)
        at.button[0].click().run()
        assert not at.exception and not at.error, [e.value for e in at.error]
        mine = [j for j in manager.jobs() if j.owner != "someone else"]
        assert len(mine) == 2
        text = " ".join(m.value for m in at.markdown)
        assert "waiting, 2 jobs ahead" in text and "waiting, 3 jobs ahead" in text
        assert other.job_id not in text and blocker.job_id not in text  # others' jobs stay private
        gate.set()
        for job in manager.jobs():
            manager.wait(job.job_id, timeout=60)
        at.run()
        assert "waiting" not in " ".join(m.value for m in at.markdown)
    finally:
        gate.set()
        dashboard.job_manager.cache_clear()
