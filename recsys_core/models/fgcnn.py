"""FGCNN: CNN-generated features joined to the raw fields, pairwise inner products, a DNN."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from recsys_core import _backend  # noqa: F401
from recsys_core.features.spec import CONTINUOUS_FIELD
from recsys_core.layers.embedding_bag_collection import EmbeddingBagCollection
from recsys_core.layers.fgcnn_layer import FGCNNLayer
from recsys_core.layers.inner_product_layer import InnerProductLayer
from recsys_core.layers.mlp import MLP
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

FG_EMBEDDINGS = ("separate", "shared")


@keras.saving.register_keras_serializable(package="recsys_core")
class FGCNN(InteractionModel):
    """FGCNN (Liu et al., WWW 2019, arXiv:1904.04447), as DeepCTR's ``FGCNN``.

    ``FGCNNLayer`` generates new feature vectors N from a field matrix (its own embeddings with
    ``fg_embedding="separate"``, as DeepCTR; the model's field matrix E with ``"shared"``). With
    C = concat(E, N) ``(B, F + F_new, D)``, an MLP reads [flat(C), <c_i, c_j> for i < j] and a
    Dense unit gives the score. Empty ``conv_filters`` (and the other three lists) skips generation.
    """

    forms_pairs = True  # inner products of every pair of raw and generated fields

    def __init__(
        self,
        tables: list[dict[str, Any]],
        continuous: list[str] | tuple[str, ...] = (),
        embedding_dim: int = 8,
        conv_filters: list[int] | tuple[int, ...] = (14, 16),
        conv_kernel_width: list[int] | tuple[int, ...] = (7, 7),
        new_maps: list[int] | tuple[int, ...] = (3, 3),
        pooling_width: list[int] | tuple[int, ...] = (2, 2),
        fg_embedding: str = "separate",
        dnn: list[int] | tuple[int, ...] = (256, 128),
        dropout: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(tables, continuous, embedding_dim, **kwargs)
        lists = {
            "conv_filters": [int(n) for n in conv_filters],
            "conv_kernel_width": [int(n) for n in conv_kernel_width],
            "new_maps": [int(n) for n in new_maps],
            "pooling_width": [int(n) for n in pooling_width],
        }
        if len({len(v) for v in lists.values()}) != 1:
            raise ValueError(
                "FGCNN conv_filters, conv_kernel_width, new_maps and pooling_width must have equal "
                f"lengths, got {lists}."
            )
        if fg_embedding not in FG_EMBEDDINGS:
            raise ValueError(
                f"FGCNN fg_embedding must be one of {FG_EMBEDDINGS}, got {fg_embedding!r}."
            )
        num_fields = len(self.field_names)
        rows = num_fields
        for width in lists["pooling_width"]:
            rows //= max(width, 1)
            if rows < 1:
                raise ValueError(
                    f"FGCNN: {num_fields} fields are too few for pooling_width "
                    f"{lists['pooling_width']} (a stage would keep no rows)."
                )
        if not dnn:
            raise ValueError("FGCNN needs a non-empty dnn.")
        self.conv_filters = lists["conv_filters"]
        self.conv_kernel_width = lists["conv_kernel_width"]
        self.new_maps = lists["new_maps"]
        self.pooling_width = lists["pooling_width"]
        self.fg_embedding = fg_embedding
        self.dnn_units = [int(u) for u in dnn]
        self.dropout = float(dropout)
        separate = fg_embedding == "separate" and bool(self.conv_filters)
        self.fg_tables = (
            EmbeddingBagCollection(
                self.tables,
                self.embedding_dim,
                pooling=self.pooling,
                embeddings_regularizer=(
                    keras.regularizers.L2(self.embedding_l2) if self.embedding_l2 else None
                ),
                name="fg_embedding",
            )
            if separate
            else None
        )
        self.fg_projection = (
            keras.layers.Dense(self.embedding_dim, name="fg_continuous_projection")
            if separate and self.continuous
            else None
        )
        self.generator = (
            FGCNNLayer(
                self.conv_filters,
                self.conv_kernel_width,
                self.new_maps,
                self.pooling_width,
                name="fgcnn",
            )
            if self.conv_filters
            else None
        )
        self.inner = InnerProductLayer(reduce_sum=True, name="inner_product")
        self.deep = MLP(self.dnn_units, dropout=self.dropout, name="dnn")
        self.head = keras.layers.Dense(
            1, bias_initializer=self.output_bias_initializer(), name="output"
        )

    def _fg_matrix(self, inputs: dict[str, Any], raw: Any) -> Any:
        if self.fg_tables is None:
            return raw
        vectors = self.fg_tables(inputs)
        if self.fg_projection is not None:
            vectors.append(self.fg_projection(inputs[CONTINUOUS_FIELD]))
        return ops.stack(vectors, axis=1)

    def call(self, inputs: dict[str, Any], training: bool = False) -> Any:
        raw = self.field_matrix(inputs, training=training)
        combined = raw
        if self.generator is not None:
            new = self.generator(self._fg_matrix(inputs, raw))
            combined = ops.concatenate([raw, new], axis=1)
        rows, dim = combined.shape[1], combined.shape[2]
        products = self.inner([combined[:, i : i + 1] for i in range(rows)])
        x = ops.concatenate(
            [
                ops.reshape(combined, (-1, rows * dim)),
                ops.reshape(products, (-1, products.shape[1])),
            ],
            axis=-1,
        )
        return self.head(self.deep(x, training=training))

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "conv_filters": self.conv_filters,
            "conv_kernel_width": self.conv_kernel_width,
            "new_maps": self.new_maps,
            "pooling_width": self.pooling_width,
            "fg_embedding": self.fg_embedding,
            "dnn": self.dnn_units,
            "dropout": self.dropout,
        }


register(
    ModelEntry(
        "fgcnn",
        "FGCNN",
        "A CNN generates new features from the fields; with the raw fields and all their pairwise "
        "inner products they feed a DNN.",
        FGCNN,
        (
            EMBEDDING,
            HParam("embedding_l2", 3e-3, EMB_L2.help, "float", 0.0, 1.0),
            EMB_BATCH_L2,
            HParam("conv_filters", [14, 16], "Filters of each convolution stage.", "ints", 1, 256),
            HParam(
                "conv_kernel_width",
                [7, 7],
                "Kernel height (along the fields) of each stage.",
                "ints",
                1,
                64,
            ),
            HParam("new_maps", [3, 3], "New feature maps generated by each stage.", "ints", 1, 64),
            HParam(
                "pooling_width",
                [2, 2],
                "Max-pooling height of each stage (the field count must survive all stages).",
                "ints",
                1,
                16,
            ),
            HParam(
                "fg_embedding",
                "separate",
                "separate: the generator has its own embeddings (DeepCTR); shared: it reads the "
                "model's field vectors.",
                "choice",
                choices=FG_EMBEDDINGS,
            ),
            DNN,
            HParam("dropout", 0.3, DROPOUT.help, "float", 0.0, 0.9),
        ),
    )
)
