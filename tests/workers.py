"""Start and stop ``recsys-core worker`` processes for tests, as ``recsys-core serve`` does."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator

from recsys_core.service.queue import Records, huey_at, queue_url


@contextlib.contextmanager
def running_worker(
    runs_dir: str | None = None, threads: int = 1, **env: str
) -> Iterator[subprocess.Popen]:
    """A worker of the queue that ``env`` (on top of this process's environment) names, ready
    (announced in the queue) when the block starts, stopped with SIGTERM when it ends."""
    full = {**os.environ, **env}
    args = [sys.executable, "-m", "recsys_core.cli", "worker", "--threads", str(threads)]
    if runs_dir is not None:
        args += ["--runs-dir", str(runs_dir)]
    fd, log_path = tempfile.mkstemp(prefix="recsys-core-worker-", suffix=".log")
    proc = subprocess.Popen(args, env=full, stdout=fd, stderr=subprocess.STDOUT)
    os.close(fd)
    proc.log_path = log_path  # type: ignore[attr-defined]  (what it printed, for failing tests)
    url = full.get("RECSYS_CORE_QUEUE") or queue_url(runs_dir or full.get("RECSYS_CORE_RUNS", "runs"))
    records = Records(huey_at(url))
    deadline = time.time() + 120
    try:
        while not any(str(rec.get("name", "")).endswith(f":{proc.pid}")
                      for _key, rec in records.items("worker:")):  # fmt: skip
            if proc.poll() is not None or time.time() > deadline:
                with open(log_path, encoding="utf-8", errors="replace") as f:
                    out = f.read()
                raise RuntimeError(f"the worker did not start (exit {proc.poll()}):\n{out[-3000:]}")
            time.sleep(0.2)
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
