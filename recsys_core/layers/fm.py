"""Factorization Machine's pairwise term, DeepCTR's ``FM`` layer."""

from __future__ import annotations

from typing import Any

from recsys_core import _backend  # noqa: F401

# isort: split
import keras
from keras import ops


@keras.saving.register_keras_serializable(package="recsys_core")
class FM(keras.layers.Layer):
    """Order-2 FM term without linear part or bias: y = sum_{i<j} <v_i, v_j>.

    Computed as y = 0.5 * sum_e [(sum_i v_ie)^2 - sum_i v_ie^2]. Input: one ``(batch, field_size,
    embedding_size)`` tensor; output: ``(batch, 1)``. Same behaviour as ``deepctr.layers.FM`` (0.9.4);
    ``compute_output_shape`` keeps the batch dimension instead of returning ``None``.

    Reference: S. Rendle, "Factorization Machines", ICDM 2010.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)

    @staticmethod
    def _check_shape(shape: Any) -> tuple[Any, ...]:
        if isinstance(shape, list | tuple) and shape and isinstance(shape[0], list | tuple):
            raise ValueError(
                "FM expects inputs as one tensor of shape (batch_size, field_size, embedding_size), "
                f"got a list of {len(shape)} tensors; concatenate them along axis 1 first."
            )
        shape = tuple(shape)
        if len(shape) != 3:
            raise ValueError(
                "FM expects inputs of rank 3 (batch_size, field_size, embedding_size), "
                f"got shape {shape} (rank {len(shape)})."
            )
        return shape

    def build(self, input_shape: Any) -> None:
        self._check_shape(input_shape)
        self.built = True

    def call(self, inputs: Any) -> Any:
        self._check_shape(inputs.shape)
        square_of_sum = ops.square(ops.sum(inputs, axis=1))
        sum_of_square = ops.sum(ops.square(inputs), axis=1)
        return 0.5 * ops.sum(square_of_sum - sum_of_square, axis=1, keepdims=True)

    def compute_output_shape(self, input_shape: Any) -> tuple[Any, ...]:
        shape = self._check_shape(input_shape)
        return (shape[0], 1)

    def pair_terms(self, inputs: Any) -> Any:
        """``(batch, F, F)`` matrix T with T[i, j] = <v_i, v_j> for i != j and T[i, i] = 0.

        T is symmetric, so the layer's output equals the sum of its strict upper triangle
        (= half the sum of all entries).
        """
        x = ops.convert_to_tensor(inputs)
        shape = self._check_shape(x.shape)
        gram = ops.matmul(x, ops.transpose(x, (0, 2, 1)))
        return gram * (1.0 - ops.eye(shape[1], dtype=gram.dtype))
