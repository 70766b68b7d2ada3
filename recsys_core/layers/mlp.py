"""A stack of Dense layers: the bottom/top MLPs of DLRM and the deep parts of CTR models."""

from __future__ import annotations

from typing import Any

import keras

from recsys_core import _backend  # noqa: F401


@keras.saving.register_keras_serializable(package="recsys_core")
class MLP(keras.layers.Layer):
    """h_{k+1} = act(W_k h_k + b_k) for each width in ``units``; the last layer is linear when
    ``output_activation`` is None.

    Reference: the "DNN" block of DeepCTR and the MLPs of DLRM (Naumov et al., 2019).
    """

    def __init__(
        self,
        units: list[int] | tuple[int, ...],
        activation: str = "relu",
        output_activation: str | None = "relu",
        dropout: float = 0.0,
        kernel_regularizer: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        units = [int(u) for u in units]
        if any(u < 1 for u in units):
            raise ValueError(f"MLP units must be positive integers, got {units}.")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}.")
        self.units = units
        self.activation = activation
        self.output_activation = output_activation
        self.dropout = float(dropout)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.dense_layers = [
            keras.layers.Dense(
                u,
                activation=activation if i < len(units) - 1 else output_activation,
                kernel_regularizer=self.kernel_regularizer,
                name=f"dense_{i}",
            )
            for i, u in enumerate(units)
        ]
        self.dropout_layers = [keras.layers.Dropout(self.dropout) for _ in units] if dropout else []

    def build(self, input_shape: Any) -> None:
        shape = tuple(input_shape)
        for layer in self.dense_layers:
            layer.build(shape)
            shape = (*shape[:-1], layer.units)
        self.built = True

    def call(self, x: Any, training: bool | None = None) -> Any:
        for i, layer in enumerate(self.dense_layers):
            x = layer(x)
            if self.dropout_layers and i < len(self.dense_layers) - 1:
                x = self.dropout_layers[i](x, training=training)
        return x

    def compute_output_shape(self, input_shape: Any) -> tuple:
        if not self.units:
            return tuple(input_shape)
        return (*tuple(input_shape)[:-1], self.units[-1])

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "units": self.units,
            "activation": self.activation,
            "output_activation": self.output_activation,
            "dropout": self.dropout,
            "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
        }
