"""Rank agreement and stability across seeds, against NumPy / pandas / SciPy computed here."""

import numpy as np
import pandas as pd
import pytest

from recsys_core.analysis.matrix import InteractionMatrix
from recsys_core.analysis.stability import (
    CV_LIMIT,
    WEAK_SHARE,
    average_ranks,
    pair_values,
    rank_agreement,
    seed_stability,
    spearman,
)
from recsys_core.errors import RecsysCoreError

FIELDS = ["u", "m", "g", "c"]


def _sym(upper, fields=FIELDS, signed=False, unit="rating"):
    n = len(fields)
    values = np.full((n, n), np.nan)
    values[np.triu_indices(n, k=1)] = upper
    values = np.where(np.isnan(values), values.T, values)
    return InteractionMatrix(values=values, fields=list(fields), method="tii", title="sqrt(TII)",
                             description="", kind="approximation", n_rows=10, signed=signed,
                             extra={"unit": unit, "quantity": "sqrt(TII)"})  # fmt: skip


def _reference_spearman(x, y):
    """Pearson correlation of pandas' average ranks: an implementation independent of ours."""
    keep = np.isfinite(x) & np.isfinite(y)
    rx = pd.Series(np.asarray(x)[keep]).rank(method="average").to_numpy()
    ry = pd.Series(np.asarray(y)[keep]).rank(method="average").to_numpy()
    return float(np.corrcoef(rx, ry)[0, 1])


def test_spearman_matches_an_independent_rank_computation_with_ties_and_nans():
    rng = np.random.default_rng(0)
    for _ in range(20):
        x = rng.integers(0, 5, 30).astype(float)  # many ties
        y = x + rng.normal(0, 2, 30)
        y[rng.integers(0, 30, 3)] = np.nan
        assert spearman(x, y) == pytest.approx(_reference_spearman(x, y), abs=1e-12)
    scipy_stats = pytest.importorskip("scipy.stats")
    x, y = rng.normal(size=40), rng.normal(size=40)
    assert spearman(x, y) == pytest.approx(scipy_stats.spearmanr(x, y).statistic, abs=1e-12)


def test_average_ranks_give_ties_their_mean_rank():
    np.testing.assert_array_equal(average_ranks(np.array([10.0, 20, 10, 30])), [1.5, 3, 1.5, 4])


def test_spearman_is_nan_without_an_order_to_agree_on():
    assert np.isnan(spearman([1, 1, 1, 1], [1, 2, 3, 4]))
    assert np.isnan(spearman([1, 2], [2, 1]))


def test_pair_values_are_the_upper_triangle_of_a_symmetric_map_and_all_cells_of_a_directed_one():
    m = _sym([1, 2, 3, 4, 5, 6])
    np.testing.assert_array_equal(pair_values(m), [1, 2, 3, 4, 5, 6])
    directed = InteractionMatrix(values=np.arange(9.0).reshape(3, 3), fields=["a", "b", "c"],
                                 method="native", title="t", description="", kind="weights-only")  # fmt: skip
    np.testing.assert_array_equal(pair_values(directed), [1, 2, 3, 5, 6, 7])


def test_rank_agreement_is_spearman_of_every_two_maps_pair_values():
    rng = np.random.default_rng(1)
    uppers = [rng.normal(size=6) for _ in range(3)]
    agreement = rank_agreement([_sym(u) for u in uppers], ["r0", "r1", "r2"])
    for i in range(3):
        for j in range(3):
            expected = 1.0 if i == j else _reference_spearman(uppers[i], uppers[j])
            assert agreement.rho[i, j] == pytest.approx(expected, abs=1e-12)
    off = [agreement.rho[0, 1], agreement.rho[0, 2], agreement.rho[1, 2]]
    assert agreement.mean == pytest.approx(np.mean(off))
    assert agreement.n_pairs[0, 1] == 6
    assert "Spearman" in agreement.to_csv() and '"rho"' in agreement.to_json()


def test_seed_stability_mean_std_and_marks_against_numpy():
    # pairs: stable strong, unstable (cv > 0.5), weak in every seed, sign flip, stable, unstable
    uppers = np.array([
        [1.00, 0.2, 0.01, 0.5, 0.80, 0.9],
        [1.10, 1.0, 0.02, -0.5, 0.82, 0.1],
        [0.90, 0.1, 0.00, 0.4, 0.78, 0.1],
    ])  # fmt: skip
    maps = [_sym(u, signed=True) for u in uppers]
    stab = seed_stability(maps, ["s0", "s1", "s2"])
    mean, std = uppers.mean(axis=0), uppers.std(axis=0)
    i, j = np.triu_indices(4, k=1)
    np.testing.assert_allclose(stab.mean[i, j], mean)
    np.testing.assert_allclose(stab.std[i, j], std)
    np.testing.assert_allclose(stab.mean[j, i], mean)  # symmetric like the maps
    assert np.isnan(stab.mean[0, 0])
    scale = np.abs(mean).max()
    flip = (uppers.min(axis=0) < 0) & (uppers.max(axis=0) > 0)
    judged = np.abs(uppers).max(axis=0) >= WEAK_SHARE * scale
    expected = judged & ((std > CV_LIMIT * np.abs(mean)) | flip)
    np.testing.assert_array_equal(stab.unstable[i, j], expected)
    assert expected.tolist() == [False, True, False, True, False, True]  # the cases meant above
    assert stab.unstable_cells() == [("u", "g"), ("m", "g"), ("g", "c")]
    assert "3 of 6 pairs unstable" in stab.summary()
    frame = stab.to_frame()
    assert len(frame) == 6 and frame["unstable"].sum() == 3
    shown = stab.as_matrix().ordered("strength")  # the marks follow the axes
    k = shown.fields.index("u"), shown.fields.index("g")
    assert shown.extra["unstable"][k[0]][k[1]] and shown.extra["unit"] == "rating"
    assert "# unstable" in stab.to_csv()


def test_seed_stability_needs_maps_on_one_set_of_fields():
    a, b = _sym([1, 2, 3, 4, 5, 6]), _sym([1, 2, 3, 4, 5, 6], fields=["u", "m", "g", "x"])
    with pytest.raises(RecsysCoreError, match="other fields"):
        seed_stability([a, b], ["a", "b"])
    with pytest.raises(RecsysCoreError, match="at least two"):
        seed_stability([a], ["a"])
