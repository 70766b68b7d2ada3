"""AFM's attention over field pairs, and what each attended pair adds to the score.

AFM adds p^T sum_{i<j} a_ij (e_i * e_j) with a = softmax over pairs of h^T relu(W (e_i * e_j) + b):
``attention`` shows a_ij, ``attention_contribution`` the pair's share a_ij p^T (e_i * e_j).

Reference: J. Xiao et al., "Attentional Factorization Machines: Learning the Weight of Feature
Interactions via Attention Networks", IJCAI 2017 (arXiv:1708.04617).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from keras import ops

from recsys_core.analysis.matrix import InteractionMatrix
from recsys_core.analysis.native.base import (
    NativeView,
    check_row,
    check_rows,
    field_groups,
    register_view,
)
from recsys_core.layers.field_inputs import pair_index
from recsys_core.models.afm import AFM
from recsys_core.models.pure import apply_in_chunks, model_params, pure_method


def _afm_parts(model: AFM, x: dict[str, Any]) -> tuple[Any, Any]:
    """(attention a ``(b, P)``, pair contributions ``(b, F, F)``) of the AFM layer at inference."""
    vectors = [ops.expand_dims(v, 1) for v in model.field_vectors(x)]
    return model.afm.attention_scores(vectors), model.afm.pair_terms(vectors)


def afm_parts(model: AFM, preprocessor: Any, rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """``(n, F, F)`` attention weights a_ij and ``(n, F, F)`` contributions a_ij p^T (e_i * e_j)
    of every row (symmetric, NaN diagonal), computed in jitted chunks."""
    scores, terms = apply_in_chunks(
        pure_method(model, _afm_parts), model_params(model), preprocessor.transform(rows)
    )
    f = len(model.field_names)
    attention = np.full((len(rows), f, f), np.nan)
    for k, (i, j) in enumerate(pair_index(f)):
        attention[:, i, j] = attention[:, j, i] = scores[:, k]
    terms = np.array(terms, dtype=np.float64)
    idx = np.arange(f)
    terms[:, idx, idx] = np.nan
    return attention, terms


def _result(
    model: AFM,
    preprocessor: Any,
    rows: pd.DataFrame,
    row: int | None,
    contribution: bool,
) -> InteractionMatrix:
    rows = check_rows(rows)
    row = check_row(row, rows)
    picked = rows if row is None else rows.iloc[[row]]
    attention, terms = afm_parts(model, preprocessor, picked)
    name = "attention_contribution" if contribution else "attention"
    if contribution:
        what = "a_ij p^T (e_i * e_j)"
        if row is None:
            values = np.abs(terms).mean(axis=0)
            title = f"AFM: mean |{what}|"
            description = (
                f"Mean |{what}| over {len(rows):,} held-out rows: the average size of what each "
                "attended field pair adds to the score (per row the signed terms sum exactly to "
                "AFM's pairwise term); data-averaged, unsigned; no self terms (diagonal)."
            )
            kind = "data-averaged"
        else:
            values = terms[0]
            title = f"AFM: {what} of row {row}"
            description = (
                f"Signed {what} of held-out row {row}: what each attended field pair adds to the "
                "score; they sum exactly to AFM's pairwise term of this row (exact decomposition "
                "of that part); no self terms (diagonal)."
            )
            kind = "exact decomposition"
    else:
        values = attention.mean(axis=0)
        title = "AFM: attention a_ij" + ("" if row is None else f" of row {row}")
        description = (
            (
                f"Mean attention weight a_ij AFM gives each field pair over {len(rows):,} "
                "held-out rows"
                if row is None
                else f"Attention weight a_ij AFM gives each field pair in held-out row {row}"
            )
            + " (a row's weights sum to 1 over its pairs; a share, not score units); "
            + ("data-averaged" if row is None else "one row")
            + "; no self terms (diagonal)."
        )
        kind = "data-averaged"
    return InteractionMatrix(
        values=values,
        fields=list(model.field_names),
        method="native",
        title=title,
        description=description,
        kind=kind,
        n_rows=len(picked),
        signed=contribution and row is not None,
        groups=field_groups(model, preprocessor),
        extra={"view": name},
    )


def afm_attention_contribution(
    model: AFM, preprocessor: Any, rows: pd.DataFrame, row: int | None = None, **_: Any
) -> InteractionMatrix:
    """Mean |a_ij p^T (e_i * e_j)| over ``rows``, or the signed terms of held-out row ``row``."""
    return _result(model, preprocessor, rows, row, contribution=True)


def afm_attention(
    model: AFM, preprocessor: Any, rows: pd.DataFrame, row: int | None = None, **_: Any
) -> InteractionMatrix:
    """Mean attention weight a_ij over ``rows``, or the weights of held-out row ``row``."""
    return _result(model, preprocessor, rows, row, contribution=False)


register_view(
    AFM,
    NativeView(
        name="attention_contribution",
        title="AFM: mean |a_ij p^T (e_i * e_j)|",
        kind="data-averaged",
        compute=afm_attention_contribution,
        per_row=True,
    ),
)
register_view(
    AFM,
    NativeView(
        name="attention",
        title="AFM: attention a_ij",
        kind="data-averaged",
        compute=afm_attention,
        per_row=True,
    ),
)
