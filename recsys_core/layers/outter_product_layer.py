"""PNN's outer-product layer, DeepCTR's ``OutterProductLayer`` (the misspelt name is kept)."""

from __future__ import annotations

from typing import Any

from recsys_core import _backend  # noqa: F401

# isort: split
import keras
from keras import ops

from recsys_core.layers.field_inputs import check_field_list, pair_index, pairs_to_matrix

KERNEL_TYPES = ("mat", "vec", "num")


@keras.saving.register_keras_serializable(package="recsys_core")
class OutterProductLayer(keras.layers.Layer):
    """Kernelised pair products, pair k = (i, j), i < j, p = v_i, q = v_j:

    'mat': out_k = sum_{a,b} q_a K[a, k, b] p_b (K: E x P x E); 'vec': out_k = sum_e p_e q_e K[k, e]
    (K: P x E); 'num': out_k = K[k, 0] * <p, q> (K: P x 1).

    Input: a list of F >= 2 tensors of shape ``(batch, 1, embedding_size)``; output
    ``(batch, F(F-1)/2)``, pairs in row-major order (see ``pair_index``). Same arguments, weight
    and behaviour as ``deepctr.layers.OutterProductLayer`` (0.9.4); an unknown ``kernel_type`` raises
    ``ValueError`` naming the value, and ``compute_output_shape`` keeps the batch dimension.

    Reference: Y. Qu, H. Cai, K. Ren, W. Zhang, Y. Yu, Y. Wen, J. Wang, "Product-based Neural
    Networks for User Response Prediction", ICDM 2016 (arXiv:1611.00144).
    """

    def __init__(self, kernel_type: str = "mat", seed: int | None = 1024, **kwargs: Any) -> None:
        if kernel_type not in KERNEL_TYPES:
            raise ValueError(f"kernel_type must be one of {KERNEL_TYPES}, got {kernel_type!r}.")
        super().__init__(**kwargs)
        self.kernel_type = kernel_type
        self.seed = seed

    @staticmethod
    def _check_shapes(shapes: Any) -> tuple[int, Any]:
        return check_field_list("OutterProductLayer", shapes)

    def build(self, input_shape: Any) -> None:
        num_fields, embedding_size = self._check_shapes(input_shape)
        if embedding_size is None:
            raise ValueError("OutterProductLayer needs a known embedding_size (last input axis).")
        num_pairs = num_fields * (num_fields - 1) // 2
        embedding_size = int(embedding_size)
        shape = {
            "mat": (embedding_size, num_pairs, embedding_size),
            "vec": (num_pairs, embedding_size),
            "num": (num_pairs, 1),
        }[self.kernel_type]
        self.num_fields = num_fields
        self.kernel = self.add_weight(
            shape=shape, initializer=keras.initializers.GlorotUniform(seed=self.seed), name="kernel"
        )
        self.built = True

    def _pair_values(self, inputs: Any) -> tuple[Any, int]:
        inputs = [ops.convert_to_tensor(x) for x in inputs]
        num_fields, _ = self._check_shapes([x.shape for x in inputs])
        if not self.built:
            self.build([tuple(x.shape) for x in inputs])
        if num_fields != self.num_fields:
            raise ValueError(
                f"OutterProductLayer was built for {self.num_fields} fields, got {num_fields} inputs."
            )
        x = ops.concatenate(inputs, axis=1)
        rows, cols = zip(*self.pair_index(num_fields), strict=True)
        p = ops.take(x, list(rows), axis=1)
        q = ops.take(x, list(cols), axis=1)
        if self.kernel_type == "mat":
            return ops.einsum("bkl,akl,bka->bk", p, self.kernel, q), num_fields
        return ops.sum(p * q * ops.expand_dims(self.kernel, 0), axis=-1), num_fields

    def call(self, inputs: Any) -> Any:
        return self._pair_values(inputs)[0]

    def compute_output_shape(self, input_shape: Any) -> tuple[Any, ...]:
        num_fields, _ = self._check_shapes(input_shape)
        return (input_shape[0][0], num_fields * (num_fields - 1) // 2)

    def pair_terms(self, inputs: Any) -> Any:
        """``(batch, F, F)`` matrix T with T[i, j] = T[j, i] = out_k for the k-th pair (i, j), i < j.

        The diagonal is 0; T's strict upper triangle read row by row is the layer's output (with
        'mat' the kernel is not symmetric: out_k uses p = v_i, q = v_j for i < j).
        """
        values, num_fields = self._pair_values(inputs)
        return pairs_to_matrix(values, num_fields)

    @staticmethod
    def pair_index(num_fields: int) -> list[tuple[int, int]]:
        """The pairs (i, j), i < j, in output order: (0, 1), (0, 2), ..., (F-2, F-1)."""
        return pair_index(num_fields)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "kernel_type": self.kernel_type, "seed": self.seed}
