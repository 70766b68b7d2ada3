"""Cross-network views (DCN-V2, DCN): block norms, change from initialisation, attributed pair terms.

Every number is checked against NumPy recomputed from the layers' raw weights; unequal blocks come
from two 3-wide embeddings and two 1-wide continuous columns.
"""

from __future__ import annotations

import random

import keras
import numpy as np
import pandas as pd
import pytest

from recsys_core.analysis.native import FieldScores, native_views
from recsys_core.analysis.native import cross as C
from recsys_core.analysis.native.attention import symmetrised
from recsys_core.analysis.validation import recovery_auc
from recsys_core.data.planted import CTR_FIELDS, planted_table
from recsys_core.errors import RecsysCoreError
from recsys_core.features.preprocessing import Preprocessor
from recsys_core.features.spec import FeatureSpec
from recsys_core.layers.cross_net import CrossNet
from recsys_core.models.dcn import DCN
from recsys_core.models.dcn_v2 import DCNV2
from recsys_core.training import pipeline
from recsys_core.training.engine import TrainConfig
from recsys_core.training.pipeline import RunConfig, train_run

FIELDS = ["a", "b", "c1", "c2"]
WIDTHS = [3, 3, 1, 1]


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {
            "a": rng.integers(0, 5, 64),
            "b": rng.integers(0, 4, 64),
            "c1": rng.normal(size=64),
            "c2": rng.normal(size=64),
            "label": rng.normal(size=64),
        }
    )
    spec = FeatureSpec(
        categorical=("a", "b"),
        continuous=("c1", "c2"),
        target="label",
        task="regression",
        binary_threshold=None,
        groups={"a": "user", "b": "movie"},
    )
    return df, Preprocessor(spec).fit(df)


def tiny(cls, pre, parameterization=None, **kwargs):
    keras.utils.set_random_seed(0)
    model = cls(pre.tables(), ["c1", "c2"], embedding_dim=3, num_cross_layers=2, **kwargs)
    if parameterization:  # DCN's constructor fixes "vector"; the layer also has "matrix"
        model.cross = CrossNet(2, parameterization=parameterization, name="cross_net")
    model.build()
    rng = np.random.default_rng(1)
    for v in model.weights:
        v.assign(rng.normal(scale=0.4, size=v.shape).astype("float32"))
    return model


def paper_w(model, layer):
    """W_l in the paper's orientation (row = output coordinate), from the raw weights."""
    if isinstance(model, DCN):
        k = np.asarray(model.cross.kernels[layer])
        return np.ones((k.shape[0], 1)) @ k.T if k.shape[1] == 1 else k
    if model.cross_mix is not None:
        mix = model.cross_mix
        u, v, c = (np.asarray(w[layer]) for w in (mix.U_list, mix.V_list, mix.C_list))
        return np.mean([u[e] @ c[e] @ v[e].T for e in range(len(u))], axis=0)
    cross = model.cross_layers[layer]
    kernel = np.asarray(cross.dense.kernel)
    if cross.projection_dim is not None:
        kernel = np.asarray(cross.down_proj_dense.kernel) @ kernel
    return kernel.T


def numpy_block_norms(w):
    cuts = np.cumsum(WIDTHS)[:-1]
    idx = np.split(np.arange(w.shape[0]), cuts)
    return np.array(
        [[np.linalg.norm(w[np.ix_(i, j)]) / np.sqrt(len(i) * len(j)) for j in idx] for i in idx]
    )


def flat_numpy(model, x):
    emb = model.embedding.embeddings
    return np.concatenate(
        [np.asarray(emb[n].embeddings)[x[n]] for n in ("a", "b")] + [x["continuous"]], axis=1
    )


KINDS = {
    "full": dict(projection_dim=0),
    "low_rank": dict(projection_dim=2),
    "mix": dict(kind="mix", num_experts=3, low_rank=2),
}


@pytest.mark.parametrize("kind", KINDS)
def test_block_norms_match_numpy(data, kind):
    df, pre = data
    model = tiny(DCNV2, pre, dnn=[4], **KINDS[kind])
    assert [v.name for v in native_views(model)] == ["cross_blocks", "cross_change", "cross_data"]
    view = native_views(model)[0]
    assert view.options(model) == {"layer": 2} and view.kind == "weights-only"
    for layer in range(2):
        m = view.compute(model, pre, df, layer=layer)
        assert m.fields == FIELDS and m.values.shape == (4, 4)
        assert m.groups["a"] == "user" and m.kind == "weights-only"
        np.testing.assert_allclose(
            m.values, numpy_block_norms(paper_w(model, layer)), rtol=1e-5, atol=1e-8
        )
        assert m.extra["layer"] == layer and "diag_scale" in m.extra
    if kind == "low_rank":  # the view never forms d x d: its factors have rank 2
        w = C.cross_weights(model, 0)
        assert w.dense is None and w.left.shape == (8, 2) and w.right.shape == (8, 2)
    if kind == "mix":
        assert C.cross_weights(model, 1).left.shape == (8, 6)  # 3 experts x rank 2


def mix_layer_numpy(mix, i, x0, x):
    u, v, c = (np.asarray(w[i]) for w in (mix.U_list, mix.V_list, mix.C_list))
    logits = np.concatenate([x @ np.asarray(g.kernel) for g in mix.gating], axis=1)
    gates = np.exp(logits - logits.max(axis=1, keepdims=True))
    gates /= gates.sum(axis=1, keepdims=True)
    out = np.zeros_like(x)
    for e in range(mix.num_experts):
        low = np.tanh(np.tanh(x @ v[e]) @ c[e].T)
        out += gates[:, e : e + 1] * x0 * (low @ u[e].T + np.asarray(mix.bias[i]).reshape(1, -1))
    return out + x, gates


def numpy_terms(model, x, layer, centred=True):
    """a[n, i, j] for a model whose output reads x_L linearly (dnn=[]), from raw weights."""
    x0 = flat_numpy(model, x).astype(np.float64)
    h = np.asarray(model.head.kernel)[:, 0]
    n_layers = model.num_cross_layers
    mix = getattr(model, "cross_mix", None)
    ws = [paper_w(model, k) for k in range(n_layers)]
    xs, gates = [x0], []
    for k in range(n_layers):
        if mix is not None:
            nxt, g = mix_layer_numpy(mix, k, x0, xs[-1])
            gates.append(g)
        else:
            if isinstance(model, DCN):
                b = np.asarray(model.cross.bias[k]).reshape(1, -1)
            else:
                b = np.asarray(model.cross_layers[k].dense.bias).reshape(1, -1)
            if isinstance(model, DCN) and model.cross.parameterization == "vector":
                nxt = x0 * (xs[-1] @ ws[k].T) + b + xs[-1]  # x0 (x . w) + b + x
            else:
                nxt = x0 * (xs[-1] @ ws[k].T + b) + xs[-1]
        xs.append(nxt)
    grad = np.tile(h, (len(x0), 1))  # d score / d x_L
    for k in range(n_layers - 1, layer, -1):  # x_{k+1} = x0 * (W_k x_k + b) + x_k
        assert mix is None, "the mix reference covers the last layer only"
        grad = (grad * x0) @ ws[k] + grad
    xl = xs[layer]
    d0 = x0 - x0.mean(0) if centred else x0
    dl = xl - xl.mean(0) if centred else xl
    s = C.block_indicator(np.array(WIDTHS)).astype(np.float64)
    if mix is not None:
        u, v, c = (np.asarray(w[layer]) for w in (mix.U_list, mix.V_list, mix.C_list))
        w_row = sum(
            gates[layer][:, e, None, None] * (u[e] @ c[e] @ v[e].T)[None] for e in range(len(u))
        )
    else:
        w_row = np.broadcast_to(ws[layer], (len(x0), *ws[layer].shape))
    full = (grad * d0)[:, :, None] * w_row * dl[:, None, :]  # (n, c, c')
    return np.einsum("ic,ncd,jd->nij", s, full, s)


@pytest.mark.parametrize("kind", ["full", "low_rank", "mix", "dcn_vector", "dcn_matrix"])
def test_attributed_pair_terms_match_numpy(data, kind):
    df, pre = data
    if kind.startswith("dcn"):
        model = tiny(DCN, pre, kind.split("_")[1], dnn=[], structure="stacked")
    else:
        model = tiny(DCNV2, pre, dnn=[], **KINDS[kind])
    x = pre.transform(df)
    layers = [1] if kind == "mix" else [0, 1]
    for layer in layers:
        got = C.attributed_pair_terms(model, x, layer)
        np.testing.assert_allclose(got, numpy_terms(model, x, layer), rtol=2e-4, atol=2e-5)
    m = C.cross_data_matrix(model, pre, df, layer=layers[-1])
    np.testing.assert_allclose(
        m.values, np.abs(numpy_terms(model, x, layers[-1])).mean(0), rtol=2e-4, atol=2e-5
    )
    assert m.kind == "data-averaged" and m.n_rows == len(df) and m.fields == FIELDS
    if kind == "full":  # uncentred, last layer, linear output: the terms sum to the cross term
        raw = C.attributed_pair_terms(model, x, 1, centred=False)
        x0 = flat_numpy(model, x)
        x1 = x0 * (x0 @ paper_w(model, 0).T + np.asarray(model.cross_layers[0].dense.bias)) + x0
        cross_term = (x0 * (x1 @ paper_w(model, 1).T)) @ np.asarray(model.head.kernel)[:, 0]
        np.testing.assert_allclose(raw.sum(axis=(1, 2)), cross_term, rtol=1e-4, atol=1e-5)


def test_attribution_through_a_deep_network_is_gradient_times_input(data):
    """Stacked MLP: the last layer's terms, summed, are g . (x0 ⊙ W x_1) with g the MLP's
    gradient, so they sum (uncentred) to the first-order change of the score."""
    import jax

    df, pre = data
    model = tiny(DCNV2, pre, dnn=[5], projection_dim=2)
    x = pre.transform(df)
    raw = C.attributed_pair_terms(model, x, 1, centred=False)
    x0 = flat_numpy(model, x)
    b = [np.asarray(layer.dense.bias) for layer in model.cross_layers]
    x1 = x0 * (x0 @ paper_w(model, 0).T + b[0]) + x0
    x2 = x0 * (x1 @ paper_w(model, 1).T + b[1]) + x1

    def head(z):
        dense = model.deep.dense_layers[0]
        hidden = jax.nn.relu(z @ np.asarray(dense.kernel) + np.asarray(dense.bias))
        return (hidden @ np.asarray(model.head.kernel))[:, 0].sum()

    grad = np.asarray(jax.grad(head)(x2))
    expected = (grad * x0 * (x1 @ paper_w(model, 1).T)).sum(axis=1)
    np.testing.assert_allclose(raw.sum(axis=(1, 2)), expected, rtol=1e-4, atol=1e-5)


def test_dcn_views_names_bars_and_errors(data):
    df, pre = data
    vector = tiny(DCN, pre, dnn=[4])
    assert [v.name for v in native_views(vector)] == ["cross_fields", "cross_data"]
    bars = native_views(vector)[0]
    assert bars.shape == "bars" and bars.options(vector) == {"layer": 2}
    for layer in range(2):
        scores = bars.compute(vector, pre, df, layer=layer)
        w = np.asarray(vector.cross.kernels[layer])[:, 0]
        parts = np.split(w, np.cumsum(WIDTHS)[:-1])
        expected = [np.linalg.norm(p) / np.sqrt(len(p)) for p in parts]
        assert isinstance(scores, FieldScores) and scores.fields == FIELDS
        np.testing.assert_allclose(scores.values, expected, rtol=1e-6)
    with pytest.raises(RecsysCoreError, match="cross layer 2 is out of range: the model has 2"):
        bars.compute(vector, pre, df, layer=2)
    with pytest.raises(RecsysCoreError, match="cross_fields"):
        C.cross_block_matrix(vector, pre, df)
    matrix = tiny(DCN, pre, "matrix", dnn=[4])
    assert [v.name for v in native_views(matrix)] == ["cross_blocks", "cross_change", "cross_data"]
    np.testing.assert_allclose(
        C.cross_block_matrix(matrix, pre, df, layer=1).values,
        numpy_block_norms(np.asarray(matrix.cross.kernels[1])),
        rtol=1e-5,
    )
    v2 = tiny(DCNV2, pre, dnn=[4])
    with pytest.raises(RecsysCoreError, match="cross layer 3 is out of range: the model has 2"):
        C.cross_data_matrix(v2, pre, df, layer=3)
    with pytest.raises(RecsysCoreError, match="cross layer -1 is out of range"):
        C.cross_block_matrix(v2, pre, df, layer=-1)
    with pytest.raises(RecsysCoreError, match="seed"):
        C.cross_change_matrix(v2, pre, df)
    with pytest.raises(RecsysCoreError, match="held-out rows"):
        C.cross_data_matrix(v2, pre, df.iloc[:0])


# ---------------------------------------------------------------------------- initial weights


@pytest.fixture(scope="module")
def dcn_table():
    return planted_table("dcn", n_rows=1500, seed=0)


class _Built(Exception):
    """Stops ``train_run`` right after it built the model (its real initial weights)."""


def pipeline_model(monkeypatch, table, hparams, seed, stop=True):
    """Run ``train_run``, keeping the model ``pipeline.build_model`` returned and its cross
    weights at that moment; with ``stop`` the run ends there (no training)."""
    captured = {}
    build = pipeline.build_model

    def capturing(*args, **kwargs):
        model = build(*args, **kwargs)
        captured["model"] = model
        captured["w"] = [C.cross_weights(model, k) for k in range(model.num_cross_layers)]
        if stop:
            raise _Built
        return model

    monkeypatch.setattr(pipeline, "build_model", capturing)
    df, spec, _ = table
    config = RunConfig(
        model="dcn_v2",
        hparams={**hparams, "dnn": [8], "embedding_dim": 4},
        train=TrainConfig(epochs=1, batch_size=256, learning_rate=1e-2, seed=seed),
    )
    try:
        run = train_run(config, table=df, spec=spec)
    except _Built:
        run = None
    return run, captured


@pytest.mark.parametrize("kind", KINDS)
def test_rebuilt_initial_weights_equal_the_pipeline_ones(dcn_table, kind, monkeypatch):
    """``initial_cross_weights`` (rebuild from the config under the seed) reproduces, bit for bit,
    the weights ``train_run`` initialised, and leaves the caller's random state alone."""
    _, captured = pipeline_model(monkeypatch, dcn_table, KINDS[kind], seed=11)
    model = captured["model"]
    random.seed(5)
    expected_next = random.random()
    random.seed(5)
    rebuilt = C.initial_cross_weights(model, 11)
    assert random.random() == expected_next
    for real, again in zip(captured["w"], rebuilt, strict=True):
        np.testing.assert_array_equal(real.full(), again.full())
    if kind != "mix":  # CrossNetMix seeds its initialisers itself (DeepCTR's seed=1024)
        other = C.initial_cross_weights(model, 12)[0].full()
        assert not np.array_equal(other, captured["w"][0].full())


def test_cross_change_of_a_trained_and_reloaded_run(dcn_table, monkeypatch, tmp_path):
    from recsys_core.runs import RunStore

    run, captured = pipeline_model(monkeypatch, dcn_table, KINDS["low_rank"], seed=11, stop=False)
    store = RunStore(tmp_path)
    model = store.open(store.save(run).run_id).model  # a run read back rebuilds the same way
    trained = C.cross_weights(model, 0).full()
    initial = captured["w"][0].full()
    assert not np.array_equal(trained, initial)
    np.testing.assert_array_equal(C.initial_cross_weights(model, 11)[0].full(), initial)
    change = native_views(model)[1].compute(model, run.preprocessor, run.holdout, seed=11)
    assert change.extra["seed"] == 11 and change.values.max() > 0
    np.testing.assert_allclose(
        change.values,
        C.block_norms(C.CrossWeights(dense=trained - initial), np.array([4, 4, 4])),
        rtol=1e-4,
        atol=1e-7,
    )


# ---------------------------------------------------------------------------- recovery

SMALL_FIELDS = tuple(f for f in CTR_FIELDS if f[1] <= 24)  # 8 fields, 28 pairs, 4 planted
PLANTED = {
    # two full-rank cross layers under a stacked Dense(32): test RMSE ~0.55 (label noise 0.5)
    "ctr": (dict(task="regression", fields=SMALL_FIELDS), {"dnn": [32], "num_cross_layers": 2}),
    # the DCN polynomial, one cross layer read linearly: test RMSE ~0.006
    "dcn": ({}, {"dnn": [], "num_cross_layers": 1}),
}


@pytest.fixture(scope="module", params=list(PLANTED))
def planted_run(request):
    table_kwargs, hparams = PLANTED[request.param]
    df, spec, truth = planted_table(request.param, n_rows=6000, seed=0, **table_kwargs)
    config = RunConfig(
        model="dcn_v2",
        hparams={**hparams, "embedding_dim": 8},
        train=TrainConfig(epochs=10, batch_size=256, learning_rate=1e-2, seed=0),
        split_seed=0,
    )
    return train_run(config, table=df, spec=spec), truth


@pytest.mark.parametrize("view", ["cross_blocks", "cross_change", "cross_data"])
def test_dcn_v2_recovers_planted_pairs(planted_run, view):
    """DCN-V2 fitted to a planted table: every cross layer's view, symmetrised over the two
    orientations, ranks the planted pairs above the others (CTR: 4 of 28; DCN polynomial:
    bananas x cookbooks and the weak country x bananas above country x cookbooks)."""
    run, truth = planted_run
    chosen = next(v for v in native_views(run.model) if v.name == view)
    for layer in range(run.model.num_cross_layers):
        m = chosen.compute(run.model, run.preprocessor, run.holdout, layer=layer, seed=0)
        assert m.fields == truth.fields
        auc = recovery_auc(symmetrised(m), truth.pairs)
        assert auc >= 0.9, (view, layer, auc)


# ---------------------------------------------------------------------------- Cross weights page


def test_expert_block_norms_match_numpy(data):
    df, pre = data
    model = tiny(DCNV2, pre, dnn=[4], **KINDS["mix"])
    mix = model.cross_mix
    for layer in range(2):
        experts = C.expert_block_norms(model, layer, pre)
        u, v, c = (np.asarray(w[layer]) for w in (mix.U_list, mix.V_list, mix.C_list))
        assert len(experts) == 3
        for e, m in enumerate(experts):
            assert m.fields == FIELDS and m.kind == "weights-only" and m.groups["a"] == "user"
            assert m.extra == {"layer": layer, "expert": e, "rank": 2}
            np.testing.assert_allclose(
                m.values, numpy_block_norms(u[e] @ c[e] @ v[e].T), rtol=1e-5, atol=1e-8
            )
    with pytest.raises(RecsysCoreError, match="cross layer 2 is out of range"):
        C.expert_block_norms(model, 2)
    with pytest.raises(RecsysCoreError, match="DCN-Mix"):
        C.expert_block_norms(tiny(DCNV2, pre, dnn=[4], projection_dim=2), 0)


@pytest.mark.parametrize("kind", ["full", "low_rank", "mix", "dcn_vector", "dcn_matrix"])
def test_structure_singular_values_and_full_w_match_numpy(data, kind):
    df, pre = data
    if kind.startswith("dcn"):
        model = tiny(DCN, pre, kind.split("_")[1], dnn=[4])
    else:
        model = tiny(DCNV2, pre, dnn=[4], **KINDS[kind])
    structure = C.cross_structure(model)
    rank = {"full": 8, "low_rank": 2, "mix": 6, "dcn_vector": 1, "dcn_matrix": 8}[kind]
    assert (structure.layers, structure.dim, structure.rank) == (2, 8, rank)
    assert structure.fields == FIELDS and structure.widths.tolist() == WIDTHS
    assert structure.factored == (kind in ("low_rank", "mix"))
    spectrum = C.cross_spectrum(model)
    for layer in range(2):
        w = paper_w(model, layer).astype(np.float64)
        expected = np.linalg.svd(w, compute_uv=False)
        got = spectrum.values[layer]
        assert len(got) == (8 if kind in ("full", "dcn_matrix") else rank)
        np.testing.assert_allclose(got, expected[: len(got)], rtol=1e-4, atol=1e-6)
        assert np.all(expected[len(got) :] < 1e-4 * expected[0])  # the rest are zero
        full = C.full_cross_matrix(model, layer)
        np.testing.assert_allclose(full.values, np.abs(w), rtol=1e-5, atol=1e-7)
        assert full.boundaries.tolist() == [3, 6, 7] and full.centres.tolist() == [1, 4, 6, 7]
    with pytest.raises(RecsysCoreError, match="too large to draw"):
        C.full_cross_matrix(model, 0, limit=4)
    with pytest.raises(RecsysCoreError, match="cross layer 2 is out of range"):
        C.full_cross_matrix(model, 2)
