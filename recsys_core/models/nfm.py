"""NFM: Bi-Interaction pooling of the field vectors fed to a DNN, plus linear terms."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import keras
from keras import ops

from recsys_core import _backend  # noqa: F401
from recsys_core.layers.bi_interaction_pooling import BiInteractionPooling
from recsys_core.models.base import InteractionModel
from recsys_core.models.fm import LINEAR_L2
from recsys_core.models.registry import (
    DNN,
    DROPOUT,
    EMB_L2,
    EMBEDDING,
    PRODUCT_BATCH_L2,
    HParam,
    ModelEntry,
    register,
)


@keras.saving.register_keras_serializable(package="recsys_core")
class NFM(InteractionModel):
    """Neural FM: y = sum_f w_f[x_f] + DNN(dropout(sum_{i<j} v_i * v_j)).

    ``BiInteractionPooling`` over ``field_matrix`` gives one D-vector, which goes through dropout
    (``bi_dropout``, training only) and an MLP ending in a Dense(1) whose bias starts at
    ``output_bias``; ``LinearTerms`` adds the first-order part, as DeepCTR's NFM.

    Reference: X. He and T.-S. Chua, "Neural Factorization Machines for Sparse Predictive
    Analytics", SIGIR 2017 (arXiv:1708.05027).
    """

    def __init__(
        self,
        tables: list[dict[str, Any]],
        continuous: list[str] | tuple[str, ...] = (),
        embedding_dim: int = 8,
        linear_l2: float = 0.0,
        dnn: list[int] | tuple[int, ...] = (256, 128),
        dropout: float = 0.0,
        bi_dropout: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(tables, continuous, embedding_dim, **kwargs)
        if not 0.0 <= bi_dropout < 1.0:
            raise ValueError(f"bi_dropout must be in [0, 1), got {bi_dropout!r}.")
        self.linear_l2 = float(linear_l2)
        self.dnn_units = [int(u) for u in dnn]
        self.dropout = float(dropout)
        self.bi_dropout = float(bi_dropout)
        self.linear = self.linear_terms(self.linear_l2)
        self.bi_pooling = BiInteractionPooling(name="bi_interaction")
        self.bi_dropout_layer = keras.layers.Dropout(self.bi_dropout, name="bi_dropout")
        self.dnn = self.scoring_mlp(self.dnn_units, dropout)

    def call(self, inputs: dict[str, Any], training: bool = False) -> Any:
        bi = self.bi_pooling(self.field_matrix(inputs, training=training))
        bi = self.bi_dropout_layer(ops.squeeze(bi, axis=1), training=training)
        return self.linear(inputs) + self.dnn(bi, training=training)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "linear_l2": self.linear_l2,
            "dnn": self.dnn_units,
            "dropout": self.dropout,
            "bi_dropout": self.bi_dropout,
        }


register(
    ModelEntry(
        "nfm",
        "NFM",
        "Neural FM: the Bi-Interaction pooled pair products go through a DNN, plus linear terms.",
        NFM,
        (
            replace(EMBEDDING, default=16),
            replace(EMB_L2, default=0.01),
            PRODUCT_BATCH_L2,
            LINEAR_L2,
            DNN,
            DROPOUT,
            HParam(
                "bi_dropout",
                0.0,
                "Dropout on the Bi-Interaction vector before the DNN.",
                "float",
                0.0,
                0.9,
            ),
        ),
    )
)
