"""The Attention page: AutoInt's layer x head grid on one scale, row search, symmetrising."""

import json
import shutil

import numpy as np
import pytest

from recsys_core import dashboard
from recsys_core.analysis.native.attention import attention_grid
from recsys_core.runs import RunStore
from recsys_core.training import RunConfig, TrainConfig, train_run
from tests.test_app import _page, store_at  # noqa: F401  (fixture)


@pytest.fixture(scope="module")
def autoint_store(table, tmp_path_factory):
    root = tmp_path_factory.mktemp("attention")
    config = RunConfig(
        model="autoint",
        hparams={"att_layer_num": 2, "att_head_num": 2},
        train=TrainConfig(epochs=2, batch_size=256),
    )
    saved = RunStore(root).save(train_run(config, table=table))
    return root, saved.run_id


def _specs(at):
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def test_grid_shows_every_layer_and_head_on_one_scale(store_at, autoint_store, plotly_array):  # noqa: F811
    root, run_id = autoint_store
    store_at(root)
    at = _page("attention", run=run_id, rel="0")
    fig = _specs(at)[0]
    heats = [t for t in fig["data"] if t["type"] == "heatmap"]
    run = RunStore(root).open(run_id)
    expected = attention_grid(run.model, run.preprocessor, run.holdout())
    assert len(heats) == len(expected) == 4
    for heat, matrix in zip(heats, expected, strict=True):
        np.testing.assert_allclose(plotly_array(heat["z"]), matrix.values, rtol=1e-5)
        assert heat.get("coloraxis") == "coloraxis"  # one shared scale
    # softmax rows sum to one
    np.testing.assert_allclose(expected[0].values.sum(axis=1), 1.0, rtol=1e-4)


def test_relative_and_symmetrised_views(store_at, autoint_store, plotly_array):  # noqa: F811
    root, run_id = autoint_store
    store_at(root)
    at = _page("attention", run=run_id, rel="1", sym="1")
    heats = [t for t in _specs(at)[0]["data"] if t["type"] == "heatmap"]
    z = plotly_array(heats[0]["z"])
    run = RunStore(root).open(run_id)
    a = attention_grid(run.model, run.preprocessor, run.holdout())[0].values
    f = a.shape[0]
    expected = (a + a.T) / 2 - 1.0 / f
    np.fill_diagonal(expected, np.nan)
    np.testing.assert_allclose(z, expected, rtol=1e-4, atol=1e-7, equal_nan=True)


def test_row_search_finds_rows_by_id(autoint_store, store_at):  # noqa: F811
    root, run_id = autoint_store
    store_at(root)
    rows = dashboard.open_run(run_id).holdout()
    user = str(rows["user_id"].iloc[3])
    hits = dashboard.search_holdout(run_id, user)
    same_user = rows.index[rows["user_id"].astype(str) == user]
    assert 3 in hits.index and set(same_user[:50]) <= set(hits.index)
    title = rows["movie_title"].iloc[5]
    by_title = dashboard.search_holdout(run_id, title.upper())
    assert 5 in by_title.index and (by_title["movie_title"].str.lower() == title.lower()).any()
    assert dashboard.search_holdout(run_id, "no such thing anywhere").empty


def test_no_attention_run_says_what_to_train(store_at, saved, runs_dir, tmp_path):  # noqa: F811
    shutil.copytree(runs_dir / saved.run_id, tmp_path / saved.run_id)  # a DLRM: no attention
    store_at(tmp_path)
    at = _page("attention")
    assert any("AutoInt" in i.value for i in at.info)
