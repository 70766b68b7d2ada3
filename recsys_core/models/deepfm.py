"""DeepFM: linear terms + FM + a DNN over the same field embeddings, summed."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import keras
from keras import ops

from recsys_core import _backend  # noqa: F401
from recsys_core.layers.fm import FM
from recsys_core.models.base import InteractionModel
from recsys_core.models.fm import LINEAR_L2
from recsys_core.models.registry import (
    DNN,
    DROPOUT,
    EMB_L2,
    EMBEDDING,
    PRODUCT_BATCH_L2,
    ModelEntry,
    register,
)


@keras.saving.register_keras_serializable(package="recsys_core")
class DeepFM(InteractionModel):
    """DeepFM: y = sum_f w_f[x_f] + sum_{i<j} <v_i, v_j> + DNN([v_1, ..., v_F]).

    The FM part (``LinearTerms`` + ``FM``) and the DNN share the field vectors; the DNN sees them
    flattened (``field_matrix`` reshaped to ``(batch, F * D)``) and ends in a Dense(1) whose bias
    starts at ``output_bias`` (the model's only bias, as DeepCTR's prediction layer).

    Reference: H. Guo, R. Tang, Y. Ye, Z. Li, X. He, "DeepFM: A Factorization-Machine based Neural
    Network for CTR Prediction", IJCAI 2017 (arXiv:1703.04247).
    """

    def __init__(
        self,
        tables: list[dict[str, Any]],
        continuous: list[str] | tuple[str, ...] = (),
        embedding_dim: int = 8,
        linear_l2: float = 0.0,
        dnn: list[int] | tuple[int, ...] = (256, 128),
        dropout: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(tables, continuous, embedding_dim, **kwargs)
        self.linear_l2 = float(linear_l2)
        self.dnn_units = [int(u) for u in dnn]
        self.dropout = float(dropout)
        self.linear = self.linear_terms(self.linear_l2)
        self.fm = FM(name="fm")
        self.dnn = self.scoring_mlp(self.dnn_units, dropout)

    def call(self, inputs: dict[str, Any], training: bool = False) -> Any:
        fields = self.field_matrix(inputs, training=training)
        flat = ops.reshape(fields, (-1, fields.shape[1] * fields.shape[2]))
        return self.linear(inputs) + self.fm(fields) + self.dnn(flat, training=training)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "linear_l2": self.linear_l2,
            "dnn": self.dnn_units,
            "dropout": self.dropout,
        }


register(
    ModelEntry(
        "deepfm",
        "DeepFM",
        "Linear terms, FM pairwise products and a DNN over the shared field embeddings, summed.",
        DeepFM,
        (
            replace(EMBEDDING, default=32),
            replace(EMB_L2, default=0.01),
            PRODUCT_BATCH_L2,
            LINEAR_L2,
            DNN,
            replace(DROPOUT, default=0.3),
        ),
    )
)
