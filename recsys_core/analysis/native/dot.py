"""DLRM's dot interaction: the pair terms <e_i, e_j> its top MLP reads (Naumov et al., 2019)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from recsys_core.analysis.matrix import InteractionMatrix
from recsys_core.analysis.native.base import (
    NativeView,
    check_rows,
    field_groups,
    field_vectors,
    register_view,
)
from recsys_core.errors import RecsysCoreError
from recsys_core.features.preprocessing import Preprocessor
from recsys_core.models.base import InteractionModel
from recsys_core.models.dlrm import DLRM


def dot_interaction_matrix(
    model: InteractionModel, preprocessor: Preprocessor, rows: pd.DataFrame, **_: Any
) -> InteractionMatrix:
    """Mean |<e_i, e_j>| over held-out ``rows``: the average size of each pair term DLRM feeds its top MLP.

    Uses the embeddings of the real values in each row (never the untrained out-of-vocabulary row
    0, which is what makes the keras-rs tutorial's heatmap noise). The diagonal is NaN: DLRM's dot
    interaction has no self-interaction terms.
    """
    if not hasattr(model, "interaction") or not hasattr(model.interaction, "pair_terms"):
        raise RecsysCoreError(f"model {model.name!r} has no dot interaction to read.")
    rows = check_rows(rows)
    e = field_vectors(model, preprocessor.transform(rows))
    terms = np.abs(np.einsum("nid,njd->nij", e, e)).mean(axis=0)
    np.fill_diagonal(terms, np.nan)
    return InteractionMatrix(
        values=terms,
        fields=list(model.field_names),
        method="native",
        title="Dot interaction: mean |<e_i, e_j>|",
        description=(
            f"Average size of the dot product DLRM feeds its top MLP for each field pair, over "
            f"{len(rows):,} held-out rows; data-averaged, unsigned, diagonal unused by the model."
        ),
        kind="data-averaged",
        n_rows=len(rows),
        signed=False,
        groups=field_groups(model, preprocessor),
        extra={"view": "pair_terms"},
    )


register_view(
    DLRM,
    NativeView(
        name="pair_terms",
        title="Dot interaction: mean |<e_i, e_j>|",
        kind="data-averaged",
        compute=dot_interaction_matrix,
    ),
)
