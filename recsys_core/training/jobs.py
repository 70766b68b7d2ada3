"""Background training jobs: a bounded worker pool shared by every dashboard session.

Training runs in worker threads (JAX releases the GIL while XLA computes), so pages stay responsive.
Each job records its epochs as they finish, so any page can draw live curves by polling.
"""

from __future__ import annotations

import threading
import time
import traceback
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recsys_core.errors import RecsysCoreError
from recsys_core.training.engine import EpochLog, TrainingCancelled
from recsys_core.training.pipeline import RunConfig, train_run

STATES = ("queued", "running", "done", "failed", "cancelled")


@dataclass
class Job:
    job_id: str
    config: RunConfig
    owner: str = ""
    state: str = "queued"
    epochs: list[dict[str, Any]] = field(default_factory=list)
    run_id: str | None = None
    error: str | None = None
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    eta: float | None = None
    best_epoch: int | None = None
    cancel_flag: threading.Event = field(default_factory=threading.Event)

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
    def __init__(self, runs_dir: str | Path | None = None, max_workers: int = 1) -> None:
        from recsys_core.runs.store import RunStore

        self.store = RunStore(runs_dir)
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="train")
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def submit(self, config: RunConfig, owner: str = "") -> Job:
        job = Job(uuid.uuid4().hex[:12], config, owner)
        with self._lock:
            self._jobs[job.job_id] = job
        self._pool.submit(self._run, job)
        return job

    def _run(self, job: Job) -> None:
        if job.cancel_flag.is_set():
            job.state, job.finished = "cancelled", time.time()
            return
        job.state, job.started = "running", time.time()

        def on_epoch(log: EpochLog) -> None:
            job.epochs.append(
                {
                    "epoch": log.epoch,
                    "loss": log.train_loss,
                    **{f"val_{k}": v for k, v in log.val.items()},
                }
            )
            job.eta = log.eta

        try:
            run = train_run(job.config, on_epoch=on_epoch, cancel=job.cancel_flag)
            job.run_id = self.store.save(run).run_id
            job.best_epoch = run.history.best_epoch
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

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def jobs(self, owner: str | None = None) -> list[Job]:
        with self._lock:
            jobs = list(self._jobs.values())
        if owner is not None:
            jobs = [j for j in jobs if j.owner == owner]
        return sorted(jobs, key=lambda j: j.created, reverse=True)

    def wait(self, job_id: str, timeout: float = 600.0) -> Job:
        """Block until a job leaves the queue/running states (for tests and scripts)."""
        deadline = time.time() + timeout
        job = self._jobs[job_id]
        while job.active and time.time() < deadline:
            time.sleep(0.05)
        return job
