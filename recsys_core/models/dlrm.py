"""DLRM: embeddings + bottom MLP for continuous features, dot interaction, top MLP."""

from __future__ import annotations

import dataclasses
from typing import Any

import keras
from keras import ops

from recsys_core import _backend  # noqa: F401
from recsys_core.layers.dot_interaction import DotInteraction
from recsys_core.layers.mlp import MLP
from recsys_core.models.base import InteractionModel
from recsys_core.models.fm import LINEAR_L2
from recsys_core.models.registry import (
    DROPOUT,
    EMB_BATCH_L2,
    EMB_L2,
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

    ``linear=1`` adds first-order terms (``LinearTerms``: one learned weight per feature value, so
    per-user and per-movie biases, plus a linear map of the continuous columns) to the top MLP's
    output, as Wide & Deep and DeepFM have; ``linear=0`` is the paper's model. With embedding_batch_l2,
    the bottom MLP's output is penalised per row like the looked-up embeddings.
    """

    uses_continuous_projection = False  # the bottom MLP maps the continuous block to a field
    forms_pairs = True  # the dot interaction feeds every pair's product to the top MLP

    def __init__(
        self,
        tables: list[dict[str, Any]],
        continuous: list[str] | tuple[str, ...] = (),
        embedding_dim: int = 8,
        bottom_mlp: list[int] | tuple[int, ...] = (8,),
        top_mlp: list[int] | tuple[int, ...] = (192, 192, 192),
        variant: str = "canonical",
        dropout: float = 0.0,
        linear: int = 0,
        linear_l2: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(tables, continuous, embedding_dim, **kwargs)
        if variant not in VARIANTS:
            raise ValueError(f"DLRM variant must be one of {VARIANTS}, got {variant!r}.")
        self.require_pairs("DLRM")
        self.bottom_units = [int(u) for u in bottom_mlp]
        self.top_units = [int(u) for u in top_mlp]
        self.variant = variant
        self.dropout = float(dropout)
        self.use_linear = int(bool(linear))
        self.linear_l2 = float(linear_l2)
        self.bottom = (
            MLP([*self.bottom_units, self.embedding_dim], output_activation=None, name="bottom_mlp")
            if self.continuous
            else None
        )
        self.interaction = DotInteraction(name="dot_interaction")
        self.top = self.scoring_mlp(self.top_units, dropout, name="top_mlp")
        self.linear = self.linear_terms(self.linear_l2) if self.use_linear else None

    def field_vectors(self, inputs: dict[str, Any], training: bool = False) -> list[Any]:
        vectors = self.sparse_vectors(inputs)
        if self.bottom is not None:
            vectors.append(self.continuous_penalty(self.bottom(inputs["continuous"])))
        return vectors

    def call(self, inputs: dict[str, Any], training: bool = False) -> Any:
        vectors = self.field_vectors(inputs, training=training)
        x = self.interaction(vectors)
        if self.variant == "canonical" and self.bottom is not None:
            x = ops.concatenate([vectors[-1], x], axis=-1)
        out = self.top(x, training=training)
        return out if self.linear is None else out + self.linear(inputs)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "bottom_mlp": self.bottom_units,
            "top_mlp": self.top_units,
            "variant": self.variant,
            "dropout": self.dropout,
            "linear": self.use_linear,
            "linear_l2": self.linear_l2,
        }


register(
    ModelEntry(
        "dlrm",
        "DLRM",
        "Embeddings and a bottom MLP for continuous features, pairwise dot products, a top MLP.",
        DLRM,
        (
            EMBEDDING,
            # Table 0.003 + per-example 0.03: about as good on MovieLens as 0.01 + 0.13, and a DLRM
            # trained with small batches on the planted tables keeps its dot products (0.01 and
            # 0.13 collapse them there; table L2 acts once per step, so it grows as batches shrink).
            dataclasses.replace(EMB_L2, default=0.003),
            dataclasses.replace(EMB_BATCH_L2, default=0.03),
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
            dataclasses.replace(DROPOUT, default=0.2),
            HParam(
                "linear",
                1,
                "1: add first-order terms (a weight per feature value, e.g. per-user and per-movie "
                "biases) to the output; 0: the paper's model.",
                "int",
                0,
                1,
            ),
            LINEAR_L2,
        ),
    )
)
