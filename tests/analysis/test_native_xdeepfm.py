"""xDeepFM's native views: the first CIN layer's pair weights and pair shares against NumPy from the
CIN filter, the shares' exactness, and recovery of the planted CTR pairs."""

from __future__ import annotations

import numpy as np
import pytest

from recsys_core.analysis.native import native_view, native_views
from recsys_core.analysis.validation import recovery_auc
from recsys_core.errors import RecsysCoreError
from tests.analysis.native_planted import field_vectors, planted_data, train, weights


@pytest.fixture(scope="module")
def xdeepfm():
    fit, holdout, pre, truth = planted_data()
    model = train("xdeepfm", pre, fit, dnn=[32], cin_layers=[16, 16])
    return model, pre, holdout, truth


def _numpy_cin(model, pre, holdout):
    """Field vectors (n, F, D), the filter as (F, F, H) and the per-unordered-pair weights."""
    e = field_vectors(model, pre, pre.transform(holdout))
    f, h = e.shape[1], model.cin_layers[0]
    kernel = weights(model)["xdeepfm/cin/filter0"].reshape(
        f, f, h
    )  # [i, j, h] = filter0[0, i*F+j, h]
    pair = kernel + kernel.transpose(1, 0, 2)
    pair[np.arange(f), np.arange(f)] = kernel[np.arange(f), np.arange(f)]
    return e, kernel, pair


def test_views_match_numpy(xdeepfm):
    model, pre, holdout, _ = xdeepfm
    assert [v.name for v in native_views(model)] == ["cin_pairs", "cin_weights"]
    e, kernel, pair = _numpy_cin(model, pre, holdout)
    shares = np.einsum("ijh,nid,njd->nijhd", pair, e, e)
    # the shares of the unordered pairs (i <= j) make up the first layer's pre-activation maps
    iu = np.triu_indices(8)
    pre_activation = np.einsum("ijh,nid,njd->nhd", kernel, e, e)
    np.testing.assert_allclose(shares[:, iu[0], iu[1]].sum(1), pre_activation, rtol=1e-6)

    m = native_view(model, "cin_pairs").compute(model, pre, holdout)
    assert m.kind == "data-averaged" and m.n_rows == len(holdout) and m.method == "native"
    assert m.extra == {"view": "cin_pairs"} and "1,000 held-out rows" in m.description
    assert m.fields == list(model.field_names) and m.groups["device"] == "context"
    expected = np.sqrt(np.square(shares).sum(axis=(3, 4))).mean(0)
    np.testing.assert_allclose(m.values, expected, rtol=1e-4, atol=1e-7)
    assert np.isfinite(np.diag(m.values)).all()  # CIN multiplies a field with itself too

    w = native_view(model, "cin_weights").compute(model, pre, holdout.iloc[:0])  # no data needed
    assert w.kind == "weights-only" and w.n_rows == 0
    np.testing.assert_allclose(w.values, np.sqrt(np.square(pair).sum(-1)), rtol=1e-6)
    np.testing.assert_allclose(w.values, w.values.T)


def test_no_rows_is_an_error(xdeepfm):
    model, pre, holdout, _ = xdeepfm
    with pytest.raises(RecsysCoreError, match="no held-out rows"):
        native_view(model, "cin_pairs").compute(model, pre, holdout.iloc[:0])


def test_views_recover_the_planted_pairs(xdeepfm):
    """Both views rank the 4 planted pairs above the 24 others (measured: AUC 0.99 and 1.0; the
    weights-only view ignores embedding sizes: 0.87 on the 9-field table with zip prefixes)."""
    model, pre, holdout, truth = xdeepfm
    aucs = {
        v.name: recovery_auc(v.compute(model, pre, holdout), truth.pairs)
        for v in native_views(model)
    }
    assert all(a >= 0.9 for a in aucs.values()), aucs
