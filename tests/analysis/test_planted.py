"""Planted tables: exact truth, the estimator on the true function, recovery by a trained DLRM."""

from __future__ import annotations

import numpy as np
import pytest

from recsys_core.analysis.tii import tii_from_inputs
from recsys_core.analysis.validation import planted_check, recovery_auc
from recsys_core.data.planted import KINDS, planted_table
from recsys_core.errors import DataError, RecsysCoreError
from recsys_core.training.engine import TrainConfig


@pytest.mark.parametrize("kind", KINDS)
def test_truth_ranks_planted_pairs_on_top_and_matches_the_estimator(kind):
    df, spec, truth = planted_table(kind, n_rows=3000, seed=1)
    assert spec.fields == truth.fields and spec.target in df.columns
    n = len(truth.fields)
    assert truth.tii.shape == (n, n) and np.isnan(np.diag(truth.tii)).all()
    off = ~np.eye(n, dtype=bool)
    planted = np.zeros((n, n), dtype=bool)
    for i, j in truth.pairs:
        a, b = truth.fields.index(i), truth.fields.index(j)
        planted[a, b] = planted[b, a] = True
    assert (truth.tii[planted] > 0).all() and np.abs(truth.tii[off & ~planted]).max() < 1e-12
    if kind == "control":
        assert truth.pairs == [] and np.isnan(recovery_auc(truth.matrix(), truth.pairs))
    else:
        assert recovery_auc(truth.matrix(), truth.pairs) == 1.0
    # the substitution estimator on the true function agrees with the exact truth
    est = tii_from_inputs(truth.score, truth.encode(df), truth.fields, n_boot=200)
    assert (est.lower[off] - 1e-6 <= truth.tii[off]).mean() > 0.9
    assert (truth.tii[off] <= est.upper[off] + 1e-6).mean() > 0.9
    for p, (i, j) in enumerate(est.pairs):  # within 4 Monte-Carlo standard errors
        se = est.squared[:, p].std() / np.sqrt(len(est.squared))
        assert abs(est.tii[i, j] - truth.tii[i, j]) <= 4 * se + 1e-9, (i, j)


def test_known_values_and_seeding():
    _, _, dcn = planted_table("dcn", n_rows=100)
    var = {f: (n * n - 1) / 12 / n**2 for f, n in dcn.levels.items()}  # Var(k / n), k uniform
    np.testing.assert_allclose(dcn.tii[1, 2], 3.1**2 * var["bananas"] * var["cookbooks"])
    np.testing.assert_allclose(dcn.tii[0, 1], 0.1**2 * var["country"] * var["bananas"])
    _, _, ctr = planted_table("ctr", n_rows=100)
    strengths = {("user_gender", "movie_genre"): 1.0, ("user_occupation", "device"): 0.4}
    for (i, j), s in strengths.items():
        np.testing.assert_allclose(np.sqrt(ctr.tii[ctr.fields.index(i), ctr.fields.index(j)]), s)
    a, _, _ = planted_table("ctr", n_rows=200, seed=3)
    b, _, _ = planted_table("ctr", n_rows=200, seed=3)
    assert a.equals(b)
    reg, spec, _ = planted_table("ctr", n_rows=200, task="regression", n_continuous=2)
    assert spec.task == "regression" and spec.fields[-1] == "continuous"
    binary, spec, _ = planted_table("control", n_rows=200)
    assert spec.task == "binary" and set(binary["label"].unique()) <= {0.0, 1.0}
    with pytest.raises(DataError, match="unknown planted table"):
        planted_table("nope")


def test_recovery_auc():
    fields = ["a", "b", "c", "d"]
    m = np.array([[np.nan, 5, 1, 0], [5, np.nan, 2, 3], [1, 2, np.nan, 0], [0, 3, 0, np.nan]])
    assert recovery_auc(m, [("b", "a")], fields) == 1.0
    assert recovery_auc(m, [("a", "d")], fields) == pytest.approx(0.5 / 5)  # ties with one pair
    assert recovery_auc(m, [("a", "b"), ("c", "d")], fields) == pytest.approx((4 + 0.5) / 8)
    with pytest.raises(RecsysCoreError, match="not in the matrix"):
        recovery_auc(m, [("a", "z")], fields)


def test_dlrm_recovers_planted_ctr_pairs():
    """A DLRM on 10,000 rows of the planted CTR table (regression labels) ranks the four planted
    pairs above all 51 others; its sqrt(TII) approaches the true strengths."""
    check = planted_check(
        "dlrm",
        "ctr",
        seed=0,
        n_rows=10_000,
        task="regression",
        train=TrainConfig(epochs=8, batch_size=256, learning_rate=1e-2, seed=0),
        tii_rows=1000,
        n_boot=100,
    )
    assert check.auc >= 0.95, check.auc
    assert check.recovered.fields == check.truth.fields
    i, j = check.truth.fields.index("user_gender"), check.truth.fields.index("movie_genre")
    assert abs(check.recovered.values[i, j] - check.truth.values[i, j]) < 0.3
    assert check.to_dict()["auc"] == check.auc
