"""Pairwise families' native views (FM, FwFM, DeepFM, DeepFEFM, NFM, PNN, DLRM): pair terms and
pure interaction against NumPy recomputed from the weights, exactness per row, sqrt(TII) for an FM,
and recovery of the planted CTR pairs."""

from __future__ import annotations

import numpy as np
import pytest

from recsys_core.analysis.native import native_view, native_views
from recsys_core.analysis.native.pairwise import PairKernel, pair_terms, pure_interaction
from recsys_core.analysis.tii import tii_from_inputs
from recsys_core.analysis.validation import recovery_auc
from recsys_core.errors import RecsysCoreError
from recsys_core.layers.field_inputs import pair_index
from recsys_core.models.pure import model_params, score_fn
from recsys_core.models.registry import get_entry
from tests.analysis.native_planted import (
    field_vectors,
    planted_data,
    randomised,
    train,
    upper_sum,
    weights,
)

HPARAMS = {
    "fm": {},
    "fwfm": {},
    "deepfm": {"dnn": [32]},
    "dlrm": {"top_mlp": [32, 16], "epochs": 15},  # its dot views reach AUC ~0.93 (8 epochs: ~0.9)
    "deepfefm": {"dnn": [32]},
}
OFF = ~np.eye(8, dtype=bool)


@pytest.fixture(scope="module")
def data():
    return planted_data()


@pytest.fixture(scope="module")
def fitted(data):
    """``fitted(name)``: the model fitted on the planted table, once per module."""
    fit, _, pre, _ = data
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = train(name, pre, fit, **HPARAMS[name])
        return cache[name]

    return get


def _gram(e):
    return np.einsum("nid,njd->nij", e, e)


def _cov(e):
    c = e - e.mean(axis=0)
    return np.einsum("nid,nie->ide", c, c) / len(e)


def _check_common(m, model, pre, n_rows, view, kind="data-averaged"):
    assert m.fields == list(model.field_names) and m.values.shape == (8, 8)
    assert m.method == "native" and m.kind == kind and m.n_rows == n_rows
    assert m.extra["view"] == view and m.title
    assert m.groups == {f: pre.spec.group_of(f) for f in model.field_names}
    assert np.isnan(np.diag(m.values)).all() and np.isfinite(m.values[OFF]).all()
    np.testing.assert_allclose(m.values, m.values.T, equal_nan=True)
    if n_rows > 1:
        assert f"{n_rows:,} held-out rows" in m.description
    m.to_json()


def test_shared_kernels_on_a_known_example():
    """pair_terms / pure_interaction on hand-made vectors: dot, strengths, matrices, element-wise."""
    rng = np.random.default_rng(0)
    e = rng.normal(size=(500, 3, 2))
    gram, cov = _gram(e), _cov(e)
    t = pair_terms(e)
    assert np.isnan(t[:, 0, 0]).all()
    np.testing.assert_allclose(t[:, 0, 1], gram[:, 0, 1])
    r = np.array([[0, 2.0, -1], [2.0, 0, 3], [-1, 3, 0]])
    np.testing.assert_allclose(pair_terms(e, PairKernel(strengths=r))[:, 1, 2], 3 * gram[:, 1, 2])
    m = rng.normal(size=(3, 3, 2, 2))
    m = m + np.transpose(m, (1, 0, 3, 2))  # M_ji = M_ij^T
    np.testing.assert_allclose(
        pair_terms(e, PairKernel(matrices=m))[:, 0, 2],
        np.einsum("nd,de,ne->n", e[:, 0], m[0, 2], e[:, 2]),
    )
    np.testing.assert_allclose(
        pair_terms(e, PairKernel(elementwise=True))[:, 0, 1],
        np.linalg.norm(e[:, 0] * e[:, 1], axis=1),
    )
    p = pure_interaction(e)
    assert np.isnan(p[1, 1]) and p[0, 1] == pytest.approx(np.sqrt(np.trace(cov[0] @ cov[1])))
    assert pure_interaction(e, PairKernel(strengths=r))[0, 2] == pytest.approx(p[0, 2])
    assert pure_interaction(e, PairKernel(matrices=m))[0, 2] == pytest.approx(
        np.sqrt(np.trace(cov[0] @ m[0, 2] @ cov[2] @ m[0, 2].T))
    )
    assert pure_interaction(e, PairKernel(elementwise=True))[0, 1] == pytest.approx(
        np.sqrt(np.diag(cov[0]) @ np.diag(cov[1]))
    )
    with pytest.raises(RecsysCoreError, match="at least 2 held-out rows"):
        pure_interaction(e[:1])


@pytest.mark.parametrize(
    ("name", "hparams", "names"),
    [
        ("fm", {}, ["pair_terms", "pure_interaction"]),
        ("fwfm", {}, ["pair_terms", "pure_interaction", "field_weights"]),
        ("deepfm", {}, ["pair_terms", "pure_interaction"]),
        ("deepfefm", {}, ["pair_terms", "pure_interaction"]),
        ("nfm", {}, ["pair_terms", "pure_interaction"]),
        ("pnn", {}, ["pair_terms", "pure_interaction"]),
        ("pnn", {"product_type": "outer"}, ["outer_terms", "pure_interaction"]),
        ("pnn", {"product_type": "both"}, ["pair_terms", "outer_terms", "pure_interaction"]),
        ("dlrm", {}, ["pair_terms", "pure_interaction"]),
    ],
)
def test_views_are_listed_primary_first(data, name, hparams, names):
    model = get_entry(name).cls(tables=data[2].tables(), **hparams)  # views need no weights
    views = native_views(model)
    assert [v.name for v in views] == names
    per_row = {"fm", "fwfm", "deepfm", "deepfefm"}
    assert views[0].per_row == (name in per_row)
    assert native_view(model).name == names[0]


@pytest.mark.parametrize("name", ["fm", "deepfm"])
def test_fm_pair_terms_and_pure_interaction_match_numpy(data, fitted, name):
    _, holdout, pre, _ = data
    model = fitted(name)
    x = pre.transform(holdout)
    e = field_vectors(model, pre, x)
    gram = _gram(e)

    m = native_view(model, "pair_terms").compute(model, pre, holdout)
    _check_common(m, model, pre, len(holdout), "pair_terms")
    np.testing.assert_allclose(m.values[OFF], np.abs(gram).mean(0)[OFF], rtol=1e-4, atol=1e-6)
    assert not m.signed and "exact" in m.description

    one = native_view(model, "pair_terms").compute(model, pre, holdout, row=7)
    _check_common(one, model, pre, 1, "pair_terms", kind="exact decomposition")
    assert one.signed and "row 7" in one.description
    np.testing.assert_allclose(one.values[OFF], gram[7][OFF], rtol=1e-4, atol=1e-6)
    # the signed terms of a row sum to exactly what the model's FM layer adds to its score
    fm_term = np.asarray(model.fm(model.field_matrix(pre.transform(holdout.iloc[[7]]))))[0, 0]
    assert upper_sum(one.values) == pytest.approx(fm_term, rel=1e-4, abs=1e-5)

    p = native_view(model, "pure_interaction").compute(model, pre, holdout)
    _check_common(p, model, pre, len(holdout), "pure_interaction")
    cov = _cov(e)
    expected = np.sqrt(np.einsum("ide,jed->ij", cov, cov))
    np.testing.assert_allclose(p.values[OFF], expected[OFF], rtol=1e-4, atol=1e-6)


def test_fm_pure_interaction_squared_is_its_tii(data, fitted):
    """For an FM, TII_ij = tr(S_i S_j) (analysis/tii.py): the pure interaction squared matches the
    substitution estimate within 4 Monte-Carlo standard errors (planted fields are independent)."""
    _, holdout, pre, _ = data
    model = fitted("fm")
    p = native_view(model, "pure_interaction").compute(model, pre, holdout)
    est = tii_from_inputs(
        score_fn(model),
        pre.transform(holdout),
        list(model.field_names),
        seed=0,
        n_boot=0,
        params=model_params(model),
    )
    for k, (i, j) in enumerate(est.pairs):
        bound = 4 * est.squared[:, k].std() / np.sqrt(len(holdout)) + 1e-6
        assert abs(p.values[i, j] ** 2 - est.tii[i, j]) < bound, (
            i,
            j,
            p.values[i, j],
            est.tii[i, j],
        )


def test_fwfm_views_match_numpy(data, fitted):
    _, holdout, pre, _ = data
    model = fitted("fwfm")
    x = pre.transform(holdout)
    e = field_vectors(model, pre, x)
    upper = np.triu(weights(model)["fwfm/fwfm/field_pair_strengths"], 1)
    r = upper + upper.T
    gram = _gram(e)

    m = native_view(model, "pair_terms").compute(model, pre, holdout)
    _check_common(m, model, pre, len(holdout), "pair_terms")
    np.testing.assert_allclose(m.values[OFF], np.abs(r * gram).mean(0)[OFF], rtol=1e-4, atol=1e-6)

    one = native_view(model, "pair_terms").compute(model, pre, holdout, row=0)
    fwfm_term = np.asarray(model.fwfm(model.field_matrix(pre.transform(holdout.iloc[[0]]))))[0, 0]
    assert upper_sum(one.values) == pytest.approx(fwfm_term, rel=1e-4, abs=1e-5)

    p = native_view(model, "pure_interaction").compute(model, pre, holdout)
    cov = _cov(e)
    expected = np.abs(r) * np.sqrt(np.einsum("ide,jed->ij", cov, cov))
    np.testing.assert_allclose(p.values[OFF], expected[OFF], rtol=1e-4, atol=1e-6)

    w = native_view(model, "field_weights").compute(model, pre, holdout)
    _check_common(w, model, pre, 0, "field_weights", kind="weights-only")
    np.testing.assert_allclose(w.values[OFF], np.abs(r)[OFF], rtol=1e-6)
    np.testing.assert_allclose(np.array(w.extra["r"]), r, rtol=1e-6)


def test_deepfefm_views_match_numpy(data, fitted):
    _, holdout, pre, _ = data
    model = fitted("deepfefm")
    x = pre.transform(holdout)
    e = field_vectors(model, pre, x)
    w = weights(model)
    terms, pure = np.full((len(e), 8, 8), np.nan), np.full((8, 8), np.nan)
    cov = _cov(e)
    for i, j in pair_index(8):
        mij = w[f"deepfefm/fefm/field_embeddings{i}-{j}"]
        mij = mij + mij.T
        terms[:, i, j] = terms[:, j, i] = np.einsum("nd,de,ne->n", e[:, i], mij, e[:, j])
        pure[i, j] = pure[j, i] = np.sqrt(np.trace(cov[i] @ mij @ cov[j] @ mij.T))

    m = native_view(model, "pair_terms").compute(model, pre, holdout)
    _check_common(m, model, pre, len(holdout), "pair_terms")
    np.testing.assert_allclose(m.values[OFF], np.abs(terms).mean(0)[OFF], rtol=1e-4, atol=1e-6)
    one = native_view(model, "pair_terms").compute(model, pre, holdout, row=5)
    np.testing.assert_allclose(one.values[OFF], terms[5][OFF], rtol=1e-4, atol=1e-6)
    # the FEFM logit of the row (sum of the layer's pair outputs)
    fefm_logit = np.asarray(model.fefm(model.field_matrix(pre.transform(holdout.iloc[[5]])))).sum()
    assert upper_sum(one.values) == pytest.approx(fefm_logit, rel=1e-4, abs=1e-5)
    p = native_view(model, "pure_interaction").compute(model, pre, holdout)
    np.testing.assert_allclose(p.values[OFF], pure[OFF], rtol=1e-4, atol=1e-6)


def test_dlrm_pure_interaction_matches_numpy(data, fitted):
    _, holdout, pre, _ = data
    model = fitted("dlrm")
    e = field_vectors(model, pre, pre.transform(holdout))
    cov = _cov(e)
    p = native_view(model, "pure_interaction").compute(model, pre, holdout)
    _check_common(p, model, pre, len(holdout), "pure_interaction")
    expected = np.sqrt(np.einsum("ide,jed->ij", cov, cov))
    np.testing.assert_allclose(p.values[OFF], expected[OFF], rtol=1e-4, atol=1e-6)
    assert "top MLP" in p.description


def test_nfm_views_match_numpy(data):
    _, holdout, pre, _ = data
    model = randomised("nfm", pre, dnn=[4])
    e = field_vectors(model, pre, pre.transform(holdout))
    sq = e**2
    m = native_view(model, "pair_terms").compute(model, pre, holdout)
    _check_common(m, model, pre, len(holdout), "pair_terms")
    expected = np.sqrt(np.einsum("nid,njd->nij", sq, sq)).mean(0)
    np.testing.assert_allclose(m.values[OFF], expected[OFF], rtol=1e-4, atol=1e-6)
    assert "element-wise" in m.description and "exact" not in m.description
    var = e.var(axis=0)
    p = native_view(model, "pure_interaction").compute(model, pre, holdout)
    np.testing.assert_allclose(p.values[OFF], np.sqrt(var @ var.T)[OFF], rtol=1e-4, atol=1e-6)
    with pytest.raises(RecsysCoreError, match="takes no row"):
        native_view(model, "pair_terms").compute(model, pre, holdout, row=0)


def _outer_matrices(k, kernel_type, d):
    """OPNN's kernel as one (D, D) matrix M_k per pair with out_k = e_i^T M_k e_j."""
    if kernel_type == "mat":
        return [k[:, p, :].T for p in range(k.shape[1])]
    if kernel_type == "vec":
        return [np.diag(row) for row in k]
    return [v * np.eye(d) for v in k[:, 0]]


def test_pnn_inner_and_outer_terms_match_numpy(data):
    _, holdout, pre, _ = data
    model = randomised("pnn", pre, dnn=[4], product_type="both", kernel_type="mat")
    x = pre.transform(holdout)
    e = field_vectors(model, pre, x)
    inner = native_view(model, "pair_terms").compute(model, pre, holdout)
    _check_common(inner, model, pre, len(holdout), "pair_terms")
    np.testing.assert_allclose(
        inner.values[OFF], np.abs(_gram(e)).mean(0)[OFF], rtol=1e-4, atol=1e-6
    )
    # the outer products as the layer computes them, against the kernel read in NumPy
    vectors = [v[:, None, :] for v in model.field_vectors(x)]
    layer_out = np.abs(np.asarray(model.outer(vectors))).mean(0)
    mats = _outer_matrices(weights(model)["pnn/outer_product/kernel"], "mat", e.shape[-1])
    outer = native_view(model, "outer_terms").compute(model, pre, holdout)
    _check_common(outer, model, pre, len(holdout), "outer_terms")
    for p, (i, j) in enumerate(pair_index(8)):
        numpy_terms = np.einsum("nd,de,ne->n", e[:, i], mats[p], e[:, j])
        assert np.abs(numpy_terms).mean() == pytest.approx(outer.values[i, j], rel=1e-4, abs=1e-6)
        assert layer_out[p] == pytest.approx(outer.values[i, j], rel=1e-4, abs=1e-6)


@pytest.mark.parametrize("kernel_type", ["mat", "vec", "num"])
def test_outer_only_pnn_uses_its_kernel(data, kernel_type):
    _, holdout, pre, _ = data
    model = randomised("pnn", pre, dnn=[4], product_type="outer", kernel_type=kernel_type)
    x = pre.transform(holdout)
    e = field_vectors(model, pre, x)
    cov = _cov(e)
    vectors = [v[:, None, :] for v in model.field_vectors(x)]
    layer_out = np.abs(np.asarray(model.outer(vectors))).mean(0)
    mats = _outer_matrices(weights(model)["pnn/outer_product/kernel"], kernel_type, e.shape[-1])
    outer = native_view(model, "outer_terms").compute(model, pre, holdout)
    p = native_view(model, "pure_interaction").compute(model, pre, holdout)
    for q, (i, j) in enumerate(pair_index(8)):
        assert layer_out[q] == pytest.approx(outer.values[i, j], rel=1e-4, abs=1e-6)
        expected = np.sqrt(np.trace(cov[i] @ mats[q] @ cov[j] @ mats[q].T))
        assert p.values[i, j] == pytest.approx(expected, rel=1e-4, abs=1e-6)


def test_bad_inputs_are_errors(data, fitted):
    _, holdout, pre, _ = data
    model = fitted("fm")
    view = native_view(model, "pair_terms")
    with pytest.raises(RecsysCoreError, match="no held-out rows"):
        view.compute(model, pre, holdout.iloc[:0])
    with pytest.raises(RecsysCoreError, match="row 1000 is out of range"):
        view.compute(model, pre, holdout, row=len(holdout))
    with pytest.raises(RecsysCoreError, match="out of range"):
        view.compute(model, pre, holdout, row=-1)
    with pytest.raises(RecsysCoreError, match="at least 2 held-out rows"):
        native_view(model, "pure_interaction").compute(model, pre, holdout.iloc[:1])


@pytest.mark.parametrize("name", list(HPARAMS))
def test_views_recover_the_planted_pairs(data, fitted, name):
    """Every field x field view of a model fitted on the planted table ranks the 4 planted pairs
    above the 24 others (recovery AUC >= 0.9)."""
    _, holdout, pre, truth = data
    model = fitted(name)
    aucs = {
        v.name: recovery_auc(v.compute(model, pre, holdout), truth.pairs)
        for v in native_views(model)
    }
    assert len(aucs) >= 2
    assert all(a >= 0.9 for a in aucs.values()), (name, aucs)


def test_saved_dlrm_run_through_interaction_matrix(saved, runs_dir):
    """A saved DLRM run (multi-hot genres, a continuous field) opens with both views; the pure
    interaction equals the shared function on the model's own field vectors."""
    from recsys_core.analysis import interaction_matrix
    from recsys_core.analysis.native import field_vectors as model_field_vectors
    from recsys_core.runs import RunStore

    run = RunStore(runs_dir).open(saved.run_id)
    assert [v.name for v in native_views(run.model)] == ["pair_terms", "pure_interaction"]
    assert interaction_matrix(run).extra["view"] == "pair_terms"
    m = interaction_matrix(run, view="pure_interaction")
    rows = run.holdout()
    e = model_field_vectors(run.model, run.preprocessor.transform(rows))
    np.testing.assert_allclose(m.values, pure_interaction(e), rtol=1e-6, equal_nan=True)
    assert m.fields[-1] == "continuous" and m.n_rows == len(rows) and m.extra["run_id"]
    with pytest.raises(RecsysCoreError, match="takes no row"):
        interaction_matrix(run, view="pure_interaction", row=0)


@pytest.mark.parametrize("name", list(HPARAMS))
def test_tii_recovers_the_planted_pairs_for_every_model_that_fits(data, fitted, name):
    """The model-agnostic TII ranks the planted pairs first for every fitted model (AUC >= 0.95)."""
    from recsys_core.analysis.tii import total_interaction_index

    _, holdout, pre, truth = data
    tii = total_interaction_index(fitted(name), pre, holdout, n_rows=1000, n_boot=0)
    assert recovery_auc(tii, truth.pairs) >= 0.95


def test_no_false_positives_on_the_control_table():
    """An FM fitted on the control table (main effects only) finds no interaction: its largest
    sqrt(TII) is a small fraction of the spread of its score, unlike on the planted table."""
    from recsys_core.analysis.tii import total_interaction_index
    from recsys_core.data.planted import planted_table
    from recsys_core.features.preprocessing import Preprocessor
    from recsys_core.training.engine import predict_scores
    from tests.analysis.native_planted import N_FIT, N_ROWS, SMALL_FIELDS, train

    df, spec, _ = planted_table(
        "control", n_rows=N_ROWS, seed=0, task="regression", fields=SMALL_FIELDS
    )
    fit, holdout = df.iloc[:N_FIT], df.iloc[N_FIT:].reset_index(drop=True)
    pre = Preprocessor(spec).fit(fit)
    model = train("fm", pre, fit)
    tii = total_interaction_index(model, pre, holdout, n_rows=1000, n_boot=0)
    spread = np.std(predict_scores(model, pre.transform(holdout)))
    assert np.nanmax(tii.values) / spread < 0.15, (np.nanmax(tii.values), spread)
