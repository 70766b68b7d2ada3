"""Background training jobs: a bounded worker pool shared by every dashboard session.

Training runs in worker threads (JAX releases the GIL while XLA computes), so pages stay responsive.
Each job records its epochs as they finish, so any page can draw live curves by polling.
Jobs start in submission order; :meth:`JobManager.position` says how many are ahead of a queued job,
and at most ``max_queued`` jobs may wait at once (``RECSYS_CORE_MAX_QUEUED``, default 50), so a
busy server refuses new work with a message instead of piling it up. In viewer mode
(``RECSYS_CORE_MODE=viewer``) nothing can be queued.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from recsys_core.access import VIEWER_REASON, AccessDenied
from recsys_core.access import mode as access_mode
from recsys_core.errors import RecsysCoreError
from recsys_core.training.engine import EpochLog, TrainingCancelled
from recsys_core.training.pipeline import RunConfig, train_run

log = logging.getLogger(__name__)

STATES = ("queued", "running", "done", "failed", "cancelled")
MAX_QUEUED_ENV = "RECSYS_CORE_MAX_QUEUED"


def default_max_queued() -> int:
    """``$RECSYS_CORE_MAX_QUEUED`` (default 50): how many jobs may wait for a worker at once."""
    raw = os.environ.get(MAX_QUEUED_ENV, "").strip()
    try:
        value = int(raw) if raw else 50
    except ValueError:
        raise RecsysCoreError(f"{MAX_QUEUED_ENV} must be a whole number, got {raw!r}.") from None
    return max(1, value)


@dataclass
class Job:
    """A queued piece of background work: a training run (``kind="train"``, saved to the store) or
    any other call that reports epochs (``kind="check"``, e.g. a planted-interaction check), whose
    return value lands in ``result``."""

    job_id: str
    config: RunConfig | None
    owner: str = ""
    group: str = ""
    kind: str = "train"
    label: str = ""
    work: Callable[..., Any] | None = None
    result: Any = None
    state: str = "queued"
    epochs: list[dict[str, Any]] = field(default_factory=list)
    run_id: str | None = None
    error: str | None = None
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    eta: float | None = None
    # (epoch, epochs) of the refit on all training rows once early stopping has chosen the count
    refit: tuple[int, int] | None = None
    best_epoch: int | None = None
    test: dict[str, float] = field(default_factory=dict)
    cancel_flag: threading.Event = field(default_factory=threading.Event)
    # a user's prepared table and its FeatureSpec (config.dataset "table"); dropped once trained
    table: Any = field(default=None, repr=False)
    spec: Any = field(default=None, repr=False)

    @property
    def elapsed(self) -> float:
        if self.started is None:
            return 0.0
        return (self.finished or time.time()) - self.started

    @property
    def active(self) -> bool:
        return self.state in ("queued", "running")

    def cancel(self) -> None:
        self.cancel_flag.set()


class JobManager:
    def __init__(
        self,
        runs_dir: str | Path | None = None,
        max_workers: int = 1,
        max_queued: int | None = None,
        after_save: Callable[[str], Any] | None = None,
    ) -> None:
        """``after_save(run_id)`` runs in the worker once a run is saved and its job is done (the
        dashboard computes the run's first maps there), before the worker takes the next job."""
        from recsys_core.runs.store import RunStore

        self.store = RunStore(runs_dir)
        self.max_workers = max_workers
        self.max_queued = default_max_queued() if max_queued is None else max_queued
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="train")
        self.after_save = after_save
        self._jobs: dict[str, Job] = {}  # in submission order, which is the pool's start order
        self._lock = threading.Lock()

    def _enqueue(self, new: list[Job]) -> None:
        """Queue ``new`` all together or not at all (viewer mode, or the queue would overflow)."""
        if access_mode() != "full":
            raise AccessDenied(f"cannot queue a job: {VIEWER_REASON}")
        with self._lock:
            waiting = sum(j.state == "queued" for j in self._jobs.values())
            if waiting + len(new) > self.max_queued:
                raise RecsysCoreError(
                    f"the training queue is full ({waiting} job(s) waiting, at most "
                    f"{self.max_queued}); try again when some have finished."
                )
            for job in new:
                self._jobs[job.job_id] = job
                # inside the lock: the pool starts jobs in the order they enter self._jobs
                self._pool.submit(self._run, job)

    def position(self, job_id: str) -> int | None:
        """How many jobs are ahead of a queued job: those running plus those queued before it
        (0: it starts as soon as a worker is free). None when it is not waiting (or unknown)."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or job.state != "queued" or job.cancel_flag.is_set():
                return None
            ahead = 0
            for other in self._jobs.values():
                if other is job:
                    break
                if other.state == "running" or (
                    other.state == "queued" and not other.cancel_flag.is_set()
                ):
                    ahead += 1
            return ahead

    def running(self) -> int:
        with self._lock:
            return sum(j.state == "running" for j in self._jobs.values())

    def submit(
        self,
        config: RunConfig,
        owner: str = "",
        group: str = "",
        table: Any = None,
        spec: Any = None,
    ) -> Job:
        """Queue one run; ``table`` and ``spec`` train on a user's table instead of ``config.dataset``."""
        job = Job(uuid.uuid4().hex[:12], config, owner, group, table=table, spec=spec)
        self._enqueue([job])
        return job

    def _run(self, job: Job) -> None:
        if job.cancel_flag.is_set():
            job.state, job.finished = "cancelled", time.time()
            return
        job.state, job.started = "running", time.time()

        def on_epoch(log: EpochLog) -> None:
            job.eta = log.eta
            if log.phase == "refit":  # no validation curve: progress only
                job.refit = (log.epoch, log.epochs)
                return
            job.epochs.append(
                {
                    "epoch": log.epoch,
                    "loss": log.train_loss,
                    **{f"val_{k}": v for k, v in log.val.items()},
                }
            )

        try:
            if job.work is not None:
                job.result = job.work(on_epoch=on_epoch, cancel=job.cancel_flag)
            else:
                run = train_run(
                    job.config, job.table, job.spec, on_epoch=on_epoch, cancel=job.cancel_flag
                )
                job.run_id = self.store.save(run).run_id
                job.best_epoch = run.history.best_epoch
                job.test = dict(run.test_metrics)
            job.state = "done"
        except TrainingCancelled:
            job.state = "cancelled"
        except RecsysCoreError as exc:
            job.state, job.error = "failed", str(exc)
        except Exception as exc:  # a worker must never die silently
            job.state, job.error = "failed", f"{type(exc).__name__}: {exc}"
            traceback.print_exc()
        finally:
            job.finished, job.eta = time.time(), 0.0
            job.table = None
        if job.state == "done" and job.run_id is not None and self.after_save is not None:
            try:
                self.after_save(job.run_id)
            except Exception as exc:  # the run is saved; its pages compute what is missing
                log.warning("after saving run %s: %s: %s", job.run_id, type(exc).__name__, exc)

    def submit_call(
        self, label: str, work: Callable[..., Any], owner: str = "", kind: str = "check"
    ) -> Job:
        """Queue ``work(on_epoch=..., cancel=...)`` in the same bounded pool as training runs."""
        job = Job(uuid.uuid4().hex[:12], None, owner, kind=kind, label=label, work=work)
        self._enqueue([job])
        return job

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def jobs(self, owner: str | None = None, kind: str | None = None) -> list[Job]:
        with self._lock:
            jobs = list(self._jobs.values())
        if owner is not None:
            jobs = [j for j in jobs if j.owner == owner]
        if kind is not None:
            jobs = [j for j in jobs if j.kind == kind]
        return sorted(jobs, key=lambda j: j.created, reverse=True)

    def submit_trials(
        self,
        config: RunConfig,
        trials: int,
        owner: str = "",
        table: Any = None,
        spec: Any = None,
    ) -> list[Job]:
        """Queue ``trials`` runs of ``config`` with seeds seed, seed+1, ... sharing one group id."""
        if trials < 1:
            raise RecsysCoreError(f"trials must be >= 1, got {trials}.")
        group = uuid.uuid4().hex[:8]
        jobs = [
            Job(
                uuid.uuid4().hex[:12],
                dataclasses.replace(
                    config, train=dataclasses.replace(config.train, seed=config.train.seed + k)
                ),
                owner,
                group,
                table=table,
                spec=spec,
            )
            for k in range(trials)
        ]
        self._enqueue(jobs)  # all trials or none
        return jobs

    def group_summary(self, group: str) -> dict[str, tuple[float, float]] | None:
        """Mean and standard deviation of each test metric once every job of ``group`` is done."""
        jobs = [j for j in self.jobs() if j.group == group]
        if not jobs or any(j.state != "done" for j in jobs):
            return None
        keys = jobs[0].test.keys()
        return {
            k: (float(np.mean([j.test[k] for j in jobs])), float(np.std([j.test[k] for j in jobs])))
            for k in keys
        }

    def wait(self, job_id: str, timeout: float = 600.0) -> Job:
        """Block until a job leaves the queue/running states (for tests and scripts)."""
        deadline = time.time() + timeout
        job = self._jobs[job_id]
        while job.active and time.time() < deadline:
            time.sleep(0.05)
        return job
