"""Jobs in worker processes: what they train equals training in process, positions, the bound,
cancel, and what happens when a job's process dies, runs out of memory or its worker goes away."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from recsys_core.errors import RecsysCoreError
from recsys_core.runs import RunStore
from recsys_core.service import jobs as jobs_module
from recsys_core.service.jobs import Job, JobQueue
from recsys_core.training import RunConfig, TrainConfig, train_run
from tests.workers import running_worker


@pytest.fixture
def own_queue(tmp_path, monkeypatch):
    """A queue of this test's own (no worker serves it unless the test starts one)."""
    monkeypatch.setenv("RECSYS_CORE_QUEUE", f"sqlite:///{tmp_path / 'queue.db'}")
    return tmp_path


def _queue_with_table(runs_dir: Path, table) -> tuple[JobQueue, str]:
    queue = JobQueue(runs_dir)
    return queue, queue.save_upload(table.to_parquet(index=False), "table.parquet")


def _folder_digest(path: Path) -> str:
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(file.name.encode() + file.read_bytes())
    return digest.hexdigest()


def _wait_until(predicate, timeout: float = 300.0, step: float = 0.2):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError("timed out")


def test_trials_trained_by_the_worker_equal_training_in_process(worker, tmp_path, table):
    queue, upload = _queue_with_table(tmp_path, table)
    config = RunConfig(
        hparams={"top_mlp": [16]}, train=TrainConfig(epochs=2, batch_size=256, seed=3)
    )
    trials = queue.submit_trials(config, 2, owner="me", upload=upload)
    assert [j.run_config.train.seed for j in trials] == [3, 4] and trials[0].group
    done = [queue.wait(j.job_id, timeout=300) for j in trials]
    assert [j.state for j in done] == ["done", "done"], [j.error for j in done]
    assert {j.run_id for j in done} <= set(queue.store.list()["run_id"])
    # the same config and seed trained here, in this process: the same epochs and test metrics
    local = train_run(trials[0].run_config, table=table)
    assert done[0].epochs == [
        {"epoch": e["epoch"], "loss": e["loss"], **{k: v for k, v in e.items() if k.startswith("val_")}}
        for e in local.history.epochs
    ]
    assert done[0].test == local.test_metrics
    assert done[0].health is not None and done[0].health["status"] == local.health.status
    rmses = [j.test["rmse"] for j in done]
    assert queue.group_summary(trials[0].group)["rmse"] == pytest.approx(
        (np.mean(rmses), np.std(rmses))
    )
    # another queue object (a restarted server, another replica) reads the same records
    again = JobQueue(tmp_path).get(trials[1].job_id)
    assert again.state == "done" and again.run_id == done[1].run_id and again.epochs


def test_failed_and_cancelled_jobs_report_why_and_save_nothing(worker, tmp_path, table):
    queue, upload = _queue_with_table(tmp_path, table)
    bad = queue.submit(RunConfig(train=TrainConfig(epochs=1), split="weird"), upload=upload)
    failed = queue.wait(bad.job_id, timeout=300)
    assert failed.state == "failed" and "split method" in failed.error
    long = queue.submit(RunConfig(train=TrainConfig(epochs=200, batch_size=64)), upload=upload)
    _wait_until(lambda: len(queue.get(long.job_id).epochs) >= 1)
    queue.cancel(long.job_id)
    stopped = queue.wait(long.job_id, timeout=300)
    assert stopped.state == "cancelled" and len(stopped.epochs) < 200
    assert queue.store.list().empty
    with pytest.raises(RecsysCoreError, match="trials must be >= 1"):
        queue.submit_trials(RunConfig(), 0)


def test_a_job_killed_mid_training_fails_with_the_reason_and_nothing_else_changes(
    worker, tmp_path, table, saved
):
    earlier = tmp_path / saved.run_id  # a run saved before, in this test's store
    shutil.copytree(saved.path, earlier)
    before = _folder_digest(earlier)
    store = RunStore(tmp_path)
    queue, upload = _queue_with_table(tmp_path, table)
    job = queue.submit(RunConfig(train=TrainConfig(epochs=200, batch_size=64)), upload=upload)
    running = _wait_until(lambda: (j := queue.get(job.job_id)).epochs and j.pid and j)
    os.kill(running.pid, signal.SIGKILL)
    dead = queue.wait(job.job_id, timeout=120)
    assert dead.state == "failed"
    assert "killed" in dead.error and "SIGKILL" in dead.error and "during epoch" in dead.error
    assert _folder_digest(earlier) == before
    assert saved.run_id in set(store.list()["run_id"])
    # the worker goes on: the next job trains
    after = queue.submit(RunConfig(train=TrainConfig(epochs=1, batch_size=256)), upload=upload)
    assert queue.wait(after.job_id, timeout=300).state == "done"


def test_a_job_over_its_memory_limit_fails_and_the_worker_survives(own_queue, table):
    queue, upload = _queue_with_table(own_queue, table)
    with running_worker(RECSYS_CORE_JOB_MEMORY_MB="500") as proc:
        job = queue.submit(RunConfig(train=TrainConfig(epochs=3, batch_size=256)), upload=upload)
        out = queue.wait(job.job_id, timeout=300)
        assert out.state == "failed"
        assert "over the limit of 500 MB per job (RECSYS_CORE_JOB_MEMORY_MB)" in out.error
        assert proc.poll() is None and queue.workers()  # still serving
    assert queue.store.list().empty


def test_the_worker_enforces_viewer_mode_again(own_queue, table):
    queue, upload = _queue_with_table(own_queue, table)
    job = queue.submit(RunConfig(train=TrainConfig(epochs=1)), upload=upload)  # accepted here
    with running_worker(RECSYS_CORE_MODE="viewer"):
        out = queue.wait(job.job_id, timeout=120)
    assert out.state == "failed" and out.error.startswith("refused by the worker")
    assert "RECSYS_CORE_MODE=viewer" in out.error and queue.store.list().empty


def test_a_job_whose_worker_is_gone_is_reported_failed(own_queue, table, monkeypatch):
    queue, upload = _queue_with_table(own_queue, table)
    with running_worker() as proc:
        job = queue.submit(RunConfig(train=TrainConfig(epochs=200, batch_size=64)), upload=upload)
        running = _wait_until(lambda: (j := queue.get(job.job_id)).epochs and j.pid and j)
        proc.kill()  # the whole worker, kill -9: nobody is left to record the end
        proc.wait(30)
        # its job's process notices and stops too
        _wait_until(lambda: not _alive(running.pid), timeout=60)
    monkeypatch.setattr(jobs_module, "STALE_SECONDS", 3.0)
    time.sleep(3.5)
    lost = queue.get(job.job_id)
    assert lost.state == "failed" and "the worker stopped answering" in lost.error


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/status").exists() and "zombie" not in Path(
        f"/proc/{pid}/status"
    ).read_text()


def test_positions_count_the_jobs_ahead_and_cancel_frees_a_place(own_queue):
    queue = JobQueue(own_queue)
    jobs = [queue.submit(RunConfig(), owner=f"o{k}") for k in range(4)]
    assert [queue.position(j.job_id) for j in jobs] == [0, 1, 2, 3]
    queue.cancel(jobs[1].job_id)  # a cancelled job no longer holds anyone up
    assert [queue.position(j.job_id) for j in jobs] == [0, None, 1, 2]
    assert queue.get(jobs[1].job_id).state == "cancelled"
    # a job a worker runs counts for everyone behind it
    record = queue.get(jobs[0].job_id)
    record.state, record.started = "running", time.time()
    queue.records.put(f"job:{record.job_id}", record.to_dict())
    queue.records.put(f"beat:{record.job_id}", {"t": time.time()})
    assert [queue.position(j.job_id) for j in jobs] == [None, None, 1, 2]
    assert queue.running() == 1 and queue.position("no-such-job") is None
    assert [j.job_id for j in queue.jobs(owner="o3")] == [jobs[3].job_id]


def test_the_queue_is_bounded_and_trials_queue_all_or_nothing(own_queue, monkeypatch):
    monkeypatch.setenv("RECSYS_CORE_MAX_QUEUED", "2")
    queue = JobQueue(own_queue)
    assert queue.max_queued == 2
    queue.submit(RunConfig())
    with pytest.raises(RecsysCoreError, match="queue is full"):
        queue.submit_trials(RunConfig(), 2)  # one place left, two trials: none is queued
    assert len(queue.jobs()) == 1
    queue.submit(RunConfig())
    with pytest.raises(
        RecsysCoreError, match=r"queue is full \(2 job\(s\) waiting, at most 2, RECSYS_CORE_MAX"
    ):
        queue.submit(RunConfig())
    monkeypatch.setenv("RECSYS_CORE_MAX_QUEUED", "lots")
    with pytest.raises(RecsysCoreError, match="RECSYS_CORE_MAX_QUEUED must be a positive whole number"):
        JobQueue(own_queue)


def test_a_running_job_without_a_heartbeat_is_reported_lost(own_queue):
    queue = JobQueue(own_queue)
    job = queue.submit(RunConfig())
    record = queue.get(job.job_id)
    record.state, record.started = "running", time.time() - 1000
    record.epochs = [{"epoch": 1, "loss": 1.0}]
    queue.records.put(f"job:{job.job_id}", record.to_dict())
    queue.records.put(f"beat:{job.job_id}", {"t": time.time() - 500})
    lost = queue.get(job.job_id)
    assert lost.state == "failed"
    assert "stopped answering 500 s ago, after 1 epoch" in lost.error
    queue.records.put(f"beat:{job.job_id}", {"t": time.time()})
    assert queue.get(job.job_id).state == "running"


def test_records_round_trip_and_ignore_unknown_fields():
    job = Job("abc", config=RunConfig().to_dict(), epochs=[{"epoch": 1, "loss": 0.5}])
    back = Job.from_dict({**job.to_dict(), "from_a_newer_release": 1})
    assert back == job and back.run_config == RunConfig()


def test_uploads_are_kept_once_and_cannot_escape_their_folder(own_queue):
    queue = JobQueue(own_queue)
    a = queue.save_upload(b"x,y\n1,2\n", "../../evil name.CSV")
    assert a == hashlib.sha256(b"x,y\n1,2\n").hexdigest() + ".csv"
    assert queue.save_upload(b"x,y\n1,2\n", "other.csv") == a
    assert jobs_module.upload_path(own_queue, a).read_bytes() == b"x,y\n1,2\n"
    for bad in ("../queue.db", ".hidden", "a/../../b"):
        with pytest.raises(RecsysCoreError, match="invalid upload name"):
            jobs_module.upload_path(own_queue, bad)


@pytest.fixture
def redis_url(tmp_path):
    """A throwaway redis-server on a free port (Debian's, installed by `make test`)."""
    import shutil as _shutil
    import socket
    import subprocess

    server = _shutil.which("redis-server")
    if server is None:
        if os.environ.get("CI"):
            raise AssertionError("redis-server is missing: `make test` installs it")
        pytest.skip("redis-server is not installed (make redis)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    import redis

    client = redis.Redis(port=port)
    _wait_until(lambda: _pings(client), timeout=30)
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(10)


def _pings(client) -> bool:
    try:
        return bool(client.ping())
    except Exception:
        return False


def test_replicas_share_one_redis_queue(redis_url, tmp_path, table, monkeypatch):
    monkeypatch.setenv("RECSYS_CORE_QUEUE", redis_url)
    replica_a, upload = _queue_with_table(tmp_path, table)
    replica_b = JobQueue(tmp_path)  # another server process on the same queue and store
    job = replica_a.submit(RunConfig(train=TrainConfig(epochs=2, batch_size=256)), upload=upload)
    assert replica_b.position(job.job_id) == 0
    with running_worker(RECSYS_CORE_QUEUE=redis_url):
        done = replica_b.wait(job.job_id, timeout=300)
    assert done.state == "done", done.error
    assert len(done.epochs) == 2 and done.run_id in set(replica_a.store.list()["run_id"])


def test_a_restarted_worker_fails_the_jobs_its_dead_predecessor_left_running(own_queue):
    import socket

    queue = JobQueue(own_queue)
    job = queue.submit(RunConfig())
    record = queue.get(job.job_id)
    record.state, record.started = "running", time.time()
    record.worker = f"{socket.gethostname()}:{2**22 + 12345}"  # a pid that does not run
    record.epochs = [{"epoch": 1, "loss": 1.0}, {"epoch": 2, "loss": 0.9}]
    queue.records.put(f"job:{job.job_id}", record.to_dict())
    queue.records.put(f"beat:{job.job_id}", {"t": time.time()})  # not stale yet
    with running_worker():
        out = _wait_until(lambda: (j := queue.get(job.job_id)).state != "running" and j, 60)
    assert out.state == "failed"
    assert out.error == "the worker that ran it is gone after 2 epochs; the job did not finish."


def test_a_worker_computes_a_saved_runs_first_maps_once(worker, saved, tmp_path):
    from recsys_core.analysis import saved as saved_maps

    shutil.copytree(saved.path, tmp_path / saved.run_id)
    shutil.rmtree(tmp_path / saved.run_id / saved_maps.FOLDER, ignore_errors=True)
    queue = JobQueue(tmp_path)
    job = queue.submit_maps(saved.run_id)
    assert queue.submit_maps(saved.run_id) is None  # one at a time per run
    done = queue.wait(job.job_id, timeout=300)
    assert done.state == "done" and done.maps == "saved", done.error
    path = tmp_path / saved.run_id
    assert saved_maps.load(path, {"what": "menu"}) is not None
    assert saved_maps.load_result(path, saved_maps.result_key("tii")) is not None
    assert queue.jobs(kind="train") == []  # not listed with the trainings
