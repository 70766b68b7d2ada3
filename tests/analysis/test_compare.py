"""Comparing matrices: common axes in the first's order, signed difference, fields matched by name,
runs of another task or unit refused."""

import numpy as np
import pytest

from recsys_core.analysis.compare import (
    RunFacts,
    comparability,
    compare_maps,
    difference,
    match_fields,
    on_common_fields,
)
from recsys_core.analysis.matrix import InteractionMatrix
from recsys_core.errors import RecsysCoreError


def _m(fields, values, run):
    return InteractionMatrix(
        values=np.asarray(values, float), fields=fields, method="tii", title="sqrt(TII)",
        description="", kind="data-averaged", n_rows=10, groups={"u": "user"}, extra={"run_id": run},
    )  # fmt: skip


def test_common_fields_follow_the_first_matrix_and_difference_is_b_minus_a():
    a = _m(["u", "m", "c"], [[np.nan, 1, 2], [1, np.nan, 3], [2, 3, np.nan]], "A")
    b = _m(["c", "u", "x"], [[np.nan, 5, 7], [5, np.nan, 8], [7, 8, np.nan]], "B")
    a2, b2 = on_common_fields(a, b)
    assert a2.fields == b2.fields == ["u", "c"]
    assert a2.values[0, 1] == 2 and b2.values[0, 1] == 5
    d = difference(a, b)
    assert d.signed and d.fields == ["u", "c"] and d.values[0, 1] == 3 and np.isnan(d.values[0, 0])
    assert d.group_of("u") == "user" and "B − A" in d.title


def test_too_few_common_fields_is_a_clear_error():
    a = _m(["u", "m"], [[np.nan, 1], [1, np.nan]], "A")
    b = _m(["x", "u"], [[np.nan, 1], [1, np.nan]], "B")
    with pytest.raises(RecsysCoreError, match="fewer than two fields"):
        difference(a, b)


# --- 2 to 6 runs: fields matched by name, refusal of different task or units (#14, part 4) ---


def _map(fields, run, unit="rating", seed=0):
    rng = np.random.default_rng(seed)
    n = len(fields)
    values = rng.uniform(0.1, 1.0, (n, n))
    values = (values + values.T) / 2
    np.fill_diagonal(values, np.nan)
    m = _m(fields, values, run)
    m.extra.update({"unit": unit, "quantity": "sqrt(TII)"})
    return m


def test_fields_are_matched_by_name_and_the_unmatched_listed_per_run():
    maps = [_map(["u", "m", "c", "x"], "A"), _map(["c", "u", "m"], "B"), _map(["m", "y", "u", "c"], "C")]
    match = match_fields(maps, ["A", "B", "C"])
    assert match.common == ["u", "m", "c"]  # the first run's order
    assert match.unmatched == {"A": ["x"], "B": [], "C": ["y"]} and not match.complete
    cmp = compare_maps(maps, ["A", "B", "C"], order="given")
    for name, m, shown in zip(["A", "B", "C"], maps, cmp.maps, strict=True):
        idx = [m.fields.index(f) for f in ["u", "m", "c"]]
        np.testing.assert_array_equal(shown.values, m.values[np.ix_(idx, idx)], err_msg=name)
    assert cmp.difference is None and cmp.stability is None
    assert cmp.agreement.rho.shape == (3, 3)
    text = cmp.to_csv()
    assert "# fields of A not in every run,x" in text and "# fields of C not in every run,y" in text
    assert text.startswith("run,field_i,field_j,value\nA,u,u,\n")
    with pytest.raises(RecsysCoreError, match="share fewer than two fields by name"):
        match_fields([_map(["u", "m"], "A"), _map(["u", "z"], "B")], ["A", "B"])


def test_runs_of_another_task_or_unit_are_refused_and_other_data_warned_of():
    rating = RunFacts("A", "movielens-100k", "regression", "rating")
    with pytest.raises(RecsysCoreError, match=r"differ in task \(A: regression, B: binary\)"):
        comparability([rating, RunFacts("B", "movielens-100k", "binary", "logit")])
    with pytest.raises(RecsysCoreError, match=r"differ in units \(A: rating, B: clicks units\)"):
        comparability([rating, RunFacts("B", "movielens-100k", "regression", "clicks units")])
    (line,) = comparability([rating, RunFacts("B", "sales.csv", "regression", "rating")])
    assert "different data sets (A: movielens-100k, B: sales.csv)" in line
    assert comparability([rating, RunFacts("B", "movielens-100k", "regression", "rating")]) == []
    with pytest.raises(RecsysCoreError, match="compare 2 to 6 runs, got 7"):
        comparability([rating] * 7)
    with pytest.raises(RecsysCoreError, match="different units"):  # the maps' own units
        compare_maps([_map(["u", "m", "c"], "A"), _map(["u", "m", "c"], "B", unit="logit")], ["A", "B"])


def test_two_maps_get_their_difference_and_seeds_their_stability():
    maps = [_map(["u", "m", "c"], r, seed=k) for k, r in enumerate("AB")]
    cmp = compare_maps(maps, ["A", "B"], order="given", seeds=True)
    np.testing.assert_array_equal(cmp.difference.values, maps[1].values - maps[0].values)
    np.testing.assert_allclose(cmp.stability.mean, (maps[0].values + maps[1].values) / 2)
    assert cmp.difference.extra["unit"] == "rating"
