"""Comparing two matrices: common axes in the first's order, signed difference."""

import numpy as np
import pytest

from recsys_core.analysis.compare import difference, on_common_fields
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
