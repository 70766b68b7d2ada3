"""PNN's inner-product layer, DeepCTR's ``InnerProductLayer``."""

from __future__ import annotations

from typing import Any

from recsys_core import _backend  # noqa: F401

# isort: split
import keras
from keras import ops

from recsys_core.layers.field_inputs import check_field_list, pair_index, pairs_to_matrix


@keras.saving.register_keras_serializable(package="recsys_core")
class InnerProductLayer(keras.layers.Layer):
    """Pairwise products of field vectors: out_k = <v_i, v_j> (reduce_sum) or v_i * v_j, pair k = (i, j).

    Input: a list of F >= 2 tensors of shape ``(batch, 1, embedding_size)``; output:
    ``(batch, F(F-1)/2, 1)`` with ``reduce_sum=True`` or ``(batch, F(F-1)/2, embedding_size)``
    otherwise, pairs (i < j) in row-major order (see ``pair_index``). Same behaviour as
    ``deepctr.layers.InnerProductLayer`` (0.9.4).

    Reference: Y. Qu, H. Cai, K. Ren, W. Zhang, Y. Yu, Y. Wen, J. Wang, "Product-based Neural
    Networks for User Response Prediction", ICDM 2016 (arXiv:1611.00144).
    """

    def __init__(self, reduce_sum: bool = True, **kwargs: Any) -> None:
        if reduce_sum not in (True, False):
            raise ValueError(f"reduce_sum must be True or False, got {reduce_sum!r}.")
        super().__init__(**kwargs)
        self.reduce_sum = bool(reduce_sum)

    @staticmethod
    def _check_shapes(shapes: Any) -> tuple[int, Any]:
        return check_field_list("InnerProductLayer", shapes)

    def build(self, input_shape: Any) -> None:
        self._check_shapes(input_shape)
        self.built = True

    def _pairs(self, inputs: Any) -> tuple[Any, Any, int]:
        inputs = [ops.convert_to_tensor(x) for x in inputs]
        num_fields, _ = self._check_shapes([x.shape for x in inputs])
        x = ops.concatenate(inputs, axis=1)
        rows, cols = zip(*self.pair_index(num_fields), strict=True)
        return ops.take(x, list(rows), axis=1), ops.take(x, list(cols), axis=1), num_fields

    def call(self, inputs: Any) -> Any:
        p, q, _ = self._pairs(inputs)
        product = p * q
        if self.reduce_sum:
            return ops.sum(product, axis=2, keepdims=True)
        return product

    def compute_output_shape(self, input_shape: Any) -> tuple[Any, ...]:
        num_fields, embedding_size = self._check_shapes(input_shape)
        num_pairs = num_fields * (num_fields - 1) // 2
        return (input_shape[0][0], num_pairs, 1 if self.reduce_sum else embedding_size)

    def pair_terms(self, inputs: Any) -> Any:
        """``(batch, F, F)`` matrix T with T[i, j] = T[j, i] = <v_i, v_j> for i != j, T[i, i] = 0.

        Whatever ``reduce_sum`` is, output[:, k, :] summed over its last axis equals
        T[:, i, j] for the k-th pair (i, j) of ``pair_index``.
        """
        p, q, num_fields = self._pairs(inputs)
        values = ops.sum(p * q, axis=2)
        return pairs_to_matrix(values, num_fields)

    @staticmethod
    def pair_index(num_fields: int) -> list[tuple[int, int]]:
        """The pairs (i, j), i < j, in output order: (0, 1), (0, 2), ..., (F-2, F-1)."""
        return pair_index(num_fields)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "reduce_sum": self.reduce_sum}
