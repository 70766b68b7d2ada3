"""The first-order (linear) part of FM-family and wide models."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from recsys_core.layers.embedding_bag_collection import EmbeddingBagCollection


@keras.saving.register_keras_serializable(package="recsys_core")
class LinearTerms(keras.layers.Layer):
    """y = sum_f w_f[x_f] + <u, x_cont>: one learned scalar per sparse value plus a linear map of the
    continuous columns (no bias: the model's output layer holds it).

    ``call(inputs)`` takes the model's input dict and returns ``(batch, 1)``; ``field_terms(inputs)``
    returns the ``(batch, F)`` per-field contributions (sparse fields, then the continuous block as
    one field) whose sum is the output.

    Reference: Rendle, "Factorization Machines", ICDM 2010; Cheng et al., "Wide & Deep Learning for
    Recommender Systems", DLRS 2016 (arXiv:1606.07792).
    """

    def __init__(
        self,
        tables: list[dict[str, Any]],
        num_continuous: int = 0,
        pooling: str = "mean",
        l2: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.tables = [dict(t) for t in tables]
        self.num_continuous = int(num_continuous)
        self.pooling = pooling
        self.l2 = float(l2)
        reg = keras.regularizers.L2(l2) if l2 else None
        self.weights_per_value = EmbeddingBagCollection(
            self.tables,
            1,
            pooling=pooling,
            embeddings_initializer="zeros",
            embeddings_regularizer=reg,
            name="values",
        )
        self.continuous_weights = (
            keras.layers.Dense(1, use_bias=False, kernel_regularizer=reg, name="continuous")
            if self.num_continuous
            else None
        )

    def build(self, input_shape: Any = None) -> None:
        self.weights_per_value.build()
        if self.continuous_weights is not None:
            self.continuous_weights.build((None, self.num_continuous))
        self.built = True

    def field_terms(self, inputs: dict[str, Any]) -> Any:
        terms = self.weights_per_value(inputs)
        if self.continuous_weights is not None:
            terms.append(self.continuous_weights(inputs["continuous"]))
        return ops.concatenate(terms, axis=-1)

    def call(self, inputs: dict[str, Any]) -> Any:
        return ops.sum(self.field_terms(inputs), axis=-1, keepdims=True)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "tables": self.tables,
            "num_continuous": self.num_continuous,
            "pooling": self.pooling,
            "l2": self.l2,
        }
