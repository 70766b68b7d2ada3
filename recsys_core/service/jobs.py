"""Jobs: trainings and planted-interaction checks queued for worker processes.

The dashboard (and any script) submits a job here; a worker process (:mod:`.worker`, started by
``recsys-core serve`` or ``recsys-core worker``) runs it in a child process of its own, so a crash,
an out-of-memory kill or an XLA abort fails that job with a message and never the web server, and no
state is shared between jobs. Each job is a JSON record in the queue's storage (:mod:`.queue`): the
worker writes its progress there epoch by epoch, so a reload, another tab, another replica or a
restarted server shows the same job with its live curves, and can cancel it.

Access is checked where jobs are accepted (:meth:`JobQueue.submit`: viewer mode, the trainers list)
and again by the worker before it starts one (its own environment decides).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import socket
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from recsys_core import limits
from recsys_core.access import Access, server_side
from recsys_core.errors import RecsysCoreError
from recsys_core.runs.store import RunStore
from recsys_core.service.queue import Records, huey_at, job_task, queue_url
from recsys_core.training.pipeline import RunConfig

STATES = ("queued", "running", "done", "failed", "cancelled")
ACTIVE = ("queued", "running")
# A running job's worker writes a heartbeat every HEARTBEAT_SECONDS; after STALE_SECONDS without
# one (its machine is gone, or the worker was killed together with the job) the job is reported
# failed. Generous, since a fully loaded machine can stall a process for many seconds.
HEARTBEAT_SECONDS = 2.0
STALE_SECONDS = 90.0
# A worker announces itself this often; one not heard from for twice as long is gone.
WORKER_BEAT_SECONDS = 5.0
KEEP_FINISHED = 200  # finished job records kept for the jobs panel; older ones are dropped


@dataclass
class Job:
    """One queued piece of work and everything known about it, as stored in its record."""

    job_id: str
    # "train": a run saved to the store; "check": a planted-interaction check; "maps": a saved
    # run's first maps (call = {"run_id": ...})
    kind: str = "train"
    state: str = "queued"
    owner: str = ""  # the browser session that submitted it
    user: str | None = None  # the signed-in e-mail, when there is one
    auth: str = "none"  # where ``user`` came from (access.AUTH_KINDS)
    group: str = ""  # trials of one config share a group
    label: str = ""
    config: dict[str, Any] | None = None  # RunConfig.to_dict() of a training
    call: dict[str, Any] | None = None  # a check's keyword arguments
    runs_dir: str = ""
    upload: str | None = None  # an uploaded table, a file in the queue's upload folder
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    epochs: list[dict[str, Any]] = field(default_factory=list)
    refit: list[int] | None = None  # [epoch, epochs] of the refit on all training rows
    eta: float | None = None
    best_epoch: int | None = None
    run_id: str | None = None
    test: dict[str, float] = field(default_factory=dict)
    health: dict[str, Any] | None = None
    result: dict[str, Any] | None = None  # a check's result (PlantedCheck.to_dict())
    error: str | None = None
    worker: str | None = None  # host:pid of the worker running it
    pid: int | None = None  # the job's own process
    maps: str = ""  # "", "computing", "saved" or "failed": the run's first maps after training
    cancel_requested: bool = False  # read from its own key, never stored in the record

    @property
    def run_config(self) -> RunConfig | None:
        return RunConfig.from_dict(self.config) if self.config is not None else None

    @property
    def elapsed(self) -> float:
        if self.started is None:
            return 0.0
        return (self.finished or time.time()) - self.started

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out.pop("cancel_requested")
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Job:
        names = {f.name for f in dataclasses.fields(cls)} - {"cancel_requested"}
        return cls(**{k: v for k, v in data.items() if k in names})


def _job_key(job_id: str) -> str:
    return f"job:{job_id}"


def _cancel_key(job_id: str) -> str:
    return f"cancel:{job_id}"


def _beat_key(job_id: str) -> str:
    return f"beat:{job_id}"


def upload_dir(runs_dir: str | Path) -> Path:
    """Where uploaded tables wait for the workers: inside the run store, which every replica and
    worker machine shares."""
    return Path(runs_dir) / ".queue" / "uploads"


def upload_path(runs_dir: str | Path, file: str) -> Path:
    """The path of the uploaded table ``file`` (a name :meth:`JobQueue.save_upload` gave)."""
    folder = upload_dir(runs_dir).resolve()
    path = (folder / file).resolve()
    if path.parent != folder or file.startswith("."):
        raise RecsysCoreError(f"invalid upload name {file!r}.")
    return path


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class JobQueue:
    """Submit, list, follow and cancel the jobs of one run store's queue.

    ``runs_dir`` is where trainings save their runs (default ``$RECSYS_CORE_RUNS`` or ``./runs``);
    the queue is ``$RECSYS_CORE_QUEUE`` or a SQLite file inside that store.
    """

    def __init__(self, runs_dir: str | Path | None = None, max_queued: int | None = None) -> None:
        self.store = RunStore(runs_dir)
        self.url = queue_url(self.store.root)
        self.huey = huey_at(self.url)
        self.records = Records(self.huey)
        self.max_queued = limits.max_queued() if max_queued is None else max_queued

    # -- submitting ------------------------------------------------------------------------
    def submit(
        self,
        config: RunConfig,
        owner: str = "",
        upload: str | None = None,
        access: Access | None = None,
    ) -> Job:
        """Queue one training of ``config`` (on the uploaded table ``upload``, see
        :meth:`save_upload`), if ``access`` (default: the environment's) may train."""
        return self.submit_trials(config, 1, owner, upload, access)[0]

    def submit_trials(
        self,
        config: RunConfig,
        trials: int,
        owner: str = "",
        upload: str | None = None,
        access: Access | None = None,
    ) -> list[Job]:
        """Queue ``trials`` runs of ``config`` with seeds seed, seed+1, ... sharing one group."""
        if trials < 1:
            raise RecsysCoreError(f"trials must be >= 1, got {trials}.")
        group = uuid.uuid4().hex[:8] if trials > 1 else ""
        jobs = [
            self._new(
                "train",
                owner,
                access,
                group=group,
                config=dataclasses.replace(
                    config, train=dataclasses.replace(config.train, seed=config.train.seed + k)
                ).to_dict(),
                upload=upload,
            )
            for k in range(trials)
        ]
        return self._enqueue(jobs, access)

    def submit_check(
        self, label: str, call: dict[str, Any], owner: str = "", access: Access | None = None
    ) -> Job:
        """Queue a planted-interaction check, ``analysis.validation.planted_check(**call)``."""
        return self._enqueue([self._new("check", owner, access, label=label, call=call)], access)[0]

    def submit_maps(self, run_id: str) -> Job | None:
        """Queue the computation of a saved run's first maps (``dashboard.precompute``) for a
        worker, unless one is already waiting or running for it (then None). It trains nothing
        and writes only beside the run, as any visit of its pages may: no training rights needed."""
        if any(
            j.kind == "maps" and j.active and (j.call or {}).get("run_id") == run_id
            for j in self.jobs(kind="maps")
        ):
            return None
        job = self._new("maps", "", None, label=f"first maps of {run_id}", call={"run_id": run_id})
        return self._enqueue([job], None, require=None)[0]

    def _new(self, kind: str, owner: str, access: Access | None, **fields: Any) -> Job:
        who = access if access is not None else server_side()
        return Job(
            uuid.uuid4().hex[:12],
            kind=kind,
            owner=owner,
            user=who.user,
            auth=who.auth,
            runs_dir=str(self.store.root.resolve()),
            **fields,
        )

    def _enqueue(
        self, jobs: list[Job], access: Access | None, require: str | None = "train"
    ) -> list[Job]:
        """Queue ``jobs`` all together or not at all (access to ``require``, a full queue)."""
        if require is not None:
            (access if access is not None else server_side()).require(require)
        waiting = sum(j.state == "queued" for j in self.jobs(every_store=True))
        if waiting + len(jobs) > self.max_queued:
            raise RecsysCoreError(
                f"the training queue is full ({waiting} job(s) waiting, at most "
                f"{self.max_queued}, {limits.QUEUED.env}); try again when some have finished."
            )
        task = job_task(self.url)
        for job in jobs:
            self.records.put(_job_key(job.job_id), job.to_dict())
            task(job.job_id, self.url)
        return jobs

    def save_upload(self, data: bytes, name: str) -> str:
        """Keep an uploaded table where the workers read it: ``<sha256><suffix>`` in the store's
        upload folder (the same bytes are kept once). Returns that file name for :meth:`submit`."""
        suffix = "".join(c for c in Path(name).suffix.lower() if c.isalnum() or c == ".")[:8]
        file = f"{hashlib.sha256(data).hexdigest()}{suffix}"
        folder = upload_dir(self.store.root)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / file
        if not path.exists():
            tmp = folder / f".{file}.{uuid.uuid4().hex[:6]}"
            tmp.write_bytes(data)
            os.replace(tmp, path)
        return file

    # -- following -------------------------------------------------------------------------
    def get(self, job_id: str) -> Job | None:
        record = self.records.get(_job_key(job_id))
        return None if record is None else self._effective(Job.from_dict(record))

    def _effective(self, job: Job, now: float | None = None) -> Job:
        """The job as the reader should see it: a cancel request, a worker gone silent."""
        now = time.time() if now is None else now
        job.cancel_requested = self.records.get(_cancel_key(job.job_id)) is not None
        if job.state == "queued" and job.cancel_requested:
            job.state, job.finished = "cancelled", job.finished or now
        elif job.state == "running":
            beat = self.records.get(_beat_key(job.job_id)) or {}
            last = float(beat.get("t", job.started or job.created))
            if now - last > STALE_SECONDS:
                done = len(job.epochs)
                job.state = "failed"
                job.error = (
                    f"the worker stopped answering {now - last:.0f} s ago, after {done} "
                    f"epoch{'s' if done != 1 else ''} (its process was killed or its machine "
                    "went away); the job did not finish."
                )
                job.finished = last
        return job

    def jobs(
        self, owner: str | None = None, kind: str | None = None, every_store: bool = False
    ) -> list[Job]:
        """The jobs of this run store, newest first (``owner``/``kind`` narrow them down;
        ``every_store``: also those of other stores sharing the queue, e.g. through Redis)."""
        now = time.time()
        found = [
            self._effective(Job.from_dict(rec), now)
            for _key, rec in self.records.items("job:")
            if isinstance(rec.get("job_id"), str)
        ]
        found.sort(key=lambda j: j.created, reverse=True)
        self._prune(found)
        here = str(self.store.root.resolve())
        return [
            j
            for j in found
            if (every_store or j.runs_dir == here)
            and (owner is None or j.owner == owner)
            and (kind is None or j.kind == kind)
        ]

    def _prune(self, jobs: list[Job]) -> None:
        finished = [j for j in jobs if not j.active]
        for job in finished[KEEP_FINISHED:]:
            for key in (_job_key(job.job_id), _cancel_key(job.job_id), _beat_key(job.job_id)):
                self.records.delete(key)

    def position(self, job_id: str) -> int | None:
        """How many jobs run or wait ahead of a queued job (0: it starts as soon as a worker is
        free); None when it is not waiting."""
        jobs = sorted(self.jobs(every_store=True), key=lambda j: j.created)
        mine = next((j for j in jobs if j.job_id == job_id), None)
        if mine is None or mine.state != "queued":
            return None
        return sum(
            j.state == "running" or (j.state == "queued" and j.created < mine.created)
            for j in jobs
            if j is not mine
        )

    def running(self) -> int:
        return sum(j.state == "running" for j in self.jobs(every_store=True))

    def cancel(self, job_id: str, access: Access | None = None) -> None:
        """Ask the job to stop (a queued job never starts; a running one stops after its epoch)."""
        (access if access is not None else server_side()).require("train")
        self.records.put(_cancel_key(job_id), {"t": time.time()})

    def wait(self, job_id: str, timeout: float = 600.0) -> Job:
        """Block until the job has finished, failed or been cancelled (scripts and tests)."""
        deadline = time.time() + timeout
        while True:
            job = self.get(job_id)
            if job is None:
                raise RecsysCoreError(f"no job {job_id!r} in the queue.")
            if not job.active or time.time() > deadline:
                return job
            time.sleep(0.2)

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

    # -- workers ---------------------------------------------------------------------------
    def workers(self) -> list[dict[str, Any]]:
        """The workers heard from recently, each ``{"name", "threads", "t"}``."""
        now = time.time()
        return [
            rec
            for _key, rec in self.records.items("worker:")
            if now - float(rec.get("t", 0)) < 2 * WORKER_BEAT_SECONDS + 5
        ]

    @property
    def max_workers(self) -> int:
        """How many jobs the live workers run at once (at least 1, for the queue's wording)."""
        return max(1, sum(int(w.get("threads", 1)) for w in self.workers()))
