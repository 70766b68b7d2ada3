"""What every model shares: embedding tables from the feature spec and a field-vector interface."""

from __future__ import annotations

from typing import Any

import keras

from recsys_core import _backend  # noqa: F401
from recsys_core.features.spec import CONTINUOUS_FIELD
from recsys_core.layers.embedding_bag_collection import EmbeddingBagCollection


class InteractionModel(keras.Model):
    """Base of the zoo: owns the sparse tables and names the interaction fields.

    Subclasses implement ``field_vectors(inputs) -> list[(batch, D)]`` in ``field_names`` order and
    ``call``. The output is one unbounded score per row: the rating for regression, the logit for a
    binary task (the training engine applies the sigmoid inside the loss).
    """

    def __init__(
        self,
        tables: list[dict[str, Any]],
        num_continuous: int = 0,
        embedding_dim: int = 8,
        embedding_l2: float = 0.0,
        pooling: str = "mean",
        output_bias: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.tables = [dict(t) for t in tables]
        self.num_continuous = int(num_continuous)
        self.embedding_dim = int(embedding_dim)
        self.embedding_l2 = float(embedding_l2)
        self.pooling = pooling
        self.output_bias = float(output_bias)
        self.embedding = EmbeddingBagCollection(
            self.tables,
            self.embedding_dim,
            pooling=pooling,
            embeddings_regularizer=keras.regularizers.L2(embedding_l2) if embedding_l2 else None,
            name="embedding",
        )

    @property
    def field_names(self) -> list[str]:
        return [t["name"] for t in self.tables] + (
            [CONTINUOUS_FIELD] if self.num_continuous else []
        )

    def example_inputs(self, batch: int = 1) -> dict[str, Any]:
        """Zero inputs of the right shapes (bags of length 1), used to build the model."""
        import numpy as np

        x: dict[str, Any] = {t["name"]: np.zeros((batch,), "int32") for t in self.tables}
        if self.num_continuous:
            x[CONTINUOUS_FIELD] = np.zeros((batch, self.num_continuous), "float32")
        return x

    def build(self, input_shape: Any = None) -> None:
        # Weights depend only on the config, so a reloaded model can build without real inputs.
        if not self.built:
            self.call(self.example_inputs())
        self.built = True

    def field_vectors(self, inputs: dict[str, Any], training: bool = False) -> list[Any]:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "tables": self.tables,
            "num_continuous": self.num_continuous,
            "embedding_dim": self.embedding_dim,
            "embedding_l2": self.embedding_l2,
            "pooling": self.pooling,
            "output_bias": self.output_bias,
        }
