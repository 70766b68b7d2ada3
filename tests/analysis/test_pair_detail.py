"""Pair detail: per-row signed contributions of one field pair, checked by brute-force substitution."""

import numpy as np
import pytest

from recsys_core.analysis.pair_detail import pair_detail
from recsys_core.errors import RecsysCoreError
from recsys_core.training.engine import predict_scores


def test_contributions_equal_brute_force_mixed_differences(trained):
    rows = trained.holdout.iloc[:40].reset_index(drop=True)
    a, b = trained.model.field_names[:2]
    detail = pair_detail(trained.model, trained.preprocessor, rows, (a, b), n_partners=3, seed=5)
    # Recompute with predict_scores on explicitly substituted inputs, same partner draw.
    n, k = len(rows), 3
    rng = np.random.default_rng(5)
    repeat = np.repeat(np.arange(n), k)
    partner = (repeat + rng.integers(1, n, size=len(repeat))) % n
    x = trained.preprocessor.transform(rows)

    def z(swap):
        mixed = {key: np.asarray(v)[repeat] for key, v in x.items()}
        for key in swap:
            mixed[key] = np.asarray(x[key])[partner]
        return predict_scores(trained.model, mixed)

    delta = z([]) - z([a]) - z([b]) + z([a, b])
    np.testing.assert_allclose(detail.contributions, delta.reshape(n, k).mean(1), atol=1e-4)
    assert detail.fields == (a, b) and detail.n_rows == n and detail.n_partners == k


def test_combos_group_rows_by_value_pair(trained):
    rows = trained.holdout.reset_index(drop=True)
    a, b = trained.model.field_names[:2]
    detail = pair_detail(trained.model, trained.preprocessor, rows, (a, b), min_count=1)
    c = detail.combos
    assert c["count"].sum() == len(rows)
    assert np.all(np.diff(c["mean"].to_numpy()) >= 0)
    first = c.iloc[0]
    mask = (rows[a].astype(str) == first[a]).to_numpy() & (
        rows[b].astype(str) == first[b]
    ).to_numpy()
    assert mask.sum() == first["count"]
    assert detail.contributions[mask].mean() == pytest.approx(first["mean"], abs=1e-9)
    assert len(detail.strongest(2)) == min(4, len(c))


def test_errors_name_the_problem(trained):
    rows = trained.holdout
    with pytest.raises(RecsysCoreError, match="'nope' is not one of"):
        pair_detail(trained.model, trained.preprocessor, rows, ("nope", "user_id"))
    f = trained.model.field_names[0]
    with pytest.raises(RecsysCoreError, match="two different fields"):
        pair_detail(trained.model, trained.preprocessor, rows, (f, f))
    with pytest.raises(RecsysCoreError, match="at least 2"):
        pair_detail(
            trained.model, trained.preprocessor, rows.iloc[:1], tuple(trained.model.field_names[:2])
        )
