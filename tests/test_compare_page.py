"""The Compare page: leaderboard of runs, two maps on one scale and axes, and their difference."""

import json
import shutil

import numpy as np
import pytest

from recsys_core.analysis import interaction_matrix
from recsys_core.runs import RunStore
from recsys_core.training import RunConfig, TrainConfig, train_run
from tests.test_app import _page, store_at  # noqa: F401  (fixture)


@pytest.fixture(scope="module")
def two_runs(saved, runs_dir, table, tmp_path_factory):
    root = tmp_path_factory.mktemp("compare")
    shutil.copytree(runs_dir / saved.run_id, root / saved.run_id)
    other = train_run(
        RunConfig(model="fm", train=TrainConfig(epochs=2, batch_size=256)), table=table
    )
    return root, saved.run_id, RunStore(root).save(other).run_id


def test_compare_page_draws_both_maps_on_common_axes_and_one_scale(
    store_at,  # noqa: F811
    two_runs,
    plotly_array,
):
    root, first, second = two_runs
    store_at(root)
    at = _page("compare", a=first, b=second, method="tii")  # the run page's older link form
    board = at.dataframe[0].value
    assert set(board["run_id"]) == {first, second}
    assert list(board["test_rmse"]) == sorted(board["test_rmse"])  # best first
    assert at.multiselect[0].value == [first, second]
    specs = [json.loads(el.proto.spec) for el in at.get("plotly_chart")]
    grid, diff = specs[0], specs[1]
    ha, hb = (t for t in grid["data"] if t["type"] == "heatmap")
    (hd,) = (t for t in diff["data"] if t["type"] == "heatmap" and t.get("showscale") is not False)
    store = RunStore(root)
    ma = interaction_matrix(store.open(first), "tii").ordered("group")
    mb = interaction_matrix(store.open(second), "tii")
    assert ha["x"] == hb["x"] == hd["x"] == ma.fields
    idx = [mb.fields.index(f) for f in ma.fields]
    np.testing.assert_allclose(plotly_array(ha["z"]), ma.values, rtol=1e-5, equal_nan=True)
    np.testing.assert_allclose(
        plotly_array(hb["z"]), mb.values[np.ix_(idx, idx)], rtol=1e-5, equal_nan=True
    )
    np.testing.assert_allclose(
        plotly_array(hd["z"]), mb.values[np.ix_(idx, idx)] - ma.values, rtol=1e-4, atol=1e-6,
        equal_nan=True,
    )  # fmt: skip
    assert ha["coloraxis"] == hb["coloraxis"] == "coloraxis"  # one colour scale for both
    assert grid["layout"]["coloraxis"]["cmax"] == pytest.approx(
        max(np.nanmax(ma.values), np.nanmax(mb.values)), rel=1e-6
    )
    assert "rating" in grid["layout"]["coloraxis"]["colorbar"]["title"]["text"]  # its unit
    assert hd["zmid"] == 0
    assert at.query_params["runs"] in ([f"{first},{second}"], f"{first},{second}")


def test_compare_with_one_run_asks_for_a_second(store_at, saved, runs_dir, tmp_path):  # noqa: F811
    shutil.copytree(runs_dir / saved.run_id, tmp_path / saved.run_id)
    store_at(tmp_path)
    at = _page("compare")
    assert any("second run" in i.value for i in at.info)


def test_compare_calls_runs_by_their_names(store_at, two_runs):  # noqa: F811
    root, first, second = two_runs
    RunStore(root).annotate(second, name="FM, 2 epochs")
    try:
        store_at(root)
        at = _page("compare", runs=f"{first},{second}", method="tii")
        labels = [e.proto.label for e in at.get("page_link")]
        assert first in labels and f"FM, 2 epochs · {second}" in labels  # each run's page
        assert at.multiselect[0].value == [first, second]  # the link still holds ids
        board = at.dataframe[0].value.set_index("run_id")
        assert board.loc[second, "name"] == "FM, 2 epochs"
    finally:
        RunStore(root).annotate(second, name="")
