"""Native interaction views: what a model's own interaction layer computes, averaged over data."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import keras
import numpy as np
import pandas as pd

from recsys_core import _backend  # noqa: F401
from recsys_core.analysis.matrix import InteractionMatrix
from recsys_core.errors import RecsysCoreError
from recsys_core.features.preprocessing import Preprocessor
from recsys_core.models.base import InteractionModel


def field_vectors(
    model: InteractionModel, x: dict[str, np.ndarray], batch: int = 4096
) -> np.ndarray:
    """``(rows, F, D)`` field vectors of the model on real inputs, computed in jitted chunks."""
    variables = model.trainable_variables + model.non_trainable_variables

    @jax.jit
    def vectors(values, xb):
        # Bind the variables to traced values so the computation is a pure function under jit.
        with keras.StatelessScope(state_mapping=list(zip(variables, values, strict=True))):
            return jnp.stack(model.field_vectors(xb), axis=1)

    values = [v.value for v in variables]
    n = len(next(iter(x.values())))
    chunks = [
        vectors(values, {k: v[s : s + batch] for k, v in x.items()}) for s in range(0, n, batch)
    ]
    return np.concatenate([np.asarray(c) for c in chunks])


def dot_interaction_matrix(
    model: InteractionModel, preprocessor: Preprocessor, rows: pd.DataFrame
) -> InteractionMatrix:
    """Mean |<e_i, e_j>| over held-out ``rows``: the average size of each pair term DLRM feeds its top MLP.

    Uses the embeddings of the real values in each row (never the untrained out-of-vocabulary row
    0, which is what makes the keras-rs tutorial's heatmap noise). The diagonal is NaN: DLRM's dot
    interaction has no self-interaction terms.
    """
    if not hasattr(model, "interaction") or not hasattr(model.interaction, "pair_terms"):
        raise RecsysCoreError(f"model {model.name!r} has no dot interaction to read.")
    if len(rows) == 0:
        raise RecsysCoreError("no held-out rows to average over.")
    e = field_vectors(model, preprocessor.transform(rows))
    terms = np.abs(np.einsum("nid,njd->nij", e, e)).mean(axis=0)
    np.fill_diagonal(terms, np.nan)
    spec = preprocessor.spec
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
        groups={f: spec.group_of(f) for f in model.field_names},
    )
