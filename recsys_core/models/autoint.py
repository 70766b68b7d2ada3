"""AutoInt and AutoInt+: stacked multi-head self-attention over the fields (+ a parallel DNN)."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from recsys_core import _backend  # noqa: F401
from recsys_core.layers.interacting_layer import InteractingLayer
from recsys_core.layers.mlp import MLP
from recsys_core.models.base import InteractionModel
from recsys_core.models.registry import (
    DNN,
    DROPOUT,
    EMB_BATCH_L2,
    EMB_L2,
    EMBEDDING,
    PRODUCT_BATCH_L2,
    HParam,
    ModelEntry,
    register,
)


@keras.saving.register_keras_serializable(package="recsys_core")
class AutoInt(InteractionModel):
    """AutoInt (Song et al., CIKM 2019, arXiv:1810.11921), as DeepCTR's ``AutoInt``.

    ``att_layer_num`` stacked ``InteractingLayer``s map the field matrix ``(B, F, D)`` to
    ``(B, F, att_embedding_size * att_head_num)``, which is flattened. With an empty ``dnn`` that is
    AutoInt: one Dense unit on the flattened attention output. With a non-empty ``dnn`` it is
    AutoInt+: an MLP over ``flat_features`` runs in parallel and both outputs are concatenated
    before the final Dense unit. ``attention_maps(inputs)`` returns every layer's attention weights.
    """

    forms_pairs = True  # field x field attention maps in every layer and head

    def __init__(
        self,
        tables: list[dict[str, Any]],
        continuous: list[str] | tuple[str, ...] = (),
        embedding_dim: int = 8,
        att_layer_num: int = 3,
        att_embedding_size: int = 8,
        att_head_num: int = 2,
        att_res: bool = True,
        att_scaling: bool = False,
        dnn: list[int] | tuple[int, ...] = (),
        dropout: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(tables, continuous, embedding_dim, **kwargs)
        if int(att_layer_num) < 1:
            raise ValueError(f"AutoInt att_layer_num must be >= 1, got {att_layer_num}.")
        self.require_pairs("AutoInt")
        self.att_layer_num = int(att_layer_num)
        self.att_embedding_size = int(att_embedding_size)
        self.att_head_num = int(att_head_num)
        self.att_res = bool(att_res)
        self.att_scaling = bool(att_scaling)
        self.dnn_units = [int(u) for u in dnn]
        self.dropout = float(dropout)
        self.attention = [
            InteractingLayer(
                self.att_embedding_size,
                self.att_head_num,
                use_res=self.att_res,
                scaling=self.att_scaling,
                seed=1024 + 3 * i,
                name=f"interacting_{i}",
            )
            for i in range(self.att_layer_num)
        ]
        self.deep = (
            MLP(self.dnn_units, dropout=self.dropout, name="dnn") if self.dnn_units else None
        )
        self.head = keras.layers.Dense(
            1, bias_initializer=self.output_bias_initializer(), name="output"
        )

    def attention_maps(self, inputs: dict[str, Any]) -> list[Any]:
        """Attention weights of every layer, each ``(batch, att_head_num, F, F)`` (rows sum to 1)."""
        x = self.field_matrix(inputs)
        maps = []
        for layer in self.attention:
            x, scores = layer(x, return_attention_scores=True)
            maps.append(scores)
        return maps

    def call(self, inputs: dict[str, Any], training: bool = False) -> Any:
        x = self.field_matrix(inputs, training=training)
        for layer in self.attention:
            x = layer(x)
        width = len(self.field_names) * self.att_embedding_size * self.att_head_num
        out = ops.reshape(x, (-1, width))
        if self.deep is not None:
            out = ops.concatenate(
                [out, self.deep(self.flat_features(inputs), training=training)], -1
            )
        return self.head(out)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "att_layer_num": self.att_layer_num,
            "att_embedding_size": self.att_embedding_size,
            "att_head_num": self.att_head_num,
            "att_res": self.att_res,
            "att_scaling": self.att_scaling,
            "dnn": self.dnn_units,
            "dropout": self.dropout,
        }


_ATTENTION = (
    HParam(
        "att_layer_num", 3, "Number of stacked interacting (self-attention) layers.", low=1, high=8
    ),
    HParam("att_embedding_size", 8, "Width of each attention head.", low=1, high=256),
    HParam("att_head_num", 2, "Attention heads per interacting layer.", low=1, high=16),
)

register(
    ModelEntry(
        "autoint",
        "AutoInt",
        "Stacked multi-head self-attention over the field embeddings, flattened into the output.",
        AutoInt,
        (EMBEDDING, EMB_L2, EMB_BATCH_L2, *_ATTENTION),
    )
)
register(
    ModelEntry(
        "autoint_plus",
        "AutoInt+",
        "AutoInt's self-attention stack with a parallel DNN over the flat features.",
        AutoInt,
        (
            EMBEDDING,
            HParam("embedding_l2", 3e-3, EMB_L2.help, "float", 0.0, 1.0),
            PRODUCT_BATCH_L2,
            *_ATTENTION,
            DNN,
            HParam("dropout", 0.3, DROPOUT.help, "float", 0.0, 0.9),
        ),
    )
)
