"""The worker: takes jobs from the queue and runs each in a child process of its own.

``recsys-core worker`` (and ``recsys-core serve``, which starts one beside the dashboard) runs
huey's consumer with ``RECSYS_CORE_MAX_TRAININGS`` threads. Each thread runs one job at a time
(:func:`run_job`) as a *child process* forked from a fork server that has imported the library but
never computed anything, so jobs share no state with each other or with the web server, and a child
starts in milliseconds instead of importing JAX again. The thread watches its child:

- memory: the child's resident memory over ``RECSYS_CORE_JOB_MEMORY_MB`` kills it and fails the job
  with that reason (so what slips past the input budgets fails its job, never the machine);
- time: a job running longer than ``RECSYS_CORE_JOB_TIMEOUT_S`` is stopped;
- cancel: the child stops after its current epoch; one that does not within a grace period is
  killed;
- death: a child killed by a signal (``kill -9``, the kernel's OOM killer, an XLA ``abort()``) or
  exiting early fails its job with what happened, while the worker goes on to the next job;
- heartbeat: every ``HEARTBEAT_SECONDS`` the thread notes that the job is alive, so readers can tell
  a job whose worker is gone (``jobs.STALE_SECONDS``).

The child writes the job's progress (epochs, the refit, the saved run, its health, a check's result)
into the job's record, then computes the run's first maps (:func:`recsys_core.dashboard.precompute`)
before the worker takes its next job.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import multiprocessing
import os
import signal
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from recsys_core import limits
from recsys_core.errors import RecsysCoreError

log = logging.getLogger(__name__)

JOB_MEMORY_ENV = limits.JOB_MEMORY_MB.env
JOB_TIMEOUT_ENV = limits.JOB_TIMEOUT_S.env
CANCEL_GRACE_SECONDS = 60.0  # a cancelled child that has not stopped by then is killed
WATCH_SECONDS = 0.25
CANCELLED = "cancelled"
# what every job imports: loaded once by the fork server (``_context``)
PRELOAD = [
    "recsys_core.service.jobs",
    "recsys_core.training.pipeline",
    "recsys_core.analysis.validation",
    "recsys_core.dashboard",
]

_SIGNALS = {
    signal.SIGKILL: "killed (kill -9, or the system ran out of memory)",
    signal.SIGABRT: "aborted (an abort() inside XLA or another native library)",
    signal.SIGSEGV: "crashed (segmentation fault)",
    signal.SIGBUS: "crashed (bus error)",
    signal.SIGTERM: "terminated",
}


def job_memory_mb() -> int:
    """``$RECSYS_CORE_JOB_MEMORY_MB`` (``limits.JOB_MEMORY_MB``), and never more than 3/4 of the
    machine's memory: the resident memory one job may use."""
    import psutil

    ceiling = int(psutil.virtual_memory().total * 0.75 / 2**20)
    return min(int(limits.JOB_MEMORY_MB.value()), ceiling)


def job_timeout_s() -> float:
    """``$RECSYS_CORE_JOB_TIMEOUT_S`` (``limits.JOB_TIMEOUT_S``): how long one job may run."""
    return float(limits.JOB_TIMEOUT_S.value())


@functools.lru_cache(maxsize=1)
def _context() -> multiprocessing.context.BaseContext:
    """A fork server that has imported what a job runs (the library, JAX, Keras) and done nothing
    else: children fork from it clean, in milliseconds instead of seconds of imports. JAX must not
    have computed anything before a fork; in the fork server it has not."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    return ctx


# --------------------------------------------------------------------------- in the worker thread


def run_job(job_id: str, url: str) -> None:
    """Run job ``job_id`` of the queue at ``url`` in a child process and watch it (huey's task)."""
    from recsys_core.service import jobs
    from recsys_core.service.queue import Records, huey_at

    records = Records(huey_at(url))
    key = jobs._job_key(job_id)
    record = records.get(key)
    if record is None:
        return
    job = jobs.Job.from_dict(record)
    if job.state != "queued":
        return  # already taken (a retried message) or finished
    if records.get(jobs._cancel_key(job_id)) is not None:
        _finish(records, job, CANCELLED)
        return
    refusal = _refusal(job) if job.kind != "maps" else None  # maps train nothing
    if refusal is not None:
        _finish(records, job, "failed", refusal)
        return
    job.state, job.started, job.worker = "running", time.time(), jobs.worker_name()
    records.put(key, job.to_dict())
    records.put(jobs._beat_key(job_id), {"t": time.time()})
    ctx = _context()
    ours, theirs = ctx.Pipe()
    child = ctx.Process(target=_child_main, args=(job_id, url, theirs), name=f"job-{job_id}")
    try:
        child.start()
    except Exception as exc:
        _finish(records, job, "failed", f"the job's process could not start: {exc}")
        return
    theirs.close()
    try:
        reason = _watch(child, records, job_id)
        child.join()
    finally:
        ours.close()
        records.delete(jobs._beat_key(job_id))
    final = jobs.Job.from_dict(records.get(key) or job.to_dict())
    if final.active:  # the child did not get to record how it ended
        state = CANCELLED if reason == CANCELLED else "failed"
        _finish(records, final, state, None if state == CANCELLED else reason or _death(child, final))
    log.info("job %s: %s", job_id, (records.get(key) or {}).get("state"))


def _refusal(job: Any) -> str | None:
    """Viewer mode and the trainers list, decided again by the worker's own environment."""
    from recsys_core.access import decide, mode, trainers

    verdict = decide(mode(), job.auth, job.user, trainers())
    return None if verdict.may_train else f"refused by the worker: {verdict.reason}"


def _finish(records: Any, job: Any, state: str, error: str | None = None) -> None:
    from recsys_core.service import jobs

    job.state, job.finished, job.eta = state, time.time(), 0.0
    if error:
        job.error = error
    records.put(jobs._job_key(job.job_id), job.to_dict())


def _rss_mb(proc: Any) -> float:
    """Resident memory of the child and anything it started, in MiB."""
    import psutil

    total = 0
    with contextlib.suppress(psutil.Error):
        total += proc.memory_info().rss
        for sub in proc.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                total += sub.memory_info().rss
    return total / 2**20


def watch_child(
    child: Any,
    limit_mb: int,
    timeout_s: float,
    every: Callable[[float], bool] | None = None,
    what: str = "job",
) -> str | None:
    """Wait for the process ``child``, killing it over ``limit_mb`` of resident memory or after
    ``timeout_s`` seconds (the reason is returned), or when ``every(rss_mb)`` — called each
    ``HEARTBEAT_SECONDS`` — returns True (``CANCELLED`` is returned). None when it ended by itself."""
    import psutil

    from recsys_core.service.jobs import HEARTBEAT_SECONDS

    try:
        proc = psutil.Process(child.pid)
    except psutil.Error:
        return None
    start = last_beat = time.monotonic()
    while child.is_alive():
        now = time.monotonic()
        rss = _rss_mb(proc)
        if rss > limit_mb:
            _kill(child)
            return (
                f"stopped: it used {rss:,.0f} MB of memory, over the limit of {limit_mb:,} MB per "
                f"{what} ({JOB_MEMORY_ENV})."
            )
        if now - start > timeout_s:
            _kill(child)
            return f"stopped after {timeout_s:,.0f} s, the time limit per {what} ({JOB_TIMEOUT_ENV})."
        if every is not None and now - last_beat >= HEARTBEAT_SECONDS:
            last_beat = now
            if every(rss):
                _kill(child)
                return CANCELLED
        child.join(WATCH_SECONDS)
    return None


def _watch(child: Any, records: Any, job_id: str) -> str | None:
    """:func:`watch_child` for a job: heartbeats into its record's beat key, and a cancel request
    that the child has not honoured within ``CANCEL_GRACE_SECONDS`` kills it."""
    from recsys_core.service import jobs

    asked: list[float] = []

    def beat(rss: float) -> bool:
        records.put(jobs._beat_key(job_id), {"t": time.time(), "rss_mb": round(rss)})
        if not asked and records.get(jobs._cancel_key(job_id)) is not None:
            asked.append(time.monotonic())
        return bool(asked) and time.monotonic() - asked[0] > CANCEL_GRACE_SECONDS

    reason = watch_child(child, job_memory_mb(), job_timeout_s(), beat)
    if reason is not None and reason.startswith("stopped: it used"):
        reason += " Use a smaller model, batch or table, or raise the limit."
    return reason


def _kill(child: Any) -> None:
    with contextlib.suppress(OSError):
        os.kill(child.pid, signal.SIGKILL)
    child.join(30)


def _death(child: Any, job: Any) -> str:
    """What the end of a job's child that did not record its outcome means, in one line."""
    where = f" during epoch {len(job.epochs) + 1}" if job.kind == "train" else ""
    return f"the job's process {death_of(child.exitcode)}{where}; nothing was saved."


def death_of(exitcode: int | None) -> str:
    """How a child process ended, as words: "was killed (kill -9, ...) (SIGKILL)"."""
    if exitcode is not None and exitcode < 0:
        sig = signal.Signals(-exitcode)
        return f"was {_SIGNALS.get(sig, f'stopped by signal {sig.name}')} ({sig.name})"
    return f"exited with status {exitcode} before finishing"


# --------------------------------------------------------------------------- in the child process


class _Progress:
    """The child's view of its job: writes each change to the job's record."""

    def __init__(self, records: Any, job: Any) -> None:
        from recsys_core.service import jobs

        self.records, self.job = records, job
        self.key, self.cancel_key = jobs._job_key(job.job_id), jobs._cancel_key(job.job_id)

    def save(self) -> None:
        self.records.put(self.key, self.job.to_dict())

    def on_epoch(self, log_: Any) -> None:
        job = self.job
        job.eta = log_.eta
        if log_.phase == "refit":  # no validation curve: progress only
            job.refit = [log_.epoch, log_.epochs]
        else:
            job.epochs.append(
                {
                    "epoch": log_.epoch,
                    "loss": log_.train_loss,
                    **{f"val_{k}": v for k, v in log_.val.items()},
                }
            )
        self.save()

    def is_set(self) -> bool:
        """The cancel flag the training polls between epochs."""
        return self.records.get(self.cancel_key) is not None

    def finish(self, state: str, error: str | None = None) -> None:
        job = self.job
        job.state, job.finished, job.eta = state, time.time(), 0.0
        if error:  # shown to every visitor: the server's folders stay private
            job.error = error.replace(str(Path(job.runs_dir).resolve()), "the run store")
        self.save()


def _die_with_worker(conn: Any) -> None:
    """Exit when the worker that watches this child is gone (its end of the pipe closes)."""
    with contextlib.suppress(Exception):
        conn.recv()
    os._exit(3)


def _child_main(job_id: str, url: str, conn: Any) -> None:
    from recsys_core.compile_cache import enable_compilation_cache
    from recsys_core.service import jobs, probe
    from recsys_core.service.queue import Records, huey_at
    from recsys_core.training.engine import TrainingCancelled

    threading.Thread(target=_die_with_worker, args=(conn,), daemon=True).start()
    probe.contained = True  # this process is the contained one: an abort fails only this job
    enable_compilation_cache()  # as the command line does ($RECSYS_CORE_JAX_CACHE=0: off)
    records = Records(huey_at(url))
    job = jobs.Job.from_dict(records.get(jobs._job_key(job_id)) or {"job_id": job_id})
    job.pid = os.getpid()
    progress = _Progress(records, job)
    progress.save()
    try:
        if job.kind == "train":
            _train(job, progress)
        elif job.kind == "check":
            _check(job, progress)
        elif job.kind == "maps":
            _maps(job, progress)
        else:
            raise RecsysCoreError(f"unknown job kind {job.kind!r}.")
    except TrainingCancelled:
        progress.finish(CANCELLED)
    except RecsysCoreError as exc:
        progress.finish("failed", str(exc))
    except Exception as exc:  # one line for the page, the whole story in the worker's log
        log.error("job %s failed:\n%s", job_id, traceback.format_exc())
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        progress.finish("failed", f"{type(exc).__name__}: {first} (details in the worker's log)")


def _train(job: Any, progress: _Progress) -> None:
    from recsys_core.runs.provenance import collect
    from recsys_core.runs.store import RunStore
    from recsys_core.service.jobs import upload_path
    from recsys_core.training.pipeline import train_run

    config = job.run_config
    table = spec = None
    if job.upload:  # a user's table (read as its config says), or a MovieLens-shaped one
        from recsys_core.data.user_table import read_table, table_from_run_data

        path = upload_path(job.runs_dir, job.upload)
        if config.dataset == "table":
            table, spec = table_from_run_data({**config.data, "path": str(path)})
        else:
            table = read_table(path)
    run = train_run(config, table, spec, on_epoch=progress.on_epoch, cancel=progress)
    # who: the job's signed-in user (None without sign-in), not the worker's OS account
    saved = RunStore(job.runs_dir).save(run, provenance=collect(user=job.user, via="dashboard"))
    job.run_id, job.best_epoch = saved.run_id, run.history.best_epoch
    job.test = dict(run.test_metrics)
    health = getattr(run, "health", None)
    job.health = health.to_dict() if health is not None else None
    job.maps = "computing"
    progress.finish("done")
    _precompute(job, progress)


def _precompute(job: Any, progress: _Progress, asked: bool = False) -> None:
    """The run's first maps, saved beside it, before the worker takes the next job (after a
    training only when ``$RECSYS_CORE_WARM_UP`` is on; always when ``asked`` by a maps job)."""
    os.environ["RECSYS_CORE_RUNS"] = job.runs_dir  # this process serves this job's store only
    from recsys_core import dashboard

    if not (asked or dashboard._warm_up_on()):
        job.maps = ""
    else:
        try:
            dashboard.precompute(job.run_id)
            job.maps = "saved"
        except Exception as exc:  # the run is saved; its pages compute what is missing
            log.warning("job %s: first maps of run %s: %s", job.job_id, job.run_id, exc)
            job.maps = "failed"
    progress.save()


def _maps(job: Any, progress: _Progress) -> None:
    """A saved run's first maps (a server's warm-up asks for them, for runs trained elsewhere)."""
    job.run_id, job.maps = str((job.call or {}).get("run_id", "")), "computing"
    progress.save()
    _precompute(job, progress, asked=True)
    failed = job.maps != "saved"
    progress.finish("failed" if failed else "done", "the maps could not be computed (details in "
                    "the worker's log); its pages compute them when opened" if failed else None)  # fmt: skip


def _check(job: Any, progress: _Progress) -> None:
    from recsys_core.analysis.validation import planted_check

    result = planted_check(**(job.call or {}), on_epoch=progress.on_epoch, cancel=progress)
    job.result = result.to_dict()
    job.test = dict(result.test_metrics)
    progress.finish("done")


# --------------------------------------------------------------------------- the worker process


def serve_queue(runs_dir: str | Path | None = None, threads: int | None = None) -> None:
    """Run the consumer of the run store's queue until SIGINT / SIGTERM (``recsys-core worker``)."""
    from recsys_core.runs.store import RunStore
    from recsys_core.service import jobs
    from recsys_core.service.queue import Records, huey_at, job_task, queue_url

    store = RunStore(runs_dir)
    url = queue_url(store.root)
    threads = threads or limits.max_trainings()
    job_memory_mb(), job_timeout_s()  # a bad setting is one clear line now, not at the first job
    huey = huey_at(url)
    job_task(url)
    records = Records(huey)
    _context()
    name = jobs.worker_name()
    stop = threading.Event()

    def announce() -> None:
        while not stop.is_set():
            with contextlib.suppress(Exception):
                records.put(f"worker:{name}", {"name": name, "threads": threads, "t": time.time()})
            stop.wait(jobs.WORKER_BEAT_SECONDS)

    threading.Thread(target=announce, name="worker-heartbeat", daemon=True).start()
    consumer = huey.create_consumer(
        workers=threads,
        worker_type="thread",
        periodic=False,
        initial_delay=0.1,
        backoff=1.15,
        max_delay=1.0,
    )
    log.info("worker %s: %d thread(s) on %s, runs in %s", name, threads, url, store.root)
    _fail_orphans(records, _dead_here, "the worker that ran it is gone")
    try:
        consumer.run()
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            records.delete(f"worker:{name}")
        _fail_orphans(records, lambda w: w == name, "its worker was stopped")


def _dead_here(worker: str | None) -> bool:
    """Whether ``worker`` (``host:pid``) was a process of this machine that no longer runs."""
    import socket

    import psutil

    host, _, pid = (worker or "").rpartition(":")
    return host == socket.gethostname() and pid.isdigit() and not psutil.pid_exists(int(pid))


def _fail_orphans(records: Any, orphaned: Callable[[str | None], bool], why: str) -> None:
    """Mark failed the running jobs whose worker ``orphaned`` says is gone, so nobody waits for
    the heartbeat timeout to learn it (a restarted server or worker on the same machine)."""
    from recsys_core.service import jobs

    with contextlib.suppress(Exception):
        for _key, record in records.items("job:"):
            job = jobs.Job.from_dict(record)
            if job.state == "running" and orphaned(job.worker):
                done = len(job.epochs)
                _finish(records, job, "failed", f"{why} after {done} epoch{'s' * (done != 1)}; "
                        "the job did not finish.")  # fmt: skip
