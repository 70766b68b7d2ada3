"""AppTest runs of every page: what each page shows, and that the numbers drawn are the analysis'."""

import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from recsys_core import dashboard
from recsys_core.analysis import interaction_matrix
from recsys_core.models import MODELS
from recsys_core.runs import RunStore

APP = str(Path(__file__).resolve().parents[1] / "app" / "main.py")


@pytest.fixture()
def store_at(monkeypatch):
    def use(path):
        monkeypatch.setenv("RECSYS_CORE_RUNS", str(path))
        dashboard.job_manager.cache_clear()
        dashboard._cached_matrix.cache_clear()

    yield use
    dashboard.job_manager.cache_clear()


def _page(name, **query):
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update(query)
    at.run()
    if name != "home":
        at.switch_page(f"../pages/{name}.py")
        at.run()
    assert not at.exception, at.exception
    return at


def _plotly_specs(at):
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def test_home_without_runs_says_how_to_start(store_at, tmp_path):
    store_at(tmp_path)
    at = _page("home")
    assert "What did your recommender learn" in at.title[0].value
    assert any("No runs yet" in i.value for i in at.info)


def test_home_lists_saved_runs(store_at, saved, runs_dir):
    store_at(runs_dir)
    at = _page("home")
    assert saved.run_id in at.dataframe[0].value["run_id"].tolist()


def test_interactions_page_draws_the_analysis_numbers(store_at, saved, runs_dir, plotly_array):
    store_at(runs_dir)
    at = _page("interactions", run=saved.run_id)
    assert at.selectbox[0].value == saved.run_id
    specs = _plotly_specs(at)
    assert len(specs) == 1
    heat = specs[0]["data"][0]
    expected = interaction_matrix(RunStore(runs_dir).open(saved.run_id)).ordered("group")
    assert (
        heat["type"] == "heatmap" and heat["x"] == expected.fields and heat["y"] == expected.fields
    )
    np.testing.assert_allclose(plotly_array(heat["z"]), expected.values, rtol=1e-6, equal_nan=True)
    assert any("held-out rows" in c.value for c in at.caption)
    assert at.query_params["run"] == [saved.run_id] or at.query_params["run"] == saved.run_id


def test_interactions_page_switches_to_tii_through_the_url(store_at, saved, runs_dir, plotly_array):
    store_at(runs_dir)
    at = _page("interactions", run=saved.run_id, method="tii")
    assert at.selectbox[1].value == "tii"
    heat = _plotly_specs(at)[0]["data"][0]
    expected = interaction_matrix(RunStore(runs_dir).open(saved.run_id), "tii").ordered("group")
    np.testing.assert_allclose(plotly_array(heat["z"]), expected.values, rtol=1e-5, equal_nan=True)
    assert any("total interaction index" in c.value for c in at.caption)


def test_interactions_without_runs_shows_empty_state(store_at, tmp_path):
    store_at(tmp_path)
    at = _page("interactions")
    assert any("No runs yet" in i.value for i in at.info)
    assert not _plotly_specs(at)


def test_train_page_offers_every_model_and_its_hyper_parameters(store_at, tmp_path):
    store_at(tmp_path)
    at = _page("train")
    assert at.selectbox[0].options == [MODELS[m].title for m in sorted(MODELS)]
    names = {w.label for w in at.text_input} | {w.label for w in at.number_input}
    assert {
        "top_mlp",
        "bottom_mlp",
        "embedding_dim",
        "Epochs (at most; early stopping on validation)",
    } <= names
    assert any("No training jobs" in i.value for i in at.info)


@pytest.mark.movielens
def test_training_from_the_page_lands_a_run(store_at, tmp_path, movielens):
    store_at(tmp_path)
    at = _page("train")
    epochs = next(w for w in at.number_input if w.label.startswith("Epochs"))
    epochs.set_value(1)
    at.button[0].click()
    at.run()
    jobs = dashboard.job_manager().jobs()
    assert len(jobs) == 1
    job = dashboard.job_manager().wait(jobs[0].job_id, timeout=180)
    assert job.state == "done", job.error
    at.run()
    assert any(job.run_id in s.value for s in at.success)
    assert job.run_id in RunStore(tmp_path).list()["run_id"].tolist()


def test_home_shows_the_committed_leaderboard(store_at, tmp_path):
    import pandas as pd

    store_at(tmp_path)
    published = pd.read_csv(
        Path(__file__).resolve().parents[1] / "docs" / "leaderboard-regression.csv"
    )
    at = _page("home")
    shown = [d.value for d in at.dataframe if "rmse_mean" in d.value.columns]
    assert len(shown) == 1
    assert shown[0]["model"].tolist() == published["model"].tolist()
    np.testing.assert_allclose(shown[0]["rmse_mean"], published["rmse_mean"])
