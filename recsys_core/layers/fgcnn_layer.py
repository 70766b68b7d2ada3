"""FGCNN's feature generation (convolution, max-pooling, recombination), DeepCTR's ``FGCNNLayer``."""

from __future__ import annotations

from typing import Any

from recsys_core import _backend  # noqa: F401

# isort: split
import keras
from keras import ops


@keras.saving.register_keras_serializable(package="recsys_core")
class FGCNNLayer(keras.layers.Layer):
    """For each stage i: C_i = tanh(conv_{(kernel_width_i x 1)}(P_{i-1})), P_i = maxpool_{(pooling_width_i x 1)}(C_i),
    new_i = reshape(tanh(Dense(flatten(P_i)))) to (rows_i * new_maps_i, embedding_size); out = concat_i new_i.

    Input ``(batch, field_size, embedding_size)`` (P_0 is it with one channel); output
    ``(batch, sum_i new_maps_i * rows_i, embedding_size)`` with ``rows_i = rows_{i-1} //
    pooling_width_i``. Convolutions use "same" padding along the field axis and width 1 along the
    embedding axis. Same arguments, defaults and weights as DeepCTR 0.9.4, whose ``get_weights()``
    lists all convolution weights (kernel ``(kernel_width_i, 1, channels, filters_i)``, bias) before
    all Dense weights; the sub-layers are created in that order here, so
    ``set_weights(deepctr_fgcnn.get_weights())`` reproduces it.

    Reference: Liu et al., "Feature Generation by Convolutional Neural Network for Click-Through
    Rate Prediction", WWW 2019 (arXiv:1904.04447).
    """

    def __init__(
        self,
        filters: list[int] | tuple[int, ...] = (14, 16),
        kernel_width: list[int] | tuple[int, ...] = (7, 7),
        new_maps: list[int] | tuple[int, ...] = (3, 3),
        pooling_width: list[int] | tuple[int, ...] = (2, 2),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        args = {
            "filters": filters,
            "kernel_width": kernel_width,
            "new_maps": new_maps,
            "pooling_width": pooling_width,
        }
        lengths = {k: len(v) for k, v in args.items()}
        if len(set(lengths.values())) != 1:
            raise ValueError(
                f"FGCNNLayer arguments must have equal lengths, got lengths {lengths}."
            )
        for k, v in args.items():
            if any(int(n) < 1 for n in v):
                raise ValueError(f"FGCNNLayer {k} must hold positive integers, got {list(v)}.")
        self.filters = [int(n) for n in filters]
        self.kernel_width = [int(n) for n in kernel_width]
        self.new_maps = [int(n) for n in new_maps]
        self.pooling_width = [int(n) for n in pooling_width]

    def _rows(self, field_size: int) -> list[int]:
        rows, out = field_size, []
        for width in self.pooling_width:
            rows //= width
            out.append(rows)
        return out

    def build(self, input_shape: Any) -> None:
        shape = tuple(input_shape)
        if len(shape) != 3:
            raise ValueError(
                "FGCNNLayer expects inputs of rank 3 (batch, field_size, embedding_size), "
                f"got shape {shape}."
            )
        if shape[1] is None or shape[2] is None:
            raise ValueError(f"FGCNNLayer needs known field_size and embedding_size, got {shape}.")
        field_size, emb = int(shape[1]), int(shape[2])
        rows = self._rows(field_size)
        if min(rows) < 1:
            raise ValueError(
                f"FGCNNLayer: field_size={field_size} is too small for pooling_width="
                f"{self.pooling_width} (pooled rows {rows})."
            )
        self._field_size, self._emb = field_size, emb
        self.conv_layers = [
            keras.layers.Conv2D(
                filters=f,
                kernel_size=(w, 1),
                strides=(1, 1),
                padding="same",
                activation="tanh",
                use_bias=True,
                data_format="channels_last",
                name=f"conv_{i}",
            )
            for i, (f, w) in enumerate(zip(self.filters, self.kernel_width, strict=True))
        ]
        self.pooling_layers = [
            keras.layers.MaxPooling2D(
                pool_size=(p, 1), data_format="channels_last", name=f"pool_{i}"
            )
            for i, p in enumerate(self.pooling_width)
        ]
        self.dense_layers = [
            keras.layers.Dense(r * emb * m, activation="tanh", use_bias=True, name=f"dense_{i}")
            for i, (r, m) in enumerate(zip(rows, self.new_maps, strict=True))
        ]
        channels, in_rows = 1, field_size
        for conv, dense, f, r in zip(
            self.conv_layers, self.dense_layers, self.filters, rows, strict=True
        ):
            conv.build((None, in_rows, emb, channels))
            dense.build((None, r * emb * f))
            channels, in_rows = f, r
        self.built = True

    def call(self, inputs: Any) -> Any:
        if len(inputs.shape) != 3 or tuple(inputs.shape[1:]) != (self._field_size, self._emb):
            raise ValueError(
                f"FGCNNLayer expects inputs of shape (batch, {self._field_size}, {self._emb}), "
                f"got {tuple(inputs.shape)}."
            )
        pooled = ops.expand_dims(inputs, axis=-1)
        new_features = []
        for conv, pool, dense, maps in zip(
            self.conv_layers, self.pooling_layers, self.dense_layers, self.new_maps, strict=True
        ):
            pooled = pool(conv(pooled))
            rows = pooled.shape[1]
            flat = ops.reshape(pooled, (-1, rows * self._emb * pooled.shape[-1]))
            new_features.append(ops.reshape(dense(flat), (-1, rows * maps, self._emb)))
        return ops.concatenate(new_features, axis=1)

    def compute_output_shape(self, input_shape: Any) -> tuple:
        shape = tuple(input_shape)
        if len(shape) != 3:
            raise ValueError(
                "FGCNNLayer expects inputs of rank 3 (batch, field_size, embedding_size), "
                f"got shape {shape}."
            )
        rows = self._rows(int(shape[1]))
        total = sum(r * m for r, m in zip(rows, self.new_maps, strict=True))
        return (shape[0], total, shape[2])

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "filters": list(self.filters),
            "kernel_width": list(self.kernel_width),
            "new_maps": list(self.new_maps),
            "pooling_width": list(self.pooling_width),
        }
