"""Total interaction index: closed forms on known functions, the bootstrap interval, a trained run."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from recsys_core.analysis.columns import field_layout
from recsys_core.analysis.tii import (
    partner_permutation,
    substitution_masks,
    tii_from_inputs,
    total_interaction_index,
)
from recsys_core.errors import RecsysCoreError

N = 4000


def _inputs(levels, n=N, seed=0):
    rng = np.random.default_rng(seed)
    return {f"f{k}": rng.integers(0, size, n).astype(np.int32) for k, size in enumerate(levels)}


def _mc_bound(est, i, j, k=4.0):
    """k standard errors of the mean of the per-row squared terms of pair (i, j)."""
    p = est.pairs.index((i, j))
    return k * est.squared[:, p].std() / np.sqrt(len(est.squared)) + 1e-9


def test_masks_cover_empty_singletons_and_pairs():
    m = substitution_masks(4)
    assert m.shape == (1 + 4 + 6, 4)
    assert m[0].sum() == 0 and (m[1:5].sum(1) == 1).all() and (m[5:].sum(1) == 2).all()
    perm = partner_permutation(50, np.random.default_rng(0))
    assert sorted(perm) == list(range(50)) and (perm != np.arange(50)).all()


def test_product_term_matches_closed_form():
    """z = sum_i a_i(x_i) + b u(x_0) v(x_1): TII_01 = b^2 Var u Var v, every other pair 0."""
    levels = [6, 9, 5, 4]
    rng = np.random.default_rng(1)
    a = [rng.normal(size=n) for n in levels]
    u, v, b = rng.normal(size=6), rng.normal(size=9), 1.7
    x = _inputs(levels)

    def z(x):
        out = sum(jnp.asarray(a[k])[x[f"f{k}"]] for k in range(len(levels)))
        return out + b * jnp.asarray(u)[x["f0"]] * jnp.asarray(v)[x["f1"]]

    est = tii_from_inputs(z, x, seed=3)
    # the population value under the sample's (independent) empirical marginals
    exact = b**2 * u[x["f0"]].var() * v[x["f1"]].var()
    assert abs(est.tii[0, 1] - exact) < _mc_bound(est, 0, 1)
    assert est.lower[0, 1] <= est.tii[0, 1] <= est.upper[0, 1]
    off = ~np.eye(4, dtype=bool)
    others = off.copy()
    others[0, 1] = others[1, 0] = False
    assert np.abs(est.tii[others]).max() < 1e-9
    assert np.isnan(np.diag(est.tii)).all() and est.fields == ["f0", "f1", "f2", "f3"]
    np.testing.assert_allclose(est.tii, est.tii.T, equal_nan=True)


def test_additive_model_has_no_interaction():
    rng = np.random.default_rng(2)
    w = rng.normal(size=5).astype(np.float32)
    x = {"a": rng.integers(0, 7, 500).astype(np.int32), "cont": rng.normal(size=(500, 5))}
    table = rng.normal(size=7).astype(np.float32)
    est = tii_from_inputs(lambda x: jnp.asarray(table)[x["a"]] + x["cont"] @ w, x)
    assert np.nanmax(est.tii) < 1e-9


def test_fm_bilinear_equals_trace_of_covariances():
    """z = sum_{i<j} <e_i, e_j>: TII_ij = tr(Sigma_i Sigma_j) (the 1/4 cancels E[dd^T] = 2 Sigma twice)."""
    levels, dim = [8, 12, 5], 3
    rng = np.random.default_rng(4)
    tables = [rng.normal(size=(n, dim)) for n in levels]
    x = _inputs(levels, seed=5)

    def z(x):
        e = [jnp.asarray(t, jnp.float32)[x[f"f{k}"]] for k, t in enumerate(tables)]
        return sum((e[i] * e[j]).sum(-1) for i in range(3) for j in range(i + 1, 3))

    est = tii_from_inputs(z, x, seed=6)
    cov = [np.cov(t[x[f"f{k}"]], rowvar=False, bias=True) for k, t in enumerate(tables)]
    for i in range(3):
        for j in range(i + 1, 3):
            exact = np.trace(cov[i] @ cov[j])
            assert abs(est.tii[i, j] - exact) < _mc_bound(est, i, j), (i, j, est.tii[i, j], exact)


def test_whole_field_substitution_and_field_mapping():
    """A field owning two keys (and a bag) is swapped as a whole; unnamed keys are never swapped."""
    rng = np.random.default_rng(7)
    n = 300
    x = {
        "bag": rng.integers(0, 4, (n, 3)).astype(np.int32),
        "p": rng.normal(size=n).astype(np.float32),
        "q": rng.normal(size=n).astype(np.float32),
        "fixed": rng.normal(size=n).astype(np.float32),
    }

    # the interaction of "bag" with the field {p, q} lives in p * q * fixed * (bag sum)
    def z(x):
        return x["bag"].sum(-1) * (x["p"] + x["q"]) + x["fixed"] * x["p"] * x["q"]

    est = tii_from_inputs(z, x, fields={"bag": ["bag"], "pq": ["p", "q"]}, n_boot=0)
    assert est.fields == ["bag", "pq"] and est.tii[0, 1] > 0.1
    assert np.isnan(est.lower[0, 1])


def test_too_few_rows_and_unknown_keys_are_errors():
    with pytest.raises(RecsysCoreError, match="at least 2 rows"):
        tii_from_inputs(lambda x: x["a"] * x["b"], {"a": np.ones(1), "b": np.ones(1)})
    with pytest.raises(RecsysCoreError, match="lack keys"):
        tii_from_inputs(lambda x: x["a"], {"a": np.ones(4)}, fields=["a", "b"])


def test_trained_run_matrix(trained):
    rows = trained.holdout
    m = total_interaction_index(trained.model, trained.preprocessor, rows, n_rows=300, n_boot=50)
    f = field_layout(trained.model.field_names, trained.preprocessor.spec).fields  # one per column
    assert m.fields == f and m.values.shape == (len(f), len(f))
    assert np.isnan(np.diag(m.values)).all() and m.kind == "approximation" and m.n_rows == 300
    assert m.method == "tii" and "300 held-out rows" in m.description
    # a regression run's score is a rating, not a logit; every number names its scale
    assert "rating units" in m.description and "logit" not in m.description
    assert m.extra["unit"] == "rating" and m.extra["scales"]["matrix"] == "sqrt(TII), rating"
    assert "squared" in m.extra["scales"]["tii"] and "sqrt(TII)" in m.extra["scales"]["lower"]
    np.testing.assert_allclose(np.array(m.extra["tii"], float), m.values**2, rtol=1e-9)
    np.testing.assert_allclose(
        np.array(m.extra["tii_lower"], float), np.array(m.extra["lower"], float) ** 2, rtol=1e-9
    )
    off = ~np.eye(len(f), dtype=bool)
    assert (m.values[off] >= 0).all() and np.isfinite(m.values[off]).all()
    lower = np.array(m.extra["lower"], dtype=float)
    upper = np.array(m.extra["upper"], dtype=float)
    assert (lower[off] <= m.values[off] + 1e-12).all() and (
        m.values[off] <= upper[off] + 1e-12
    ).all()
    assert m.groups["user_id"] == "user"
    m.to_json()  # extra is JSON-ready
    again = total_interaction_index(
        trained.model, trained.preprocessor, rows, n_rows=300, n_boot=50
    )
    np.testing.assert_allclose(again.values, m.values, equal_nan=True)
    with pytest.raises(RecsysCoreError, match="no held-out rows"):
        total_interaction_index(trained.model, trained.preprocessor, rows.iloc[:0])
