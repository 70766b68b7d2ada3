"""Archipelago's ArchDetect pairwise interaction strengths for one row against a baseline row.

ArchDetect (Tsang, Rambhatla & Liu, "How does this interaction affect me? Interpretable attribution
for feature interactions", NeurIPS 2020) measures the pair {i, j} at an input x* against a baseline
x' by the discrete mixed partial difference in a context c of the other fields,

    Delta_ij(c) = z(x*_i, x*_j, c) - z(x'_i, x*_j, c) - z(x*_i, x'_j, c) + z(x'_i, x'_j, c),

averaged, squared, over the two contexts c in {x*_rest, x'_rest}: omega_ij = 1/2 sum_c Delta_ij(c)^2
(the paper divides by (h_i h_j)^2 with h = x*_i - x'_i; for whole categorical fields h = 1).
Here a field is a whole input field (a bag), or one continuous column inside the model's continuous
block (the block whole with ``fields="blocks"``; see ``analysis.columns``), and z is the raw score (the logit
of a binary model, the predicted rating — the target's unit — of a regression model).

Reported: ``values = sqrt(omega_ij / 4)`` = sqrt(1/4 mean_c Delta_ij(c)^2), unsigned and in score
units (logit or rating) — a monotone transform of omega (same ranking), and the single-row, two-context counterpart
of sqrt(TII) (``recsys_core.analysis.tii``), which averages 1/4 Delta^2 over random row pairs. The
signed mean ``1/2 mean_c Delta_ij(c)`` (positive: the two fields of x* together raise the score more
than their separate effects) is in ``extra["signed_values"]``.

The default baseline is a real row of the data: the medoid of the rows (the row with the smallest
total distance to all others, distance = number of differing sparse fields + the squared
Euclidean distance of the standardised continuous block divided by twice its width, so the block
weighs about one field), among rows without out-of-vocabulary ids and different from x*.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from recsys_core import _backend  # noqa: F401
from recsys_core.analysis.columns import DEFAULT_GRANULARITY, field_layout
from recsys_core.analysis.matrix import InteractionMatrix
from recsys_core.analysis.tii import FieldsArg, _to_matrix, model_score_fn, nested, pair_differences
from recsys_core.analysis.units import score_unit
from recsys_core.errors import RecsysCoreError
from recsys_core.features.spec import CONTINUOUS_FIELD


def archdetect_from_inputs(
    fn: Callable,
    x: Mapping[str, Any],
    baseline: Mapping[str, Any],
    fields: FieldsArg = None,
    params: Any = None,
    owner: Any = None,
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """``(fields, strength, signed)`` of one row ``x`` against ``baseline`` (input dicts of 1 row).

    ``strength[i, j] = sqrt(1/4 mean_c Delta_ij(c)^2)`` and ``signed[i, j] = 1/2 mean_c Delta_ij(c)``
    over the contexts c in {x, baseline}; diagonals NaN. ``fn``, ``fields``, ``params``, ``owner``
    as in ``recsys_core.analysis.tii.pair_differences``.
    """
    x = {k: np.asarray(v) for k, v in x.items()}
    baseline = {k: np.asarray(v) for k, v in baseline.items()}
    for name, d in (("row", x), ("baseline", baseline)):
        sizes = {len(v) for v in d.values()}
        if sizes != {1}:
            raise RecsysCoreError(f"ArchDetect explains one row; the {name} has sizes {sizes}.")
    # Context x: Delta(x, x'); context x': the same mixed difference with the roles swapped.
    both = {k: np.concatenate([x[k], baseline[k]]) for k in x}
    swapped = {k: np.concatenate([baseline[k], x[k]]) for k in x}
    names, pairs, delta = pair_differences(fn, both, swapped, fields, params=params, owner=owner)
    strength = np.sqrt((delta**2).mean(axis=0) / 4.0)
    signed = delta.mean(axis=0) / 2.0
    f = len(names)
    return names, _to_matrix(strength, pairs, f), _to_matrix(signed, pairs, f)


def _oov_free(preprocessor: Any, x: dict[str, np.ndarray]) -> np.ndarray:
    """Rows without an out-of-vocabulary id (0 for categorical; 1 inside a multi-hot bag)."""
    n = len(next(iter(x.values())))
    ok = np.ones(n, dtype=bool)
    for col in preprocessor.spec.categorical:
        ok &= x[col] != 0
    for col in preprocessor.spec.multi_hot:
        ok &= ~(x[col] == 1).any(axis=1)
    return ok


def _row_keys(x: dict[str, np.ndarray], sparse: list[str]) -> list[np.ndarray]:
    """One hashable key per row and sparse field (a bag becomes its byte string)."""
    out = []
    for col in sparse:
        v = x[col]
        if v.ndim == 1:
            out.append(v)
        else:
            out.append(np.array([r.tobytes() for r in np.ascontiguousarray(v)], dtype=object))
    return out


def medoid_index(preprocessor: Any, x: dict[str, np.ndarray], exclude: Any = None) -> int:
    """Position of the medoid row of the input dict ``x`` (see the module docstring).

    Rows with out-of-vocabulary ids, and rows equal to ``exclude`` (a one-row input dict) in every
    field, are not candidates. Computed in O(rows x fields) from value frequencies.
    """
    spec = preprocessor.spec
    n = len(next(iter(x.values())))
    cost = np.zeros(n)
    for keys in _row_keys(x, spec.sparse_fields):
        _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
        cost += 1.0 - counts[inverse.reshape(-1)] / n  # mean Hamming distance on this field
    if spec.continuous:
        c = np.asarray(x[CONTINUOUS_FIELD], float)
        # mean over rows b of ||c_a - c_b||^2 = ||c_a - mean||^2 + total variance
        cost += (((c - c.mean(0)) ** 2).sum(1) + c.var(0).sum()) / (2.0 * c.shape[1])
    ok = _oov_free(preprocessor, x)
    if exclude is not None:
        same = np.ones(n, dtype=bool)
        for k, v in x.items():
            e = np.asarray(exclude[k])
            same &= (v == e).reshape(n, -1).all(axis=1)
        ok &= ~same
    if not ok.any():
        raise RecsysCoreError(
            "no row can serve as the baseline: every row has an out-of-vocabulary id or equals "
            "the row explained."
        )
    cost[~ok] = np.inf
    return int(np.argmin(cost))


def _jsonable(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, (list, tuple, np.ndarray)):
        return [_jsonable(u) for u in v]
    return v


def _as_frame(row: pd.DataFrame | pd.Series) -> pd.DataFrame:
    if isinstance(row, pd.Series):
        return row.to_frame().T.reset_index(drop=True)
    return row.reset_index(drop=True)


def _describe_row(frame: pd.DataFrame, spec: Any) -> dict[str, Any]:
    cols = [c for c in [*spec.sparse_fields, *spec.continuous] if c in frame.columns]
    return {c: _jsonable(frame[c].iloc[0]) for c in cols}


def archipelago(
    model: Any,
    preprocessor: Any,
    row: pd.DataFrame | pd.Series,
    rows: pd.DataFrame | None = None,
    baseline: pd.DataFrame | pd.Series | None = None,
    fields: str = DEFAULT_GRANULARITY,
) -> InteractionMatrix:
    """ArchDetect strengths of every pair of fields for one ``row`` (score units: logit for a
    binary model, rating for regression).

    ``fields``: ``"columns"`` (one field per input column, each continuous column substituted on
    its own) or ``"blocks"`` (``model.field_names``); see ``analysis.columns``.

    ``baseline``: the reference row; default the medoid of ``rows`` (e.g. the run's held-out rows).
    ``extra``: ``row`` and ``baseline_row`` (their feature values), ``signed_values`` (nested lists,
    None on the diagonal) and ``baseline`` (how it was chosen).
    """
    layout = field_layout(model.field_names, preprocessor.spec, fields)
    frame = _as_frame(row)
    if len(frame) != 1:
        raise RecsysCoreError(f"Archipelago explains exactly one row, got {len(frame)}.")
    x = preprocessor.transform(frame)
    if baseline is None:
        if rows is None or len(rows) == 0:
            raise RecsysCoreError("no rows to choose a baseline row from.")
        xs = preprocessor.transform(rows)
        pos = medoid_index(preprocessor, xs, exclude=x)
        base_frame = rows.iloc[[pos]].reset_index(drop=True)
        how = f"medoid of {len(rows):,} rows"
    else:
        base_frame = _as_frame(baseline)
        if len(base_frame) != 1:
            raise RecsysCoreError(f"the baseline must be one row, got {len(base_frame)}.")
        how = "given"
    xb = preprocessor.transform(base_frame)
    names = layout.fields
    score, params = model_score_fn(model)
    _, strength, signed = archdetect_from_inputs(
        score, x, xb, layout.keys, params=params, owner=model
    )
    spec = preprocessor.spec
    unit = score_unit(spec)
    return InteractionMatrix(
        values=strength,
        fields=names,
        method="archipelago",
        title="Archipelago (ArchDetect) pair strength for one row",
        description=(
            "ArchDetect mixed difference of each field pair for one row against a baseline row "
            f"({how}), sqrt(1/4 mean over the two contexts of Delta^2), in {unit} units (the raw "
            f"score); {layout.describe()}."
        ),
        kind="approximation",
        n_rows=1,
        signed=False,
        groups=layout.groups(spec),
        extra={
            **layout.extra(),
            "row": _describe_row(frame, spec),
            "baseline_row": _describe_row(base_frame, spec),
            "baseline": how,
            "signed_values": nested(signed),
            "quantity": "ArchDetect strength sqrt(mean Delta^2 / 4)",
            "unit": unit,
            "scales": {
                "matrix": f"sqrt(1/4 mean_c Delta^2), {unit}",
                "signed_values": f"1/2 mean_c Delta, {unit}, signed",
            },
        },
    )
