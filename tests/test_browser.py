"""A real browser: start the dashboard, load the Interactions page in headless Chromium, see the heatmap."""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

pytestmark = pytest.mark.browser
if not Path(CHROMIUM).exists():
    if os.environ.get("CI"):
        raise RuntimeError(
            "browser tests need Debian's chromium: run `make test` (it installs it)."
        )
    pytest.skip("Debian's chromium is not installed", allow_module_level=True)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(saved, runs_dir):
    port = _free_port()
    env = {**os.environ, "RECSYS_CORE_RUNS": str(runs_dir)}
    cmd = [sys.executable, "-m", "streamlit", "run", str(ROOT / "app" / "main.py"), "--server.headless=true",
           f"--server.port={port}", "--server.address=127.0.0.1", "--browser.gatherUsageStats=false"]  # fmt: skip
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.5)
        else:
            raise RuntimeError("the dashboard did not answer on /_stcore/health")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_interactions_page_draws_the_heatmap(server, saved):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        page.goto(f"{server}/interactions?run={saved.run_id}")
        page.wait_for_selector(
            ".js-plotly-plot .heatmaplayer image, .js-plotly-plot .heatmaplayer path",
            timeout=90_000,
        )
        ticks = page.eval_on_selector_all(
            ".js-plotly-plot .xtick text", "els => els.map(e => e.textContent)"
        )
        assert "continuous" in ticks and "movie_genres" in ticks
        assert page.get_by_text("Download PNG").count() == 1
        browser.close()
