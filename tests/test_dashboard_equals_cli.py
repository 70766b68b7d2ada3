"""The invariant of issue #13: a config trained through the dashboard's job path is the model
`recsys-core train` trains with that config and seed, also while other sessions compute maps,
export figures and end their script runs (which clears Keras' session in the server process)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from streamlit.runtime.scriptrunner import script_runner

from recsys_core import dashboard
from recsys_core.service.keras_state import keep_keras_state
from recsys_core.training import RunConfig, TrainConfig

EPOCHS = 3


def _cli_run(runs: Path, model: str) -> dict:
    argv = [sys.executable, "-m", "recsys_core.cli", "train", "--model", model, "--epochs",
            str(EPOCHS), "--runs-dir", str(runs), "--quiet"]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    (run_json,) = runs.glob("*/run.json")
    return json.loads(run_json.read_text())


def _busy_sessions(stop: threading.Event, saved_run: str, errors: list) -> list[threading.Thread]:
    """What other sessions of the same server do meanwhile: maps, exports, script runs ending."""
    from recsys_core.viz.export import figure_bytes
    from recsys_core.viz.heatmap import heatmap_figure

    def maps() -> None:
        while not stop.is_set():
            try:
                dashboard._cached_matrix.cache_clear()
                matrix = dashboard.run_matrix(saved_run, "tii")
                figure_bytes(heatmap_figure(matrix), "png")
            except Exception as exc:  # reported by the test, never swallowed
                errors.append(exc)
                return

    def reruns() -> None:
        while not stop.is_set():
            script_runner._clean_problem_modules()  # as when any session's script run ends
            stop.wait(0.05)

    return [threading.Thread(target=maps), threading.Thread(target=reruns)]


@pytest.mark.movielens
@pytest.mark.parametrize("model", ["dlrm", "dcn_v2"])
def test_a_dashboard_training_equals_the_cli_while_other_sessions_work(
    model, movielens, worker, saved, tmp_path, monkeypatch
):
    cli = _cli_run(tmp_path / "cli", model)
    keep_keras_state()  # as app/main.py does in the server process
    store = tmp_path / "dashboard"  # the served store, holding an earlier run for the others
    shutil.copytree(saved.path, store / saved.run_id)
    monkeypatch.setenv("RECSYS_CORE_RUNS", str(store))
    dashboard.job_manager.cache_clear()
    stop, errors = threading.Event(), []
    threads = _busy_sessions(stop, saved.run_id, errors)
    for thread in threads:
        thread.start()
    try:
        config = RunConfig(model=model, train=TrainConfig(epochs=EPOCHS))
        (job,) = dashboard.submit_training(config)
        done = dashboard.job_manager().wait(job.job_id, timeout=900)
    finally:
        stop.set()
        for thread in threads:
            thread.join(120)
        dashboard.job_manager.cache_clear()
    assert not errors, errors
    assert done.state == "done", done.error
    served = json.loads((store / done.run_id / "run.json").read_text())
    assert served["config"] == cli["config"]
    assert served["history"] == [
        {**row, "seconds": served_row["seconds"]}
        for row, served_row in zip(cli["history"], served["history"], strict=True)
    ]  # every epoch's training loss and validation metrics, bit for bit
    assert served["test"] == cli["test"] and done.test == cli["test"]
    assert served["best_epoch"] == cli["best_epoch"]
    assert served["refit_epochs"] == cli["refit_epochs"]
    assert served["health"]["status"] == cli["health"]["status"] == "learned"
