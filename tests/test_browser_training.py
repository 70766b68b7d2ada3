"""In a real browser, as an analyst: train two models through the Train page of `recsys-core serve`
while another tab opens a map and exports it, reload the Train page mid-training, and get the very
runs `recsys-core train` gives for the same configs."""

from __future__ import annotations

import json
import shutil
import time

import pytest

from recsys_core.service.jobs import JobQueue
from tests.browser_support import HEATMAP, chromium, dashboard, require_chromium
from tests.test_dashboard_equals_cli import EPOCHS, _cli_run

pytestmark = [pytest.mark.browser, pytest.mark.movielens]
require_chromium()


@pytest.fixture
def served(tmp_path, saved):
    """``recsys-core serve`` over a fresh store holding one earlier run, its queue in the store."""
    runs = tmp_path / "runs"
    shutil.copytree(saved.path, runs / saved.run_id)
    with dashboard(runs, tmp_path / "serve.log", serve=True) as url:
        yield url, runs


def _start_training(page, url: str, model: str) -> None:
    page.goto(f"{url}/train?model={model}")
    epochs = page.get_by_label("Epochs (at most; early stopping on validation)")
    epochs.wait_for(timeout=90_000)
    epochs.fill(str(EPOCHS))
    epochs.press("Tab")
    page.get_by_role("button", name="Start training").click()


def test_two_trainings_through_the_browser_equal_the_cli(served, saved, tmp_path, monkeypatch):

    url, runs = served
    monkeypatch.delenv("RECSYS_CORE_QUEUE")  # the served store's own queue, as the server reads it
    queue = JobQueue(runs)
    with chromium() as browser:
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
    for job in done:
        model = job.run_config.model
        cli = _cli_run(tmp_path / f"cli-{model}", model)
        served_run = json.loads((runs / job.run_id / "run.json").read_text())
        assert served_run["config"] == cli["config"]
        assert [(e["loss"], e.get("val_rmse")) for e in served_run["history"]] == [
            (e["loss"], e.get("val_rmse")) for e in cli["history"]
        ]
        assert served_run["test"] == cli["test"], model
