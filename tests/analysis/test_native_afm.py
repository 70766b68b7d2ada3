"""AFM's native views: attention weights and attended pair contributions against NumPy recomputed
from the layer's weights, one-row exactness, and recovery of the planted CTR pairs."""

from __future__ import annotations

import numpy as np
import pytest

from recsys_core.analysis.native import native_view, native_views
from recsys_core.analysis.validation import recovery_auc
from recsys_core.errors import RecsysCoreError
from recsys_core.layers.field_inputs import pair_index
from tests.analysis.native_planted import field_vectors, planted_data, train, upper_sum, weights

OFF = ~np.eye(8, dtype=bool)


@pytest.fixture(scope="module")
def afm():
    fit, holdout, pre, truth = planted_data()
    # with its default table L2 (0.003), 8-wide embeddings or 8 epochs AFM underfits 3,000 rows
    # (test RMSE 0.7-1.3); so: test RMSE ~0.59 against a label noise of 0.5
    model = train("afm", pre, fit, epochs=15, embedding_dim=16, embedding_l2=0.0)
    return model, pre, holdout, truth


def _numpy_afm(model, pre, holdout):
    """(n, P) attention a and (n, P) contributions a p^T (e_i * e_j), from the weights."""
    w = weights(model)
    e = field_vectors(model, pre, pre.transform(holdout))
    rows, cols = zip(*pair_index(8), strict=True)
    bi = e[:, list(rows)] * e[:, list(cols)]
    hidden = np.maximum(bi @ w["afm/afm/attention_W"] + w["afm/afm/attention_b"], 0)
    logits = (hidden @ w["afm/afm/projection_h"])[..., 0]
    a = np.exp(logits - logits.max(axis=1, keepdims=True))
    a /= a.sum(axis=1, keepdims=True)
    return a, a * (bi @ w["afm/afm/projection_p"])[..., 0]


def test_views_match_numpy(afm):
    model, pre, holdout, _ = afm
    assert [v.name for v in native_views(model)] == ["attention_contribution", "attention"]
    assert all(v.per_row for v in native_views(model))
    a, c = _numpy_afm(model, pre, holdout)
    att = native_view(model, "attention").compute(model, pre, holdout)
    con = native_view(model, "attention_contribution").compute(model, pre, holdout)
    for m, name in ((att, "attention"), (con, "attention_contribution")):
        assert m.fields == list(model.field_names) and m.method == "native"
        assert m.kind == "data-averaged" and m.n_rows == len(holdout) and not m.signed
        assert m.extra == {"view": name} and "1,000 held-out rows" in m.description
        assert np.isnan(np.diag(m.values)).all() and m.groups["user_gender"] == "user"
        np.testing.assert_allclose(m.values, m.values.T, equal_nan=True)
    for k, (i, j) in enumerate(pair_index(8)):
        assert att.values[i, j] == pytest.approx(a[:, k].mean(), rel=1e-4, abs=1e-7)
        assert con.values[i, j] == pytest.approx(np.abs(c[:, k]).mean(), rel=1e-4, abs=1e-6)
    assert upper_sum(att.values) == pytest.approx(1.0, rel=1e-5)


def test_one_row(afm):
    model, pre, holdout, _ = afm
    a, c = _numpy_afm(model, pre, holdout)
    att = native_view(model, "attention").compute(model, pre, holdout, row=11)
    con = native_view(model, "attention_contribution").compute(model, pre, holdout, row=11)
    assert att.n_rows == con.n_rows == 1 and "row 11" in att.description
    assert con.kind == "exact decomposition" and con.signed and not att.signed
    for k, (i, j) in enumerate(pair_index(8)):
        assert att.values[i, j] == pytest.approx(a[11, k], rel=1e-4, abs=1e-7)
        assert con.values[i, j] == pytest.approx(c[11, k], rel=1e-4, abs=1e-6)
    # the signed contributions sum to exactly what the AFM layer adds to the row's score
    x = pre.transform(holdout.iloc[[11]])
    layer = np.asarray(model.afm([v[:, None, :] for v in model.field_vectors(x)]))[0, 0]
    assert upper_sum(con.values) == pytest.approx(layer, rel=1e-4, abs=1e-5)


def test_bad_inputs_are_errors(afm):
    model, pre, holdout, _ = afm
    view = native_view(model, "attention")
    with pytest.raises(RecsysCoreError, match="no held-out rows"):
        view.compute(model, pre, holdout.iloc[:0])
    with pytest.raises(RecsysCoreError, match="out of range"):
        view.compute(model, pre, holdout, row=len(holdout))


def test_views_recover_the_planted_pairs(afm):
    model, pre, holdout, truth = afm
    aucs = {
        v.name: recovery_auc(v.compute(model, pre, holdout), truth.pairs)
        for v in native_views(model)
    }
    assert all(a >= 0.9 for a in aucs.values()), aucs
