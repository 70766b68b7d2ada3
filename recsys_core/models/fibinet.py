"""FiBiNET: SENET field re-weighting and bilinear interactions, a DNN, and linear terms."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from recsys_core import _backend  # noqa: F401
from recsys_core.layers.bilinear_interaction import BILINEAR_TYPES, BilinearInteraction
from recsys_core.layers.mlp import MLP
from recsys_core.layers.senet_layer import SENETLayer
from recsys_core.models.base import InteractionModel
from recsys_core.models.registry import (
    DNN,
    DROPOUT,
    EMB_BATCH_L2,
    EMB_L2,
    EMBEDDING,
    HParam,
    ModelEntry,
    register,
)


@keras.saving.register_keras_serializable(package="recsys_core")
class FiBiNET(InteractionModel):
    """FiBiNET (Huang et al., RecSys 2019, arXiv:1905.09433), as DeepCTR's ``FiBiNET``.

    The field vectors E and their SENET re-weighting SENET(E) each go through their own
    ``BilinearInteraction``; both pair tensors are flattened into an MLP whose single output is
    added to ``LinearTerms`` and the output bias:
    y = b + linear(x) + w^T MLP([flat(Bilinear_1(SENET(E))), flat(Bilinear_2(E))]).
    """

    forms_pairs = True  # a bilinear vector per field pair, twice

    def __init__(
        self,
        tables: list[dict[str, Any]],
        continuous: list[str] | tuple[str, ...] = (),
        embedding_dim: int = 8,
        bilinear_type: str = "interaction",
        reduction_ratio: int = 3,
        dnn: list[int] | tuple[int, ...] = (256, 128),
        dropout: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(tables, continuous, embedding_dim, **kwargs)
        if bilinear_type not in BILINEAR_TYPES:
            raise ValueError(
                f"FiBiNET bilinear_type must be one of {BILINEAR_TYPES}, got {bilinear_type!r}."
            )
        self.require_pairs("FiBiNET")
        if not dnn:
            raise ValueError("FiBiNET needs a non-empty dnn.")
        self.bilinear_type = bilinear_type
        self.reduction_ratio = int(reduction_ratio)
        self.dnn_units = [int(u) for u in dnn]
        self.dropout = float(dropout)
        self.senet = SENETLayer(self.reduction_ratio, name="senet")
        self.senet_bilinear = BilinearInteraction(bilinear_type, name="senet_bilinear")
        self.bilinear = BilinearInteraction(bilinear_type, name="bilinear")
        self.deep = MLP(self.dnn_units, dropout=self.dropout, name="dnn")
        self.head = keras.layers.Dense(
            1, bias_initializer=self.output_bias_initializer(), name="output"
        )
        self.linear = self.linear_terms(self.embedding_l2)

    def call(self, inputs: dict[str, Any], training: bool = False) -> Any:
        fields = [ops.expand_dims(v, 1) for v in self.field_vectors(inputs, training=training)]
        pairs = ops.concatenate(
            [self.senet_bilinear(self.senet(fields)), self.bilinear(fields)], axis=1
        )
        flat = ops.reshape(pairs, (-1, pairs.shape[1] * pairs.shape[2]))
        return self.head(self.deep(flat, training=training)) + self.linear(inputs)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "bilinear_type": self.bilinear_type,
            "reduction_ratio": self.reduction_ratio,
            "dnn": self.dnn_units,
            "dropout": self.dropout,
        }


register(
    ModelEntry(
        "fibinet",
        "FiBiNET",
        "SENET field re-weighting and bilinear pair interactions feeding a DNN, plus linear terms.",
        FiBiNET,
        (
            EMBEDDING,
            HParam("embedding_l2", 3e-3, EMB_L2.help, "float", 0.0, 1.0),
            EMB_BATCH_L2,
            HParam(
                "bilinear_type",
                "interaction",
                "Bilinear weights: one per field pair (interaction), per field (each) or shared (all).",
                "choice",
                choices=BILINEAR_TYPES,
            ),
            HParam(
                "reduction_ratio",
                3,
                "SENET squeeze ratio (fields per hidden unit).",
                low=1,
                high=64,
            ),
            DNN,
            HParam("dropout", 0.3, DROPOUT.help, "float", 0.0, 0.9),
        ),
    )
)
