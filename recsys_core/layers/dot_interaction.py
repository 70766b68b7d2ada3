"""DLRM's dot interaction, built on ``keras_rs.layers.DotInteraction``."""

from __future__ import annotations

from typing import Any

import keras
import keras_rs
from keras import ops

from recsys_core import _backend  # noqa: F401


@keras.saving.register_keras_serializable(package="recsys_core")
class DotInteraction(keras_rs.layers.DotInteraction):
    """Pairwise dot products of field vectors: out = [<e_i, e_j>] for i > j (i >= j with self_interaction).

    Numerically identical to ``keras_rs.layers.DotInteraction`` (same arguments, defaults and output
    order: the lower triangle row by row); adds ``pair_terms`` to explain itself.

    Reference: Naumov et al., "Deep Learning Recommendation Model for Personalization and
    Recommendation Systems", 2019 (arXiv:1906.00091).
    """

    def pair_terms(self, inputs: list[Any]) -> Any:
        """The full ``(batch, F, F)`` matrix of dot products <e_i, e_j>, the terms ``call`` gathers."""
        if not isinstance(inputs, list | tuple) or len(inputs) < 2:
            raise ValueError(
                "DotInteraction.pair_terms expects a list of at least 2 feature tensors."
            )
        features = ops.stack(inputs, axis=1)
        return ops.matmul(features, ops.transpose(features, axes=(0, 2, 1)))
