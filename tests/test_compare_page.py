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
    at = _page("compare", a=first, b=second, method="tii")
    board = at.dataframe[0].value
    assert set(board["run_id"]) == {first, second}
    assert list(board["test_rmse"]) == sorted(board["test_rmse"])  # best first
    specs = [json.loads(el.proto.spec) for el in at.get("plotly_chart")]
    ha, hb, hd = (s["data"][0] for s in specs[:3])
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
    assert (
        ha["zmax"]
        == hb["zmax"]
        == pytest.approx(max(np.nanmax(ma.values), np.nanmax(mb.values)), rel=1e-6)
    )
    assert hd["zmid"] == 0


def test_compare_with_one_run_asks_for_a_second(store_at, saved, runs_dir, tmp_path):  # noqa: F811
    shutil.copytree(runs_dir / saved.run_id, tmp_path / saved.run_id)
    store_at(tmp_path)
    at = _page("compare")
    assert any("second run" in i.value for i in at.info)
