"""Wide & Deep: a linear (wide) part plus a DNN over the embeddings and continuous columns."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import keras

from recsys_core import _backend  # noqa: F401
from recsys_core.models.base import InteractionModel
from recsys_core.models.fm import LINEAR_L2
from recsys_core.models.registry import (
    DNN,
    DROPOUT,
    EMB_BATCH_L2,
    EMB_L2,
    EMBEDDING,
    ModelEntry,
    register,
)


@keras.saving.register_keras_serializable(package="recsys_core")
class WideDeep(InteractionModel):
    """Wide & Deep: y = sum_f w_f[x_f] + <u, x_cont> + DNN([e_1, ..., e_S, x_cont]).

    The wide part is ``LinearTerms`` (one weight per feature value, no hand-made crosses); the deep
    part an MLP over ``flat_features`` (sparse embeddings and the raw continuous columns, as
    DeepCTR's WDL) ending in a Dense(1) whose bias starts at ``output_bias``.

    Reference: H.-T. Cheng et al., "Wide & Deep Learning for Recommender Systems", DLRS 2016
    (arXiv:1606.07792).
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
        self.dnn = self.scoring_mlp(self.dnn_units, dropout)

    def call(self, inputs: dict[str, Any], training: bool = False) -> Any:
        return self.linear(inputs) + self.dnn(self.flat_features(inputs), training=training)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "linear_l2": self.linear_l2,
            "dnn": self.dnn_units,
            "dropout": self.dropout,
        }


register(
    ModelEntry(
        "wide_deep",
        "Wide & Deep",
        "A linear (wide) part plus a DNN over the embeddings and continuous columns, summed.",
        WideDeep,
        (
            replace(EMBEDDING, default=16),
            replace(EMB_L2, default=0.01),
            EMB_BATCH_L2,
            LINEAR_L2,
            DNN,
            DROPOUT,
        ),
    )
)
