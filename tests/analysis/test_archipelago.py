"""Archipelago (ArchDetect) for one row: a known interacting pair ranks first; the medoid baseline."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from recsys_core.analysis.archipelago import archdetect_from_inputs, archipelago, medoid_index
from recsys_core.analysis.columns import field_layout
from recsys_core.errors import RecsysCoreError


def test_known_pair_ranks_first_with_the_closed_form_strength():
    rng = np.random.default_rng(0)
    a = [rng.normal(size=5) for _ in range(4)]
    u, v, b = np.arange(5.0), np.arange(5.0) - 2, 0.8

    def z(x):
        out = sum(jnp.asarray(a[k])[x[f"f{k}"]] for k in range(4))
        return out + b * jnp.asarray(u)[x["f1"]] * jnp.asarray(v)[x["f3"]]

    x = {f"f{k}": np.array([4], np.int32) for k in range(4)}
    base = {f"f{k}": np.array([1], np.int32) for k in range(4)}
    fields, strength, signed = archdetect_from_inputs(z, x, base)
    assert fields == ["f0", "f1", "f2", "f3"] and np.isnan(np.diag(strength)).all()
    off = np.where(np.eye(4, dtype=bool), -np.inf, strength)
    assert np.unravel_index(np.argmax(off), off.shape) in ((1, 3), (3, 1))
    # Delta = b (u4 - u1)(v4 - v1) in both contexts
    delta = b * (u[4] - u[1]) * (v[4] - v[1])
    np.testing.assert_allclose(strength[1, 3], abs(delta) / 2, rtol=1e-5)
    np.testing.assert_allclose(signed[1, 3], delta / 2, rtol=1e-5)
    assert np.nanmax(np.where(off == strength[1, 3], 0, strength)) < 1e-5


def test_context_matters_for_a_three_way_term():
    """z = x0 x1 x2: the pair (0, 1) interacts only where x2 != 0, so the two contexts differ."""

    def z(x):
        return x["f0"] * x["f1"] * x["f2"]

    x = {"f0": np.array([1.0]), "f1": np.array([1.0]), "f2": np.array([2.0])}
    base = {"f0": np.array([0.0]), "f1": np.array([0.0]), "f2": np.array([0.0])}
    _, strength, signed = archdetect_from_inputs(z, x, base)
    # context x: Delta = 2; context baseline: Delta = 0 -> sqrt(1/4 * (4 + 0) / 2)
    np.testing.assert_allclose(strength[0, 1], np.sqrt(0.5), rtol=1e-6)
    np.testing.assert_allclose(signed[0, 1], 0.5, rtol=1e-6)


def test_one_row_only():
    with pytest.raises(RecsysCoreError, match="one row"):
        archdetect_from_inputs(
            lambda x: x["a"] * x["b"],
            {"a": np.ones(2), "b": np.ones(2)},
            {"a": np.ones(1), "b": np.ones(1)},
        )


def test_trained_run_with_medoid_baseline(trained):
    rows, pre, model = trained.holdout, trained.preprocessor, trained.model
    xs = pre.transform(rows)
    pos = medoid_index(pre, xs)
    for col in pre.spec.categorical:
        assert xs[col][pos] != 0  # never an out-of-vocabulary id
    m = archipelago(model, pre, rows.iloc[3], rows=rows)
    f = field_layout(model.field_names, pre.spec).fields  # one field per input column
    assert (
        m.fields == f and m.values.shape == (len(f), len(f)) and np.isnan(np.diag(m.values)).all()
    )
    assert m.method == "archipelago" and not m.signed and m.n_rows == 1
    assert m.extra["row"]["user_id"] == rows.iloc[3]["user_id"]
    assert m.extra["baseline_row"]["user_id"] == rows.iloc[pos]["user_id"] or pos == 3
    signed = np.array(m.extra["signed_values"], dtype=float)
    off = ~np.eye(len(f), dtype=bool)
    assert (np.abs(signed[off]) <= m.values[off] + 1e-6).all()
    m.to_json()
    same = archipelago(model, pre, rows.iloc[[3]], baseline=rows.iloc[pos])
    assert same.extra["baseline"] == "given"
    with pytest.raises(RecsysCoreError, match="no rows"):
        archipelago(model, pre, rows.iloc[3])
