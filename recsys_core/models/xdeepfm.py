"""xDeepFM: a linear part, a Compressed Interaction Network over the fields and a deep network."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from recsys_core import _backend  # noqa: F401
from recsys_core.layers.cin import CIN
from recsys_core.layers.mlp import MLP
from recsys_core.models.base import InteractionModel
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

CIN_ACTIVATIONS = ("relu", "linear", "tanh", "sigmoid")


@keras.saving.register_keras_serializable(package="recsys_core")
class XDeepFM(InteractionModel):
    """xDeepFM (Lian et al., "xDeepFM: Combining Explicit and Implicit Feature Interactions for
    Recommender Systems", KDD 2018, arXiv:1803.05170).

    y = b + linear(x) + w_cin . CIN(E) + w_dnn . MLP(concat(e_1, ..., e_F, x_cont)), with E the
    ``(batch, F, D)`` field matrix (the continuous block projected to one field) and ``b`` starting
    at the output bias. As in DeepCTR, the CIN and DNN logits have no bias of their own; here they
    are one Dense(1) over their concatenated outputs, which is the same function.
    """

    def __init__(
        self,
        tables: list[dict[str, Any]],
        continuous: list[str] | tuple[str, ...] = (),
        embedding_dim: int = 8,
        cin_layers: list[int] | tuple[int, ...] = (64, 64),
        cin_activation: str = "relu",
        cin_split_half: bool = True,
        dnn: list[int] | tuple[int, ...] = (256, 128),
        dropout: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(tables, continuous, embedding_dim, **kwargs)
        if cin_activation not in CIN_ACTIVATIONS:
            raise ValueError(
                f"xDeepFM cin_activation must be one of {CIN_ACTIVATIONS}, got {cin_activation!r}."
            )
        self.cin_layers = [int(s) for s in cin_layers]
        self.cin_activation = cin_activation
        self.cin_split_half = bool(cin_split_half)
        self.dnn = [int(u) for u in dnn]
        self.dropout = float(dropout)
        self.linear = self.linear_terms(self.embedding_l2)
        self.cin = CIN(
            self.cin_layers, cin_activation, split_half=self.cin_split_half, l2_reg=0.0, name="cin"
        )
        self.deep = MLP(self.dnn, dropout=self.dropout, name="dnn") if self.dnn else None
        self.head = keras.layers.Dense(
            1, bias_initializer=self.output_bias_initializer(), name="output"
        )

    def call(self, inputs: dict[str, Any], training: bool = False) -> Any:
        parts = [self.cin(self.field_matrix(inputs, training=training))]
        if self.deep is not None:
            parts.append(self.deep(self.flat_features(inputs), training=training))
        return self.head(ops.concatenate(parts, axis=-1)) + self.linear(inputs)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "cin_layers": self.cin_layers,
            "cin_activation": self.cin_activation,
            "cin_split_half": self.cin_split_half,
            "dnn": self.dnn,
            "dropout": self.dropout,
        }


register(
    ModelEntry(
        "xdeepfm",
        "xDeepFM",
        "Linear terms, a Compressed Interaction Network (vector-wise field crosses) and a deep network.",
        XDeepFM,
        (
            EMBEDDING,
            EMB_L2,
            PRODUCT_BATCH_L2,
            HParam(
                "cin_layers",
                [64, 64],
                "Feature maps per CIN layer (even except the last: half of each feeds the next layer).",
                "ints",
                1,
                1024,
            ),
            HParam(
                "cin_activation",
                "relu",
                "Activation of the CIN feature maps (DeepCTR: relu; the paper: identity = linear).",
                "choice",
                choices=CIN_ACTIVATIONS,
            ),
            DNN,
            DROPOUT,
        ),
    )
)
