"""What the browser tests share: Debian's chromium (a skip without it, an error in CI), the
dashboard served on a free local port, and a headless browser."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
HEATMAP = ".js-plotly-plot .heatmaplayer image, .js-plotly-plot .heatmaplayer path"
STREAMLIT_FLAGS = [
    "--server.headless=true",
    "--server.address=127.0.0.1",
    "--browser.gatherUsageStats=false",
]


def require_chromium() -> None:
    """Skip the calling test module without Debian's chromium; in CI its absence is an error,
    since `make test` installs it."""
    if Path(CHROMIUM).exists():
        return
    if os.environ.get("CI"):
        raise RuntimeError(
            "browser tests need Debian's chromium: run `make test` (it installs it)."
        )
    pytest.skip("Debian's chromium is not installed", allow_module_level=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def dashboard(runs: Path, log: Path, *, serve: bool = False) -> Iterator[str]:
    """The dashboard over the run store ``runs``, its output in ``log``, stopped on exit; yields
    its URL once ``/_stcore/health`` answers. ``serve``: through ``recsys-core serve`` (the
    dashboard with its job worker, the queue inside the store) rather than Streamlit alone."""
    port = free_port()
    env = {**os.environ, "RECSYS_CORE_RUNS": str(runs)}
    if serve:
        env.pop("RECSYS_CORE_QUEUE", None)
        cmd = [sys.executable, "-m", "recsys_core.cli", "serve", "--port", str(port), "--"]
    else:
        cmd = [sys.executable, "-m", "streamlit", "run", str(ROOT / "app" / "main.py"),
               f"--server.port={port}"]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen([*cmd, *STREAMLIT_FLAGS], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while True:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                    break
            except OSError:
                assert time.time() < deadline and proc.poll() is None, log.read_text()[-3000:]
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=60)


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's chromium, headless, through Playwright (no browser download)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
