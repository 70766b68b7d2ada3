"""PNN: field embeddings and their pairwise (inner and/or outer) products fed to a DNN."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import keras
from keras import ops

from recsys_core import _backend  # noqa: F401
from recsys_core.layers.inner_product_layer import InnerProductLayer
from recsys_core.layers.outter_product_layer import KERNEL_TYPES, OutterProductLayer
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

PRODUCT_TYPES = ("inner", "outer", "both")


@keras.saving.register_keras_serializable(package="recsys_core")
class PNN(InteractionModel):
    """Product-based neural network: y = DNN([z, p]).

    z, the linear signal, is ``flat_features`` (sparse embeddings and the raw continuous columns);
    p holds the pairwise products of the field vectors (each as ``(batch, 1, D)``):
    ``product_type="inner"`` the inner products (``InnerProductLayer``, IPNN), ``"outer"`` the
    kernelised outer products (``OutterProductLayer`` with ``kernel_type``, OPNN), ``"both"`` both
    (PNN*). The DNN ends in a Dense(1) whose bias starts at ``output_bias``, as DeepCTR's PNN.

    Reference: Y. Qu et al., "Product-based Neural Networks for User Response Prediction",
    ICDM 2016 (arXiv:1611.00144).
    """

    forms_pairs = True  # an inner or outer product per field pair

    def __init__(
        self,
        tables: list[dict[str, Any]],
        continuous: list[str] | tuple[str, ...] = (),
        embedding_dim: int = 8,
        product_type: str = "inner",
        kernel_type: str = "mat",
        dnn: list[int] | tuple[int, ...] = (256, 128),
        dropout: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(tables, continuous, embedding_dim, **kwargs)
        if product_type not in PRODUCT_TYPES:
            raise ValueError(
                f"PNN product_type must be one of {PRODUCT_TYPES}, got {product_type!r}."
            )
        if kernel_type not in KERNEL_TYPES:
            raise ValueError(f"PNN kernel_type must be one of {KERNEL_TYPES}, got {kernel_type!r}.")
        self.require_pairs("PNN")
        self.product_type = product_type
        self.kernel_type = kernel_type
        self.dnn_units = [int(u) for u in dnn]
        self.dropout = float(dropout)
        self.inner = (
            InnerProductLayer(name="inner_product") if product_type in ("inner", "both") else None
        )
        self.outer = (
            OutterProductLayer(kernel_type, seed=None, name="outer_product")
            if product_type in ("outer", "both")
            else None
        )
        self.dnn = self.scoring_mlp(self.dnn_units, dropout)

    def call(self, inputs: dict[str, Any], training: bool = False) -> Any:
        vectors = [ops.expand_dims(v, 1) for v in self.field_vectors(inputs, training=training)]
        parts = [self.flat_features(inputs)]
        if self.inner is not None:
            parts.append(ops.squeeze(self.inner(vectors), axis=-1))
        if self.outer is not None:
            parts.append(self.outer(vectors))
        return self.dnn(ops.concatenate(parts, axis=-1), training=training)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "product_type": self.product_type,
            "kernel_type": self.kernel_type,
            "dnn": self.dnn_units,
            "dropout": self.dropout,
        }


register(
    ModelEntry(
        "pnn",
        "PNN",
        "Product-based network: the embeddings and their pairwise inner and/or outer products "
        "feed a DNN.",
        PNN,
        (
            replace(EMBEDDING, default=16),
            replace(EMB_L2, default=0.01),
            PRODUCT_BATCH_L2,
            HParam(
                "product_type",
                "inner",
                "inner: inner products (IPNN); outer: kernelised outer products (OPNN); both (PNN*).",
                "choice",
                choices=PRODUCT_TYPES,
            ),
            HParam(
                "kernel_type",
                "mat",
                "Kernel of the outer products: mat (a D x D matrix per pair), vec (a D-vector per "
                "pair) or num (a scalar per pair).",
                "choice",
                choices=KERNEL_TYPES,
            ),
            DNN,
            replace(DROPOUT, default=0.3),
        ),
    )
)
