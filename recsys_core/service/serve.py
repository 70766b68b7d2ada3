"""``recsys-core serve``: the dashboard and its worker, started and stopped together.

The web server (``streamlit run app/main.py``) only accepts and shows jobs; a worker process runs
them (:mod:`.worker`). This starts both as child processes, forwards SIGINT/SIGTERM to them, and
stops the other when either exits, so ``make app`` and the Docker image need one command.
``--workers 0`` starts the dashboard alone (workers elsewhere share its queue through Redis).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from recsys_core.errors import RecsysCoreError


def app_path(given: str | None = None) -> Path:
    """The dashboard's entry point: ``given``, else ``app/main.py`` in the current folder or in
    the checkout this package was installed from."""
    candidates = [Path(given)] if given else [
        Path.cwd() / "app" / "main.py",
        Path(__file__).resolve().parents[2] / "app" / "main.py",
    ]
    for path in candidates:
        if path.is_file():
            return path
    raise RecsysCoreError(
        f"the dashboard's app/main.py was not found (looked at {', '.join(map(str, candidates))}); "
        "run from the project's folder or pass --app PATH."
    )


def serve(
    port: int | None = None,
    workers: int = 1,
    app: str | None = None,
    runs_dir: str | None = None,
    streamlit_args: list[str] | None = None,
) -> int:
    """Run the dashboard and ``workers`` worker processes until one of them exits. ``port``
    (default: Streamlit's configuration, 8501) is where the dashboard listens."""
    env = dict(os.environ)
    if runs_dir:
        env["RECSYS_CORE_RUNS"] = str(Path(runs_dir).resolve())
    main = app_path(app)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "recsys_core.cli", "worker"], env=env
        )
        for _ in range(workers)
    ]
    procs.append(
        subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(main),
             *(["--server.port", str(port)] if port else []), *(streamlit_args or [])],
            env=env,
        )
    )  # fmt: skip

    def forward(signum: int, _frame: object) -> None:
        for proc in procs:
            with contextlib.suppress(OSError):
                proc.send_signal(signum)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, forward)
    try:
        while all(proc.poll() is None for proc in procs):
            time.sleep(0.5)
    finally:
        for proc in procs:
            if proc.poll() is None:
                with contextlib.suppress(OSError):
                    proc.terminate()
        for proc in procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
    return next((p.returncode for p in procs if p.returncode), 0)
