"""The job queue: huey, with its SQLite storage inside the run store or a shared Redis.

Where the queue lives is ``$RECSYS_CORE_QUEUE``:

- unset (the default): ``sqlite:///<runs>/.queue/queue.db``, a SQLite file inside the run store, so
  one ``recsys-core serve`` needs nothing else started, and a restarted server finds its jobs;
- ``sqlite:///PATH``: another SQLite file (one machine; SQLite is not safe on network volumes);
- ``redis://HOST:PORT/DB``: a Redis server, for several dashboard replicas and worker machines
  sharing one queue (Debian's ``redis-server``; the ``redis`` package).

Besides huey's own task messages, the same storage holds the job records (``records``): one JSON
document per job, so every server process and tab sees the same jobs, their progress and results.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from huey import Huey, RedisHuey, SqliteHuey
from huey.api import TaskWrapper
from huey.constants import EmptyData

from recsys_core.errors import RecsysCoreError

QUEUE_ENV = "RECSYS_CORE_QUEUE"
QUEUE_NAME = "recsys-core"
TASK_NAME = "recsys_core.run_job"


def queue_url(runs_dir: str | Path) -> str:
    """``$RECSYS_CORE_QUEUE``, or the SQLite queue inside the run store ``runs_dir``."""
    url = os.environ.get(QUEUE_ENV, "").strip()
    if url:
        return url
    return f"sqlite:///{Path(runs_dir).resolve() / '.queue' / 'queue.db'}"


@functools.lru_cache(maxsize=8)
def huey_at(url: str) -> Huey:
    """The huey instance for ``url`` (one per process and URL)."""
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RecsysCoreError(f"cannot create the job queue's folder: {exc.strerror}.") from None
        # results=False: a job's outcome is its record (below), not huey's pickled return value
        huey: Huey = SqliteHuey(QUEUE_NAME, filename=str(path), results=False, timeout=30)
    elif url.startswith(("redis://", "rediss://", "unix://")):
        huey = RedisHuey(QUEUE_NAME, url=url, results=False)
    else:
        raise RecsysCoreError(
            f"{QUEUE_ENV}={url!r} is not a queue URL: use sqlite:///PATH or redis://HOST:PORT/DB."
        )
    return huey


@functools.lru_cache(maxsize=8)
def job_task(url: str) -> TaskWrapper:
    """The task that runs one job (``worker.run_job(job_id, url)``), registered on ``url``'s
    huey: calling it queues a job; the consumer of ``recsys-core worker`` executes it."""
    from recsys_core.service.worker import run_job

    return huey_at(url).task(name=TASK_NAME)(run_job)


class Records:
    """JSON documents by key in the queue's storage (huey's key/value store), shared by every
    process that opens the same queue: job records, cancel requests, worker heartbeats."""

    def __init__(self, huey: Huey) -> None:
        self.storage = huey.storage

    def put(self, key: str, value: dict[str, Any]) -> None:
        self.storage.put_data(key, json.dumps(value, default=float).encode("utf-8"))

    def get(self, key: str) -> dict[str, Any] | None:
        raw = self.storage.peek_data(key)
        if raw is EmptyData:
            return None
        try:
            value = json.loads(bytes(raw).decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return None  # not ours, or damaged: treated as absent
        return value if isinstance(value, dict) else None

    def delete(self, key: str) -> None:
        self.storage.delete_data(key)

    def items(self, prefix: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every ``(key, document)`` whose key starts with ``prefix``."""
        for key, raw in self.storage.result_items().items():
            if not key.startswith(prefix):
                continue
            try:
                value = json.loads(bytes(raw).decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                continue
            if isinstance(value, dict):
                yield key, value
