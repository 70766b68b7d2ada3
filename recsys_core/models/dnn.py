"""A plain deep network over the flat features: the baseline every CTR paper compares against."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from recsys_core import _backend  # noqa: F401
from recsys_core.features.spec import CONTINUOUS_FIELD
from recsys_core.models.base import InteractionModel
from recsys_core.models.registry import (
    DNN,
    DROPOUT,
    EMB_BATCH_L2,
    EMB_L2,
    EMBEDDING,
    ModelEntry,
    register,
)


class FlatFeatureModel(InteractionModel):
    """Base of the bit-wise models (DNN, DCN, DCN-V2): they read ``flat_features`` only.

    They see the continuous columns raw, so no continuous projection is created (no unused
    weights). ``field_vectors`` still returns one ``(batch, D)`` vector per ``field_names`` entry:
    the sparse embeddings, then the continuous field as the model's own input columns, zero-padded
    to ``D`` (with more than ``D`` columns, the ``D``-wide chunks of the zero-padded block are
    summed). It is exactly what the model reads when there are at most ``D`` columns.
    """

    uses_continuous_projection = False

    def field_vectors(self, inputs: dict[str, Any], training: bool = False) -> list[Any]:
        vectors = self.sparse_vectors(inputs)
        if self.continuous:
            cont = ops.cast(inputs[CONTINUOUS_FIELD], vectors[0].dtype)
            d, c = self.embedding_dim, self.num_continuous
            chunks = -(-c // d)
            cont = ops.pad(cont, [(0, 0), (0, chunks * d - c)])
            vectors.append(ops.sum(ops.reshape(cont, (-1, chunks, d)), axis=1))
        return vectors


@keras.saving.register_keras_serializable(package="recsys_core")
class DNNModel(FlatFeatureModel):
    """y = MLP(concat(e_1, ..., e_F, x_cont)): ReLU hidden layers then a linear output unit.

    The "DNN" baseline of the CTR literature (e.g. Covington et al., "Deep Neural Networks for
    YouTube Recommendations", RecSys 2016; the deep part of Wide & Deep and DCN), and the keras-io
    DCN example's "deep network".
    """

    def __init__(
        self,
        tables: list[dict[str, Any]],
        continuous: list[str] | tuple[str, ...] = (),
        embedding_dim: int = 8,
        dnn: list[int] | tuple[int, ...] = (256, 128),
        dropout: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(tables, continuous, embedding_dim, **kwargs)
        self.dnn = [int(u) for u in dnn]
        if not self.dnn:
            raise ValueError("DNN needs at least one hidden layer (dnn=[]).")
        self.dropout = float(dropout)
        self.deep = self.scoring_mlp(self.dnn, self.dropout)

    def call(self, inputs: dict[str, Any], training: bool = False) -> Any:
        return self.deep(self.flat_features(inputs), training=training)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "dnn": self.dnn, "dropout": self.dropout}


register(
    ModelEntry(
        "dnn",
        "DNN",
        "A plain deep network (ReLU MLP) over the concatenated embeddings and continuous columns.",
        DNNModel,
        (EMBEDDING, EMB_L2, EMB_BATCH_L2, DNN, DROPOUT),
    )
)
