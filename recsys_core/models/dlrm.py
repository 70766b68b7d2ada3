"""DLRM: embeddings + bottom MLP for continuous features, dot interaction, top MLP."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from recsys_core import _backend  # noqa: F401
from recsys_core.layers.dot_interaction import DotInteraction
from recsys_core.layers.mlp import MLP
from recsys_core.models.base import InteractionModel
from recsys_core.models.registry import (
    DROPOUT,
    EMB_L2,
    EMB_L2_MODE,
    EMBEDDING,
    HParam,
    ModelEntry,
    register,
)

VARIANTS = ("tutorial", "canonical")


@keras.saving.register_keras_serializable(package="recsys_core")
class DLRM(InteractionModel):
    """Deep Learning Recommendation Model (Naumov et al., 2019, arXiv:1906.00091).

    ``variant="tutorial"`` (keras-rs DLRM tutorial): the top MLP sees only the pairwise dot products.
    ``variant="canonical"`` (paper, torchrec): the bottom-MLP dense vector is concatenated to them.
    """

    uses_continuous_projection = False  # the bottom MLP maps the continuous block to a field

    def __init__(
        self,
        tables: list[dict[str, Any]],
        continuous: list[str] | tuple[str, ...] = (),
        embedding_dim: int = 8,
        bottom_mlp: list[int] | tuple[int, ...] = (8,),
        top_mlp: list[int] | tuple[int, ...] = (192, 192, 192),
        variant: str = "canonical",
        dropout: float = 0.0,
        linear: bool = False,
        linear_l2: float = 0.0,
        top_l2: float = 0.0,
        residual: bool = False,
        detach: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(tables, continuous, embedding_dim, **kwargs)
        self.use_linear = bool(linear)
        self.linear_l2 = float(linear_l2)
        self.top_l2 = float(top_l2)
        self.residual = bool(residual)
        self.detach = bool(detach)
        if variant not in VARIANTS:
            raise ValueError(f"DLRM variant must be one of {VARIANTS}, got {variant!r}.")
        if len(self.field_names) < 2:
            raise ValueError("DLRM needs at least two fields to interact.")
        self.bottom_units = [int(u) for u in bottom_mlp]
        self.top_units = [int(u) for u in top_mlp]
        self.variant = variant
        self.dropout = float(dropout)
        self.bottom = (
            MLP([*self.bottom_units, self.embedding_dim], output_activation=None, name="bottom_mlp")
            if self.continuous
            else None
        )
        self.interaction = DotInteraction(name="dot_interaction")
        self.top = MLP(
            [*self.top_units, 1],
            output_activation=None,
            dropout=dropout,
            kernel_regularizer=keras.regularizers.L2(self.top_l2) if self.top_l2 else None,
            name="top_mlp",
        )
        self.linear = self.linear_terms(self.linear_l2) if self.use_linear else None
        self.top.dense_layers[-1].bias_initializer = self.output_bias_initializer()

    def field_vectors(self, inputs: dict[str, Any], training: bool = False) -> list[Any]:
        vectors = self.sparse_vectors(inputs)
        if self.bottom is not None:
            vectors.append(self.continuous_penalty(self.bottom(inputs["continuous"])))
        return vectors

    def call(self, inputs: dict[str, Any], training: bool = False) -> Any:
        vectors = self.field_vectors(inputs, training=training)
        x = self.interaction(vectors)
        dots = ops.sum(x, axis=-1, keepdims=True)
        if self.variant == "canonical" and self.bottom is not None:
            x = ops.concatenate([vectors[-1], x], axis=-1)
        if self.detach:
            x = ops.stop_gradient(x)
        out = self.top(x, training=training)
        if self.residual:
            out = out + dots
        return out + self.linear(inputs) if self.linear is not None else out

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "bottom_mlp": self.bottom_units,
            "top_mlp": self.top_units,
            "variant": self.variant,
            "dropout": self.dropout,
        }


register(
    ModelEntry(
        "dlrm",
        "DLRM",
        "Embeddings and a bottom MLP for continuous features, pairwise dot products, a top MLP.",
        DLRM,
        (
            EMBEDDING,
            EMB_L2,
            EMB_L2_MODE,
            HParam(
                "bottom_mlp",
                [8],
                "Hidden widths of the bottom MLP (continuous features).",
                "ints",
                1,
                4096,
            ),
            HParam("top_mlp", [192, 192, 192], "Hidden widths of the top MLP.", "ints", 1, 4096),
            HParam(
                "variant",
                "canonical",
                "tutorial: top MLP sees only the dot products (keras-rs tutorial); "
                "canonical: the dense vector is concatenated too (paper, torchrec).",
                "choice",
                choices=("canonical", "tutorial"),
            ),
            DROPOUT,
        ),
    )
)
