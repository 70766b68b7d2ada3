"""The Cross weights page: every cross layer's block norms on one scale, the full |W|, singular
values and DCN-Mix experts, each checked against NumPy recomputed from the layers' raw weights."""

import json

import numpy as np
import pytest

from recsys_core import dashboard
from recsys_core.analysis.native import cross as C
from recsys_core.data import synthetic_ratings
from recsys_core.runs import RunStore
from recsys_core.training import RunConfig, TrainConfig, train_run
from tests.test_app import _page, store_at  # noqa: F401  (fixture)

SMALL = {"embedding_dim": 4, "num_cross_layers": 2, "dnn": [8]}
RUNS = {
    "full": ("dcn_v2", {**SMALL, "projection_dim": 0}),
    "low_rank": ("dcn_v2", {**SMALL, "projection_dim": 3}),
    "mix": ("dcn_v2", {**SMALL, "kind": "mix", "num_experts": 3, "low_rank": 2}),
    "dcn": ("dcn", SMALL),
}


@pytest.fixture(scope="module")
def cross_store(tmp_path_factory):
    """One store with a tiny run of each cross parametrisation (1 epoch on 600 rows)."""
    root = tmp_path_factory.mktemp("cross")
    table = synthetic_ratings(n_rows=600, seed=0)
    store = RunStore(root)
    ids = {}
    for name, (model, hparams) in RUNS.items():
        config = RunConfig(
            model=model, hparams=hparams, train=TrainConfig(epochs=1, batch_size=128)
        )
        ids[name] = store.save(train_run(config, table=table)).run_id
    return root, ids


@pytest.fixture()
def at_store(store_at, cross_store):  # noqa: F811
    root, ids = cross_store
    store_at(root)
    for cache in (dashboard._cached_full_cross, dashboard._cached_spectrum, dashboard._cached_experts):  # fmt: skip
        cache.cache_clear()
    return ids


def _figures(at):
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def _titled(at, text):
    found = [f for f in _figures(at) if text in (f["layout"].get("title") or {}).get("text", "")]
    assert found, [f["layout"].get("title") for f in _figures(at)]
    return found[0]


def _heats(fig):
    return [t for t in fig["data"] if t["type"] == "heatmap"]


def numpy_w(model, layer):
    """W_l (row = output coordinate, multiplied by x0) from the raw Keras weights."""
    if hasattr(model, "cross_mix") and model.cross_mix is not None:
        mix = model.cross_mix
        u, v, c = (np.asarray(w[layer]) for w in (mix.U_list, mix.V_list, mix.C_list))
        return np.mean([u[e] @ c[e] @ v[e].T for e in range(len(u))], axis=0)
    if hasattr(model, "cross_layers"):
        cross = model.cross_layers[layer]
        kernel = np.asarray(cross.dense.kernel)
        if cross.projection_dim is not None:
            kernel = np.asarray(cross.down_proj_dense.kernel) @ kernel  # Keras kernel = U V
        return kernel.T
    return np.asarray(model.cross.kernels[layer])


def numpy_block_norms(w, widths):
    idx = np.split(np.arange(w.shape[0]), np.cumsum(widths)[:-1])
    return np.array(
        [[np.linalg.norm(w[np.ix_(i, j)]) / np.sqrt(len(i) * len(j)) for j in idx] for i in idx]
    )


def _widths(model):
    return np.array([w for _, w in model.flat_blocks()])


@pytest.mark.parametrize("kind", ["full", "low_rank"])
def test_layers_side_by_side_and_one_large(at_store, kind, plotly_array):
    run_id = at_store[kind]
    at = _page("cross", run=run_id, layer="2")
    model = dashboard.open_run(run_id).model
    grid = _titled(at, "every cross layer on one colour scale")
    heats = _heats(grid)
    assert len(heats) == 2 and all(h.get("coloraxis") == "coloraxis" for h in heats)
    expected = [numpy_block_norms(numpy_w(model, k), _widths(model)) for k in range(2)]
    for heat, values in zip(heats, expected, strict=True):
        np.testing.assert_allclose(plotly_array(heat["z"]), values, rtol=1e-5, atol=1e-8)
    top = max(v.max() for v in expected)
    assert grid["layout"]["coloraxis"]["cmax"] == pytest.approx(top, rel=1e-6)
    large = _titled(at, "layer 2 of 2: block RMS of W")
    np.testing.assert_allclose(plotly_array(large["data"][0]["z"]), expected[1], rtol=1e-5)
    assert large["data"][0]["zmax"] == pytest.approx(top, rel=1e-6)  # the grid's scale
    assert any("weights-only" in c.value for c in at.caption)
    assert at.query_params["layer"] in ("2", ["2"])
    # The singular values of every layer's W, from the factors for the low-rank run.
    spectrum = _titled(at, "Singular values")
    for k, trace in enumerate(spectrum["data"]):
        svd = np.linalg.svd(numpy_w(model, k).astype(np.float64), compute_uv=False)
        n = 3 if kind == "low_rank" else len(svd)
        np.testing.assert_allclose(plotly_array(trace["y"]), svd[:n], rtol=1e-4, atol=1e-6)
    if kind == "low_rank":
        assert np.linalg.matrix_rank(numpy_w(model, 0)) == 3
        assert any("rank 3" in m.value for m in at.markdown)
    labels = [b.label for b in at.get("download_button")]
    assert {"PNG", "SVG", "HTML"} <= set(labels)


@pytest.mark.parametrize("kind", ["full", "low_rank"])
def test_full_w_on_demand_with_field_blocks(at_store, kind, plotly_array):
    run_id = at_store[kind]
    assert not any("|W| (" in f["layout"]["title"]["text"] for f in _figures(_page("cross", run=run_id)))  # fmt: skip
    at = _page("cross", run=run_id, layer="1", full="1")
    model = dashboard.open_run(run_id).model
    fig = _titled(at, "|W| (")
    expected = np.abs(numpy_w(model, 0))  # |kernelᵀ|, or |(U V)ᵀ| of the Keras factors
    np.testing.assert_allclose(plotly_array(fig["data"][0]["z"]), expected, rtol=1e-5, atol=1e-7)
    widths = _widths(model)
    names = [n for n, _ in model.flat_blocks()]
    assert fig["layout"]["xaxis"]["ticktext"] == names
    centres = np.cumsum(widths) - widths + (widths - 1) / 2
    np.testing.assert_allclose(fig["layout"]["xaxis"]["tickvals"], centres)
    lines = {s["x0"] for s in fig["layout"]["shapes"] if s["x0"] == s["x1"]}
    assert lines == {b - 0.5 for b in np.cumsum(widths)[:-1]}


def test_change_view_per_layer(at_store, plotly_array):
    run_id = at_store["low_rank"]
    at = _page("cross", run=run_id, view="change")
    heats = _heats(_titled(at, "Change from initialisation, every cross layer"))
    run = dashboard.open_run(run_id)
    initial = C.initial_model(run.model, run.config.train.seed)
    for k, heat in enumerate(heats):
        change = numpy_w(run.model, k) - numpy_w(initial, k)
        np.testing.assert_allclose(
            plotly_array(heat["z"]),
            numpy_block_norms(change, _widths(run.model)),
            rtol=1e-4,
            atol=1e-7,
        )


def test_mix_shows_each_expert_and_the_gate_free_mean(at_store, plotly_array):
    run_id = at_store["mix"]
    at = _page("cross", run=run_id, layer="2")
    model = dashboard.open_run(run_id).model
    heats = _heats(_titled(at, "each expert's W_e, layer 2"))
    assert len(heats) == 4  # 3 experts + their mean
    mix = model.cross_mix
    u, v, c = (np.asarray(w[1]) for w in (mix.U_list, mix.V_list, mix.C_list))
    for e in range(3):
        expected = numpy_block_norms(u[e] @ c[e] @ v[e].T, _widths(model))
        np.testing.assert_allclose(plotly_array(heats[e]["z"]), expected, rtol=1e-5, atol=1e-8)
    mean = numpy_block_norms(numpy_w(model, 1), _widths(model))
    np.testing.assert_allclose(plotly_array(heats[3]["z"]), mean, rtol=1e-5, atol=1e-8)
    svd = np.linalg.svd(numpy_w(model, 1).astype(np.float64), compute_uv=False)
    spectrum = _titled(at, "Singular values")["data"][1]
    np.testing.assert_allclose(plotly_array(spectrum["y"]), svd[:6], rtol=1e-4, atol=1e-6)


def test_dcn_v1_shows_bars_and_says_why(at_store, plotly_array):
    run_id = at_store["dcn"]
    at = _page("cross", run=run_id, layer="2")
    assert any("rank one" in i.value for i in at.info)
    fig = _titled(at, "RMS of w per field")
    bars = [t for t in fig["data"] if t["type"] == "bar"]
    assert bars and not any(_heats(f) for f in _figures(at))
    model = dashboard.open_run(run_id).model
    w = np.asarray(model.cross.kernels[1])[:, 0]
    parts = np.split(w, np.cumsum(_widths(model))[:-1])
    expected = dict(zip([n for n, _ in model.flat_blocks()], [np.linalg.norm(p) / np.sqrt(len(p)) for p in parts], strict=True))  # fmt: skip
    for bar in bars:
        for name, value in zip(bar["y"], plotly_array(bar["x"]), strict=True):
            assert value == pytest.approx(expected[name], rel=1e-5)


def test_data_view_draws_cross_data(at_store, plotly_array):
    run_id = at_store["full"]
    at = _page("cross", run=run_id, view="data")
    heats = _heats(_titled(at, "Data-aware pair terms, every cross layer"))
    for k, heat in enumerate(heats):
        expected = dashboard.run_matrix(run_id, "native", view="cross_data", layer=k)
        np.testing.assert_allclose(plotly_array(heat["z"]), expected.values, rtol=1e-5)
    assert any("data-averaged" in c.value for c in at.caption)


def test_out_of_range_layer_is_clamped_with_a_warning(at_store):
    at = _page("cross", run=at_store["full"], layer="7")
    assert any("Layer 7 is out of range" in w.value for w in at.warning)
    assert at.selectbox[1].value == 2  # the last layer
    assert at.query_params["layer"] in ("2", ["2"])
    at = _page("cross", run=at_store["full"], layer="x")
    assert any("not a number" in w.value for w in at.warning)


def test_no_cross_run_says_what_to_train(store_at, tmp_path):  # noqa: F811
    store_at(tmp_path)
    at = _page("cross")
    assert any("No DCN / DCN-V2 run yet" in i.value for i in at.info)
