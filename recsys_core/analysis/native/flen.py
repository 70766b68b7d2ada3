"""FLEN's field-wise bi-interaction: what each pair of field groups adds to the score.

With s_m the sum of group m's field vectors and w the output layer's weights on the FwBI vector,
FLEN adds w . [sum_{m<n} r_mn (s_m * s_n) + sum_m c_m (s_m^2 - sum_{v in m} v^2)] (+ a constant):
``group_pairs`` shows T_mn = r_mn w . (s_m * s_n) and T_mm = c_m w . (s_m^2 - sum v^2), group x group;
``group_weights`` the weight each field pair gets, |r_mn| across and |2 c_m| within groups;
``field_pairs`` the same share per raw field pair, r w . (e_u * e_v) (2 c_m within group m).

Reference: W. Chen et al., "FLEN: Leveraging Field for Scalable CTR Prediction", 2019
(arXiv:1911.04690).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from recsys_core.analysis.matrix import InteractionMatrix
from recsys_core.analysis.native.base import (
    NativeView,
    check_row,
    check_rows,
    field_groups,
    field_vectors,
    register_view,
)
from recsys_core.analysis.native.pairwise import PairKernel, pair_terms
from recsys_core.layers.field_inputs import pair_index
from recsys_core.models.flen import FLEN


def _array(variable: Any) -> np.ndarray:
    return np.asarray(variable.value, dtype=np.float64)


def group_strengths(model: FLEN) -> np.ndarray:
    """``(M, M)`` weight per field pair: r_mn across groups m != n, 2 c_m within group m."""
    r = _array(model.fwbi.kernel_mf)[:, 0]
    c = _array(model.fwbi.kernel_fm)[:, 0]
    m = len(model.group_names)
    out = np.diag(2.0 * c)
    for k, (a, b) in enumerate(pair_index(m)):
        out[a, b] = out[b, a] = r[k]
    return out


def head_weights(model: FLEN) -> np.ndarray:
    """``(D,)`` weights of the output layer on the FwBI vector (the first D of its inputs)."""
    return _array(model.head.kernel)[: model.embedding_dim, 0]


def field_group_index(model: FLEN) -> np.ndarray:
    """``(F,)`` group index of every field."""
    index = np.zeros(len(model.field_names), dtype=int)
    for g, members in enumerate(model.group_members):
        index[members] = g
    return index


def flen_group_terms(model: FLEN, e: np.ndarray) -> np.ndarray:
    """``(n, M, M)`` T_mn = r_mn w . (s_m * s_n) (m != n), T_mm = c_m w . (s_m^2 - sum_{v in m} v^2)
    from field vectors ``e`` ``(n, F, D)``: with the constant w . (b_mf + b_fm), the FwBI part of
    the score exactly (upper triangle and diagonal)."""
    e = np.asarray(e, dtype=np.float64)
    w = head_weights(model)
    strengths = group_strengths(model)
    sums = np.stack([e[:, members].sum(axis=1) for members in model.group_members], axis=1)
    squares = np.stack(
        [np.square(e[:, members]).sum(axis=1) for members in model.group_members], axis=1
    )
    terms = np.einsum("nmd,nkd,d->nmk", sums, sums, w) * strengths
    idx = np.arange(len(model.group_names))
    # within group m: c_m w . (s_m^2 - sum v^2) = (2 c_m / 2) w . (...)
    terms[:, idx, idx] = (
        0.5 * strengths[idx, idx] * np.einsum("nmd,d->nm", np.square(sums) - squares, w)
    )
    return terms


def _group_axes(model: FLEN) -> dict[str, Any]:
    names = list(model.group_names)
    return {"fields": names, "method": "native", "groups": {g: g for g in names}}


def flen_group_pairs(
    model: FLEN, preprocessor: Any, rows: pd.DataFrame, row: int | None = None, **_: Any
) -> InteractionMatrix:
    """Mean |T_mn| over ``rows`` (group x group), or the signed T of held-out row ``row``."""
    rows = check_rows(rows)
    row = check_row(row, rows)
    picked = rows if row is None else rows.iloc[[row]]
    terms = flen_group_terms(model, field_vectors(model, preprocessor.transform(picked)))
    what = "r_mn w . (s_m * s_n)"
    if row is None:
        values, kind = np.abs(terms).mean(axis=0), "data-averaged"
        title = f"FLEN: field groups, mean |{what}|"
        description = (
            f"Mean |{what}| over {len(rows):,} held-out rows: the average size of what each pair "
            "of field groups adds to the score through FLEN's field-wise bi-interaction (s_m: sum "
            "of group m's vectors; diagonal: the group's own pairs, c_m w . (s_m^2 - sum v^2)); per "
            "row the signed terms sum exactly to that part of the score; data-averaged, unsigned."
        )
    else:
        values, kind = terms[0], "exact decomposition"
        title = f"FLEN: field groups, {what} of row {row}"
        description = (
            f"Signed {what} of held-out row {row} for each pair of field groups (diagonal: the "
            "group's own pairs): with a constant bias they sum exactly to the score's field-wise "
            "bi-interaction part; exact decomposition of that part."
        )
    return InteractionMatrix(
        values=values,
        title=title,
        description=description,
        kind=kind,
        n_rows=len(picked),
        signed=row is not None,
        extra={"view": "group_pairs"},
        **_group_axes(model),
    )


def flen_group_weights(
    model: FLEN, preprocessor: Any, rows: Any = None, **_: Any
) -> InteractionMatrix:
    """|r_mn| across groups and |2 c_m| within group m (weights only)."""
    return InteractionMatrix(
        values=np.abs(group_strengths(model)),
        title="FLEN: field-group weights |r_mn|",
        description=(
            "The weight FLEN's field-wise bi-interaction gives every field pair by groups: |r_mn| "
            "for a pair across groups m and n, |2 c_m| for a pair within group m (diagonal; both "
            "start at 1); weights-only, no data, unsigned; ignores embedding sizes."
        ),
        kind="weights-only",
        n_rows=0,
        signed=False,
        extra={"view": "group_weights"},
        **_group_axes(model),
    )


def field_kernel(model: FLEN) -> PairKernel:
    """FwBI per raw field pair u != v as a pair kernel: <e_u, strength diag(w) e_v>."""
    g = field_group_index(model)
    strengths = group_strengths(model)[np.ix_(g, g)]
    w = np.diag(head_weights(model))
    return PairKernel(matrices=strengths[:, :, None, None] * w[None, None])


def flen_field_pairs(
    model: FLEN, preprocessor: Any, rows: pd.DataFrame, **_: Any
) -> InteractionMatrix:
    """Mean |strength w . (e_u * e_v)| over ``rows`` for every pair of raw fields."""
    rows = check_rows(rows)
    e = field_vectors(model, preprocessor.transform(rows))
    values = np.abs(pair_terms(e, field_kernel(model))).mean(axis=0)
    return InteractionMatrix(
        values=values,
        fields=list(model.field_names),
        method="native",
        title="FLEN: field pairs, mean |r w . (e_u * e_v)|",
        description=(
            f"Mean |r w . (e_u * e_v)| over {len(rows):,} held-out rows: what each pair of raw "
            "fields adds to the score through FLEN's field-wise bi-interaction (r = r_mn across "
            "groups, 2 c_m within group m); per row these terms plus a constant bias sum exactly to "
            "that part of the score; data-averaged, unsigned; no self terms (diagonal)."
        ),
        kind="data-averaged",
        n_rows=len(rows),
        signed=False,
        groups=field_groups(model, preprocessor),
        extra={"view": "field_pairs"},
    )


register_view(
    FLEN,
    NativeView(
        name="group_pairs",
        title="FLEN: field groups, mean |r_mn w . (s_m * s_n)|",
        kind="data-averaged",
        compute=flen_group_pairs,
        per_row=True,
    ),
)
register_view(
    FLEN,
    NativeView(
        name="group_weights",
        title="FLEN: field-group weights |r_mn|",
        kind="weights-only",
        compute=flen_group_weights,
    ),
)
register_view(
    FLEN,
    NativeView(
        name="field_pairs",
        title="FLEN: field pairs, mean |r w . (e_u * e_v)|",
        kind="data-averaged",
        compute=flen_field_pairs,
    ),
)
