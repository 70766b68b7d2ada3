"""In a real browser, as an analyst: train two models through the Train page of `recsys-core serve`
while another tab opens a map and exports it, reload the Train page mid-training, and get the very
runs `recsys-core train` gives for the same configs."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from recsys_core.service.jobs import JobQueue
from tests.test_dashboard_equals_cli import EPOCHS, _cli_run

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
HEATMAP = ".js-plotly-plot .heatmaplayer image, .js-plotly-plot .heatmaplayer path"

pytestmark = [pytest.mark.browser, pytest.mark.movielens]
if not Path(CHROMIUM).exists():
    if os.environ.get("CI"):
        raise RuntimeError("browser tests need Debian's chromium: run `make test` (it installs it).")
    pytest.skip("Debian's chromium is not installed", allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(tmp_path, saved):
    """``recsys-core serve`` over a fresh store holding one earlier run, its queue in the store."""
    runs = tmp_path / "runs"
    shutil.copytree(saved.path, runs / saved.run_id)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "RECSYS_CORE_QUEUE"}
    env["RECSYS_CORE_RUNS"] = str(runs)
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "recsys_core.cli", "serve", "--port", str(port), "--",
         "--server.headless=true", "--server.address=127.0.0.1",
         "--browser.gatherUsageStats=false"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while True:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                    break
            except OSError:
                assert time.time() < deadline and proc.poll() is None, (
                    tmp_path / "serve.log"
                ).read_text()[-3000:]
                time.sleep(0.5)
        yield url, runs
    finally:
        proc.terminate()
        proc.wait(60)


def _start_training(page, url: str, model: str) -> None:
    page.goto(f"{url}/train?model={model}")
    epochs = page.get_by_label("Epochs (at most; early stopping on validation)")
    epochs.wait_for(timeout=90_000)
    epochs.fill(str(EPOCHS))
    epochs.press("Tab")
    page.get_by_role("button", name="Start training").click()


def test_two_trainings_through_the_browser_equal_the_cli(served, saved, tmp_path, monkeypatch):
    from playwright.sync_api import sync_playwright

    url, runs = served
    monkeypatch.delenv("RECSYS_CORE_QUEUE")  # the served store's own queue, as the server reads it
    queue = JobQueue(runs)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        context = browser.new_context(viewport={"width": 1300, "height": 1400}, accept_downloads=True)
        trainer, analyst = context.new_page(), context.new_page()
        _start_training(trainer, url, "dlrm")
        # another tab draws an earlier run's map and exports it while the first model trains
        analyst.goto(f"{url}/interactions?run={saved.run_id}")
        analyst.wait_for_selector(HEATMAP, timeout=120_000)
        with analyst.expect_download(timeout=120_000) as info:
            analyst.get_by_role("button", name="PNG", exact=True).first.click()
        info.value.save_as(tmp_path / "map.png")
        assert (tmp_path / "map.png").read_bytes()[:4] == b"\x89PNG"
        # the second training queues behind the first; then a reload of the Train page
        _start_training(trainer, url, "dcn_v2")
        deadline = time.time() + 60
        while len(jobs := queue.jobs(kind="train")) < 2 and time.time() < deadline:
            time.sleep(0.2)
        assert len(jobs) == 2 and any(j.active for j in jobs)
        trainer.reload()
        for job in jobs:  # the reloaded page still shows both jobs
            trainer.get_by_text(job.job_id, exact=False).first.wait_for(timeout=60_000)
        analyst.goto(f"{url}/interactions?run={saved.run_id}&method=tii")
        analyst.wait_for_selector(HEATMAP, timeout=120_000)
        done = [queue.wait(j.job_id, timeout=1200) for j in jobs]
        assert [j.state for j in done] == ["done", "done"], [j.error for j in done]
        trainer.reload()
        for job in done:
            trainer.get_by_text(f"Saved as run {job.run_id}", exact=False).wait_for(timeout=60_000)
        assert trainer.locator("[data-testid='stException']").count() == 0
        assert analyst.locator("[data-testid='stException']").count() == 0
        browser.close()
    for job in done:
        model = job.run_config.model
        cli = _cli_run(tmp_path / f"cli-{model}", model)
        served_run = json.loads((runs / job.run_id / "run.json").read_text())
        assert served_run["config"] == cli["config"]
        assert [(e["loss"], e.get("val_rmse")) for e in served_run["history"]] == [
            (e["loss"], e.get("val_rmse")) for e in cli["history"]
        ]
        assert served_run["test"] == cli["test"], model
