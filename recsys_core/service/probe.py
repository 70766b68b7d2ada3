"""Load a saved run's model in a child process first, so that one bad run cannot kill the server.

Loading ``model.keras`` makes Keras build the model from its config and allocate every weight, and
XLA calls ``abort()`` when an allocation is impossible (a tampered config asking for a 4e9-row
table) — in the server's process that ends every session. ``runs.validate`` refuses the cases it
can recognise statically; this catches the rest by loading each run once in a child forked from the
worker's fork server, under the job memory limit and a time limit, before the server loads it
itself. A child that dies, runs out of memory or raises makes the run "cannot be opened" with that
reason; the verdict is kept per process for that exact ``model.keras`` (path, size, mtime).
"""

from __future__ import annotations

import contextlib
import threading
import traceback
from pathlib import Path
from typing import Any

from recsys_core.errors import RunStoreError

PROBE_TIMEOUT_S = 300.0  # a model that takes longer than this to load is not served
# True in a process that is itself contained (a worker's job): its loads need no probe
contained = False
_verdicts: dict[tuple[str, int, int], str | None] = {}
_lock = threading.Lock()


def _fingerprint(path: Path) -> tuple[str, int, int]:
    stat = (path / "model.keras").stat()
    return (str(path.resolve()), stat.st_size, stat.st_mtime_ns)


def ensure_loadable(path: Path, run_id: str) -> None:
    """Raise ``RunStoreError`` unless the run's model loaded cleanly in a child process (checked
    once per process and model file)."""
    if contained:
        return
    try:
        key = _fingerprint(path)
    except OSError:
        return  # no model file: the load itself says so
    with _lock:  # one probe per file at a time; others wait for its verdict
        if key not in _verdicts:
            _verdicts[key] = _probe(path)
        reason = _verdicts[key]
    if reason is not None:
        raise RunStoreError(f"run {run_id!r}: model.keras cannot be loaded: {reason}")


def _probe(path: Path, load: Any = None) -> str | None:
    """Run ``load(path, conn)`` (default: load the run's model) in a child; None when it exited
    cleanly, else what went wrong in one line."""
    from recsys_core.service.worker import _context, death_of, job_memory_mb, watch_child

    ctx = _context()
    ours, theirs = ctx.Pipe(duplex=False)
    child = ctx.Process(target=load or _load, args=(str(path), theirs), name="probe-model")
    child.start()
    theirs.close()
    try:
        stopped = watch_child(child, job_memory_mb(), PROBE_TIMEOUT_S, what="model load")
        child.join()
        try:  # a one-line error, if the child sent one before closing its end
            message = ours.recv() if ours.poll() else None
        except EOFError:
            message = None
    finally:
        ours.close()
    if stopped is not None:
        return f"loading it was {stopped}"
    if child.exitcode == 0:
        return None
    return message or f"the process loading it {death_of(child.exitcode)}"


def _load(path: str, conn: Any) -> None:
    """In the child: load the model as the server would; report a Python error in one line."""
    from recsys_core.runs.store import RunStore

    code = 0
    try:
        run_dir = Path(path)
        RunStore(run_dir.parent).open(run_dir.name).model  # noqa: B018
    except Exception as exc:
        code = 2
        with contextlib.suppress(Exception):
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            conn.send(first[:400])
        traceback.print_exc()
    finally:
        conn.close()
    raise SystemExit(code)
