"""FiBiNET's SENET field weights and the bilinear pair vectors its DNN reads.

SENET scales field f by a_f = relu(relu(z W_1) W_2)_f, z_f = mean_d e_fd; the DNN reads the bilinear
pair vectors p_ij = (v_i W_ij) * v_j of both the SENET-scaled fields v = a * e and the plain fields
v = e: ``senet`` shows a_f, ``bilinear`` the norm of both pair vectors.

Reference: T. Huang, Z. Zhang, J. Zhang, "FiBiNET: Combining Feature Importance and Bilinear feature
Interaction for Click-Through Rate Prediction", RecSys 2019 (arXiv:1905.09433).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from keras import ops

from recsys_core.analysis.matrix import InteractionMatrix
from recsys_core.analysis.native.base import (
    FieldScores,
    NativeView,
    check_rows,
    field_groups,
    register_view,
)
from recsys_core.models.fibinet import FiBiNET
from recsys_core.models.pure import apply_in_chunks, model_params, pure_method


def _fibinet_parts(model: FiBiNET, x: dict[str, Any]) -> tuple[Any, Any, Any]:
    """(SENET weights ``(b, F)``, ||p_ij|| of the SENET branch and of the plain branch ``(b, F, F)``)."""
    fields = [ops.expand_dims(v, 1) for v in model.field_vectors(x)]
    return (
        model.senet.field_weights(fields),
        model.senet_bilinear.pair_terms(model.senet(fields)),
        model.bilinear.pair_terms(fields),
    )


def fibinet_parts(
    model: FiBiNET, preprocessor: Any, rows: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row: SENET weights ``(n, F)`` and the pair-vector norms of the SENET and plain bilinear
    branches ``(n, F, F)`` (zero diagonal), computed in jitted chunks."""
    parts = apply_in_chunks(
        pure_method(model, _fibinet_parts), model_params(model), preprocessor.transform(rows)
    )
    return tuple(np.asarray(p, dtype=np.float64) for p in parts)


def _nested(values: np.ndarray) -> list[list[float | None]]:
    return [[None if np.isnan(v) else float(v) for v in line] for line in values]


def fibinet_bilinear(
    model: FiBiNET, preprocessor: Any, rows: pd.DataFrame, **_: Any
) -> InteractionMatrix:
    """Mean over ``rows`` of sqrt(||p_ij^SENET||^2 + ||p_ij||^2), the size of all the DNN reads of a
    pair; each branch's mean norm in ``extra``."""
    rows = check_rows(rows)
    _, senet, plain = fibinet_parts(model, preprocessor, rows)
    values = np.sqrt(senet**2 + plain**2).mean(axis=0)
    senet_mean, plain_mean = senet.mean(axis=0), plain.mean(axis=0)
    for m in (values, senet_mean, plain_mean):
        np.fill_diagonal(m, np.nan)
    return InteractionMatrix(
        values=values,
        fields=list(model.field_names),
        method="native",
        title="FiBiNET: bilinear pair vectors, mean ||[p_ij^SENET, p_ij]||",
        description=(
            f"Mean norm of the two bilinear pair vectors p_ij = (v_i W) * v_j FiBiNET's DNN reads "
            f"for each field pair (v = SENET-scaled and plain embeddings; each branch's mean "
            f"||p_ij|| in extra), over {len(rows):,} held-out rows; data-averaged, unsigned; no "
            "self terms (diagonal)."
        ),
        kind="data-averaged",
        n_rows=len(rows),
        signed=False,
        groups=field_groups(model, preprocessor),
        extra={
            "view": "bilinear",
            "senet_branch": _nested(senet_mean),
            "plain_branch": _nested(plain_mean),
        },
    )


def fibinet_senet(model: FiBiNET, preprocessor: Any, rows: pd.DataFrame, **_: Any) -> FieldScores:
    """Mean SENET weight a_f of every field over ``rows``."""
    rows = check_rows(rows)
    weights, _, _ = fibinet_parts(model, preprocessor, rows)
    return FieldScores(
        values=weights.mean(axis=0),
        fields=list(model.field_names),
        method="native",
        title="FiBiNET: SENET field weights a_f",
        description=(
            f"Mean SENET weight a_f FiBiNET scales each field's embedding by before one of its two "
            f"bilinear layers, over {len(rows):,} held-out rows (0 switches the field off in that "
            "branch); data-averaged, one value per field, not an interaction."
        ),
        kind="data-averaged",
        n_rows=len(rows),
        signed=False,
        groups=field_groups(model, preprocessor),
        extra={"view": "senet"},
    )


register_view(
    FiBiNET,
    NativeView(
        name="bilinear",
        title="FiBiNET: bilinear pair vectors, mean ||[p_ij^SENET, p_ij]||",
        kind="data-averaged",
        compute=fibinet_bilinear,
    ),
)
register_view(
    FiBiNET,
    NativeView(
        name="senet",
        title="FiBiNET: SENET field weights a_f",
        kind="data-averaged",
        compute=fibinet_senet,
        shape="bars",
    ),
)
