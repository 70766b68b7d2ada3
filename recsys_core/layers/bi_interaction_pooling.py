"""Neural FM's Bi-Interaction pooling, DeepCTR's ``BiInteractionPooling`` layer."""

from __future__ import annotations

from typing import Any

from recsys_core import _backend  # noqa: F401

# isort: split
import keras
from keras import ops

from recsys_core.layers.field_inputs import pair_index


@keras.saving.register_keras_serializable(package="recsys_core")
class BiInteractionPooling(keras.layers.Layer):
    """Sum of element-wise products of all field pairs: f = sum_{i<j} v_i * v_j (a vector).

    Computed as f = 0.5 * [(sum_i v_i)^2 - sum_i v_i^2]. Input: one ``(batch, field_size,
    embedding_size)`` tensor; output: ``(batch, 1, embedding_size)``. Same behaviour as
    ``deepctr.layers.BiInteractionPooling`` (0.9.4); ``compute_output_shape`` keeps the batch
    dimension instead of returning ``None``.

    Reference: X. He and T.-S. Chua, "Neural Factorization Machines for Sparse Predictive
    Analytics", SIGIR 2017 (arXiv:1708.05027).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)

    @staticmethod
    def _check_shape(shape: Any) -> tuple[Any, ...]:
        if isinstance(shape, list | tuple) and shape and isinstance(shape[0], list | tuple):
            raise ValueError(
                "BiInteractionPooling expects inputs as one tensor of shape (batch_size, "
                f"field_size, embedding_size), got a list of {len(shape)} tensors; concatenate "
                "them along axis 1 first."
            )
        shape = tuple(shape)
        if len(shape) != 3:
            raise ValueError(
                "BiInteractionPooling expects inputs of rank 3 (batch_size, field_size, "
                f"embedding_size), got shape {shape} (rank {len(shape)})."
            )
        return shape

    def build(self, input_shape: Any) -> None:
        self._check_shape(input_shape)
        self.built = True

    def call(self, inputs: Any) -> Any:
        self._check_shape(inputs.shape)
        square_of_sum = ops.square(ops.sum(inputs, axis=1, keepdims=True))
        sum_of_square = ops.sum(ops.square(inputs), axis=1, keepdims=True)
        return 0.5 * (square_of_sum - sum_of_square)

    def compute_output_shape(self, input_shape: Any) -> tuple[Any, ...]:
        shape = self._check_shape(input_shape)
        return (shape[0], 1, shape[2])

    def pair_vectors(self, inputs: Any) -> Any:
        """``(batch, P, E)`` products v_i * v_j for the P = F(F-1)/2 pairs in ``pair_index`` order.

        Their sum over axis 1 is the layer's output (without the middle axis).
        """
        x = ops.convert_to_tensor(inputs)
        shape = self._check_shape(x.shape)
        rows, cols = zip(*self.pair_index(shape[1]), strict=True)
        return ops.take(x, list(rows), axis=1) * ops.take(x, list(cols), axis=1)

    def pair_terms(self, inputs: Any) -> Any:
        """``(batch, F, F)`` matrix T with T[i, j] = <v_i, v_j> for i != j and T[i, i] = 0.

        <v_i, v_j> is the pair's contribution summed over the embedding axis: the sum of the
        output vector equals the sum of T's strict upper triangle.
        """
        x = ops.convert_to_tensor(inputs)
        shape = self._check_shape(x.shape)
        gram = ops.matmul(x, ops.transpose(x, (0, 2, 1)))
        return gram * (1.0 - ops.eye(shape[1], dtype=gram.dtype))

    @staticmethod
    def pair_index(num_fields: int) -> list[tuple[int, int]]:
        """The pairs (i, j), i < j, in row-major order: (0, 1), (0, 2), ..., (F-2, F-1)."""
        return pair_index(num_fields)
