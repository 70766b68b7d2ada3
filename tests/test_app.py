"""AppTest runs of every page: what each page shows, and that the numbers drawn are the analysis'."""

import json
from pathlib import Path

import numpy as np
import pytest

from recsys_core import dashboard
from recsys_core.analysis import interaction_matrix
from recsys_core.models import MODELS
from recsys_core.runs import RunStore
from tests.app_pages import open_page as _page


@pytest.fixture()
def store_at(monkeypatch):
    def use(path):
        monkeypatch.setenv("RECSYS_CORE_RUNS", str(path))
        for cache in (dashboard.job_manager, dashboard._cached_matrix, dashboard._cached_run,
                      dashboard._cached_pair, dashboard._cached_menu):  # fmt: skip
            cache.cache_clear()

    yield use
    dashboard.job_manager.cache_clear()



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
    heat, *veils, cells = specs[0]["data"]
    expected = interaction_matrix(RunStore(runs_dir).open(saved.run_id)).ordered("group")
    # Cells within the map's noise floor are veiled: exactly those its saved verdict calls so.
    drawn = dashboard.run_matrix(saved.run_id, "native").ordered("group")
    above = np.array(drawn.extra["noise"]["above"], dtype=bool)
    assert [v["name"] for v in veils] == ["within the noise floor"]
    veiled = np.isfinite(plotly_array(veils[0]["z"]).astype(float))
    np.testing.assert_array_equal(veiled, np.isfinite(expected.values) & ~above)
    assert (
        heat["type"] == "heatmap" and heat["x"] == expected.fields and heat["y"] == expected.fields
    )
    np.testing.assert_allclose(plotly_array(heat["z"]), expected.values, rtol=1e-6, equal_nan=True)
    # The transparent click layer covers every computed cell and carries its value on hover.
    finite = np.isfinite(expected.values)
    assert cells["type"] == "scatter" and len(cells["x"]) == finite.sum()
    assert cells["marker"]["opacity"] == 0 and "hovertemplate" in cells
    assert any("held-out rows" in c.value for c in at.caption)
    assert at.query_params["run"] == [saved.run_id] or at.query_params["run"] == saved.run_id
    # The pair detail opens on the strongest pair, with the analysis' numbers.
    a, b = expected.strongest_pairs()[0]
    assert at.selectbox(key="pair").value == f"{a} × {b}"
    detail = dashboard.run_pair_detail(saved.run_id, a, b)
    combos = next(
        s for s in specs if "strongest value combinations" in s["layout"]["title"]["text"]
    )
    np.testing.assert_allclose(
        plotly_array(combos["data"][0]["x"]), detail.strongest(10)["mean"], rtol=1e-6
    )
    assert at.query_params["pair"] in (f"{a}~{b}", [f"{a}~{b}"])


def test_interactions_page_opens_the_pair_named_in_the_url(store_at, saved, runs_dir):
    store_at(runs_dir)
    a, b = saved.meta["fields"][-1], saved.meta["fields"][0]
    at = _page("interactions", run=saved.run_id, pair=f"{b}~{a}")
    assert at.selectbox(key="pair").value in (f"{a} × {b}", f"{b} × {a}")


def test_interactions_page_switches_to_tii_through_the_url(store_at, saved, runs_dir, plotly_array):
    store_at(runs_dir)
    at = _page("interactions", run=saved.run_id, method="tii")
    assert at.selectbox[1].value == "tii"
    heat = _plotly_specs(at)[0]["data"][0]
    expected = interaction_matrix(RunStore(runs_dir).open(saved.run_id), "tii").ordered("group")
    np.testing.assert_allclose(plotly_array(heat["z"]), expected.values, rtol=1e-5, equal_nan=True)
    assert any("total interaction index" in c.value for c in at.caption)


def test_interactions_page_offers_fields_per_column_or_the_models_blocks(
    store_at, saved, runs_dir, plotly_array
):
    """TII opens with one field per input column; the choice, kept in the URL, switches to the
    model's blocks (the continuous block as one field), each map the analysis' numbers."""
    store_at(runs_dir)
    run = RunStore(runs_dir).open(saved.run_id)
    at = _page("interactions", run=saved.run_id, method="tii")
    choice = at.radio(key="fields")
    assert choice.value == "columns" and choice.options == [
        "one per input column",
        "the model's blocks",
    ]
    heat = _plotly_specs(at)[0]["data"][0]
    assert "raw_user_age" in heat["x"] and "continuous" not in heat["x"]
    at = _page("interactions", run=saved.run_id, method="tii", fields="blocks")
    assert at.radio(key="fields").value == "blocks"
    heat = _plotly_specs(at)[0]["data"][0]
    blocks = interaction_matrix(run, "tii", fields="blocks").ordered("group")
    assert heat["x"] == blocks.fields and "continuous" in heat["x"]
    np.testing.assert_allclose(plotly_array(heat["z"]), blocks.values, rtol=1e-5, equal_nan=True)
    assert at.query_params["fields"] in ("blocks", ["blocks"])
    # Native views keep the model's own fields: no choice, and the caption says so.
    at = _page("interactions", run=saved.run_id)
    assert not [r for r in at.radio if r.key == "fields"]
    assert any("the model's own fields" in c.value for c in at.caption)


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
    # Picking another model redraws its hyper-parameters (the model picker is outside the form),
    # grouped under captions, and the choice lands in the URL.
    at.selectbox[0].select(MODELS["autoint"].title).run()
    names = {w.label for w in at.text_input} | {w.label for w in at.number_input}
    assert {"att_layer_num", "att_head_num", "embedding_dim"} <= names and "top_mlp" not in names
    assert {"embeddings", "interaction", "regularisation"} <= {c.value for c in at.caption}
    assert at.query_params["model"] in ("autoint", ["autoint"])


@pytest.mark.movielens
def test_training_from_the_page_lands_a_run(store_at, tmp_path, movielens, worker):
    store_at(tmp_path)
    at = _page("train")
    epochs = next(w for w in at.number_input if w.label.startswith("Epochs"))
    epochs.set_value(1)
    refit = next(w for w in at.checkbox if w.label.startswith("Refit"))
    assert refit.value is True  # the default, as in RunConfig
    refit.uncheck()
    at.button[0].click()
    at.run()
    jobs = dashboard.job_manager().jobs()
    assert len(jobs) == 1
    job = dashboard.job_manager().wait(jobs[0].job_id, timeout=180)
    assert job.state == "done", job.error
    assert job.run_config.refit is False and job.refit is None
    at.run()
    assert any(job.run_id in s.value for s in at.success)
    assert job.run_id in RunStore(tmp_path).list()["run_id"].tolist()
    assert RunStore(tmp_path).open(job.run_id).meta["refit_epochs"] == 0


def test_home_shows_the_committed_leaderboard(store_at, tmp_path, plotly_array):
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
    (dots,) = [s["data"][0] for s in _plotly_specs(at) if s["data"][0].get("error_x")]
    best_first = published.sort_values("rmse_mean")
    assert list(dots["y"]) == best_first["model"].tolist()
    np.testing.assert_allclose(plotly_array(dots["x"]), best_first["rmse_mean"])
    np.testing.assert_allclose(plotly_array(dots["error_x"]["array"]), best_first["rmse_std"])


def _upload_csv() -> bytes:
    from recsys_core.data import synthetic_ratings

    df = synthetic_ratings(n_rows=300, n_users=20, n_movies=25, seed=4)
    df["movie_genres"] = df["movie_genres"].map("|".join)
    df["row_id"] = range(len(df))
    return df.drop(columns=["movie_title"]).to_csv(index=False).encode()


def test_train_page_shows_the_inferred_schema_of_an_upload_and_trains_it(
    store_at, tmp_path, worker
):
    store_at(tmp_path)
    at = _page("train")
    at.radio(key="data_source").set_value("Upload a table").run()
    assert any("Upload a table" in i.value for i in at.info)
    at.file_uploader[0].set_value(("ratings.csv", _upload_csv(), "text/csv")).run()
    assert not at.exception, at.exception
    assert at.selectbox(key="upload_target").value == "user_rating"  # a label-like name
    schema = at.data_editor[0].value.set_index("column")
    assert "user_rating" not in schema.index  # the target is never a feature
    assert schema.loc["movie_genres", "role"] == "multi-hot"
    assert schema.loc["user_occupation_text", "role"] == "categorical"
    assert schema.loc["timestamp", "role"] == "continuous"
    assert schema.loc["row_id", "role"] == "ignore" and "row key" in schema.loc["row_id", "reason"]
    assert not [r for r in at.radio if r.label == "Features"]  # MovieLens presets are hidden
    next(w for w in at.number_input if w.label.startswith("Epochs")).set_value(1)
    at.button[0].click()
    at.run()
    assert not at.error, [e.value for e in at.error]
    (queued,) = dashboard.job_manager().jobs()
    assert at.query_params["job"] in (queued.job_id, [queued.job_id])  # a link back to it
    job = dashboard.job_manager().wait(queued.job_id, timeout=300)
    assert job.state == "done", job.error
    run = RunStore(tmp_path).open(job.run_id)  # trained by the worker from the uploaded bytes
    config = run.config
    assert config.dataset == "table" and config.data["name"] == "ratings.csv"
    assert config.data["rows"] == 300
    assert config.data["spec"]["multi_hot"] == ["movie_genres"]
    assert "row_id" not in run.meta["fields"] and "movie_genres" in run.meta["fields"]
    assert not run.holdout()["movie_genres"].map(lambda v: isinstance(v, str)).any()  # bags
    # who trained it: a dashboard visitor (no sign-in here), with the code's version and commit
    assert run.meta["provenance"]["via"] == "dashboard" and run.meta["provenance"]["user"] is None
    assert run.meta["provenance"]["versions"]["recsys-core"]
    at.run()  # the finished job's card links to the run's page
    links = [(e.proto.page, e.proto.query_string) for e in at.get("page_link")]
    assert ("run", f"id={job.run_id}") in links


def test_train_page_reports_an_unreadable_upload(store_at, tmp_path):
    store_at(tmp_path)
    at = _page("train")
    at.radio(key="data_source").set_value("Upload a table").run()
    at.file_uploader[0].set_value(("bad.csv", "a,b\nJosé,1\n".encode("latin-1"), "text/csv"))
    at.run()
    assert any("not UTF-8" in e.value for e in at.error)
    assert not at.data_editor


def test_upload_helpers_take_bytes_and_a_name():
    preview = dashboard.inspect_upload(_upload_csv(), "ratings.csv")
    assert preview.target == "user_rating"
    edited = preview.editable_schema()
    edited.loc[edited["column"] == "user_id", "group"] = "user"
    edited.loc[edited["column"] == "timestamp", "role"] = "ignore"
    roles, groups = dashboard.schema_choices(edited)
    user = dashboard.prepare_upload(_upload_csv(), "ratings.csv", "user_rating", "binary", roles,
                                    groups, binary_threshold=4)  # fmt: skip
    assert user.spec.groups == {"user_id": "user"} and "timestamp" not in user.spec.continuous
    assert set(user.table["user_rating"].unique()) <= {1.0, 2.0, 3.0, 4.0, 5.0}
    assert user.run_data()["name"] == "ratings.csv" and user.spec.binary_threshold == 4
