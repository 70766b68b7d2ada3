"""FiBiNET's native views: SENET field weights and bilinear pair-vector norms of both branches,
against NumPy recomputed from the layers' weights."""

from __future__ import annotations

import numpy as np
import pytest

from recsys_core.analysis.native import FieldScores, native_view, native_views
from recsys_core.errors import RecsysCoreError
from recsys_core.layers.field_inputs import pair_index
from tests.analysis.native_planted import field_vectors, planted_data, randomised, weights


@pytest.fixture(scope="module")
def fibinet():
    _, holdout, pre, _ = planted_data()
    return randomised("fibinet", pre, scale=0.5, dnn=[4]), pre, holdout


def _numpy_fibinet(model, pre, holdout):
    """SENET weights (n, F) and the pair-vector norms of the SENET and plain branches (n, P)."""
    w = weights(model)
    e = field_vectors(model, pre, pre.transform(holdout))
    a = np.maximum(np.maximum(e.mean(-1) @ w["fibinet/senet/W_1"], 0) @ w["fibinet/senet/W_2"], 0)

    def norms(v, layer):
        out = []
        for i, j in pair_index(v.shape[1]):
            p = (v[:, i] @ w[f"fibinet/{layer}/bilinear_weight{i}_{j}"]) * v[:, j]
            out.append(np.linalg.norm(p, axis=1))
        return np.stack(out, axis=1)

    return a, norms(e * a[..., None], "senet_bilinear"), norms(e, "bilinear")


def test_views_match_numpy(fibinet):
    model, pre, holdout = fibinet
    views = native_views(model)
    assert [(v.name, v.shape) for v in views] == [("bilinear", "matrix"), ("senet", "bars")]
    a, senet, plain = _numpy_fibinet(model, pre, holdout)
    assert (a > 0).any()  # the random SENET leaves some fields switched on

    s = native_view(model, "senet").compute(model, pre, holdout)
    assert isinstance(s, FieldScores) and s.fields == list(model.field_names)
    assert s.kind == "data-averaged" and s.n_rows == len(holdout) and s.method == "native"
    assert s.extra == {"view": "senet"} and s.groups["movie_genre"] == "movie"
    np.testing.assert_allclose(s.values, a.mean(0), rtol=1e-4, atol=1e-7)
    s.to_json()

    m = native_view(model, "bilinear").compute(model, pre, holdout)
    assert m.fields == list(model.field_names) and m.kind == "data-averaged" and not m.signed
    assert m.extra["view"] == "bilinear" and "1,000 held-out rows" in m.description
    assert np.isnan(np.diag(m.values)).all()
    both = np.sqrt(senet**2 + plain**2).mean(0)
    se_branch = np.array(m.extra["senet_branch"], dtype=float)
    plain_branch = np.array(m.extra["plain_branch"], dtype=float)
    for k, (i, j) in enumerate(pair_index(8)):
        assert m.values[i, j] == m.values[j, i] == pytest.approx(both[k], rel=1e-4, abs=1e-7)
        assert se_branch[i, j] == pytest.approx(senet[:, k].mean(), rel=1e-4, abs=1e-7)
        assert plain_branch[i, j] == pytest.approx(plain[:, k].mean(), rel=1e-4, abs=1e-7)
    m.to_json()
    # the branch tables follow the axes when the matrix is reordered
    r = m.ordered("strength")
    i, j = r.fields.index("user_gender"), r.fields.index("movie_genre")
    a_, b_ = m.fields.index("user_gender"), m.fields.index("movie_genre")
    assert r.extra["plain_branch"][i][j] == m.extra["plain_branch"][a_][b_]


def test_no_rows_is_an_error(fibinet):
    model, pre, holdout = fibinet
    for name in ("bilinear", "senet"):
        with pytest.raises(RecsysCoreError, match="no held-out rows"):
            native_view(model, name).compute(model, pre, holdout.iloc[:0])
