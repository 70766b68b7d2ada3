"""DeepFEFM: linear terms + field-embedded FM + a DNN over the embeddings and FEFM interactions."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import keras
from keras import ops

from recsys_core import _backend  # noqa: F401
from recsys_core.layers.fefm_layer import FEFMLayer
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
class DeepFEFM(InteractionModel):
    """DeepFEFM: y = sum_f w_f[x_f] + sum_k s_k + DNN([e_1, ..., e_S, x_cont, s]).

    s = ``FEFMLayer(field_matrix)``, the F(F-1)/2 field-pair interactions v_i^T (W_ij + W_ij^T) v_j
    (``field_embedding_l2`` is the L2 penalty on the W_ij). The DNN reads ``flat_features`` (the
    sparse embeddings and the raw continuous columns) concatenated with s and ends in a Dense(1)
    whose bias starts at ``output_bias``; the full (no-ablation) model of DeepCTR's DeepFEFM.

    Reference: H. Pande, "Field-Embedded Factorization Machines for Click-through Rate Prediction",
    2020 (arXiv:2009.09931).
    """

    forms_pairs = True  # a field-pair embedding matrix per pair

    def __init__(
        self,
        tables: list[dict[str, Any]],
        continuous: list[str] | tuple[str, ...] = (),
        embedding_dim: int = 8,
        linear_l2: float = 0.0,
        field_embedding_l2: float = 1e-5,
        dnn: list[int] | tuple[int, ...] = (256, 128),
        dropout: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(tables, continuous, embedding_dim, **kwargs)
        self.require_pairs("DeepFEFM")
        self.linear_l2 = float(linear_l2)
        self.field_embedding_l2 = float(field_embedding_l2)
        self.dnn_units = [int(u) for u in dnn]
        self.dropout = float(dropout)
        self.linear = self.linear_terms(self.linear_l2)
        self.fefm = FEFMLayer(self.field_embedding_l2, name="fefm")
        self.dnn = self.scoring_mlp(self.dnn_units, dropout)

    def call(self, inputs: dict[str, Any], training: bool = False) -> Any:
        interactions = self.fefm(self.field_matrix(inputs, training=training))
        deep_in = ops.concatenate([self.flat_features(inputs), interactions], axis=-1)
        fefm_logit = ops.sum(interactions, axis=-1, keepdims=True)
        return self.linear(inputs) + fefm_logit + self.dnn(deep_in, training=training)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "linear_l2": self.linear_l2,
            "field_embedding_l2": self.field_embedding_l2,
            "dnn": self.dnn_units,
            "dropout": self.dropout,
        }


register(
    ModelEntry(
        "deepfefm",
        "DeepFEFM",
        "Linear terms, field-embedded FM interactions (a learned matrix per field pair) and a DNN "
        "over the embeddings and those interactions, summed.",
        DeepFEFM,
        (
            replace(EMBEDDING, default=16),
            replace(EMB_L2, default=0.01),
            PRODUCT_BATCH_L2,
            LINEAR_L2,
            HParam(
                "field_embedding_l2",
                1e-5,
                "L2 penalty on the field-pair matrices W_ij.",
                "float",
                0.0,
                1.0,
            ),
            DNN,
            DROPOUT,
        ),
    )
)
