"""FLEN's field-wise bi-interaction, DeepCTR's ``FieldWiseBiInteraction`` layer."""

from __future__ import annotations

from typing import Any

from recsys_core import _backend  # noqa: F401

# isort: split
import keras
import numpy as np
from keras import ops

from recsys_core.layers.field_inputs import pair_index


@keras.saving.register_keras_serializable(package="recsys_core")
class FieldWiseBiInteraction(keras.layers.Layer):
    """FLEN's FwBI: with s_m = sum of the vectors of field group m and pair k = (m, n), m < n:

    out = sum_k r_k (s_m * s_n) + b_mf + sum_m c_m [s_m^2 - sum_{v in m} v^2] + b_fm (all element-wise).

    r = ``kernel_mf`` ``(M(M-1)/2, 1)`` (init 1), c = ``kernel_fm`` ``(M, 1)`` (init 0.5, so each
    intra-group term starts as the FM term sum_{u<v in m} u * v), biases ``bias_mf`` and
    ``bias_fm`` ``(E,)`` when ``use_bias``. Input: a list of M >= 2 tensors ``(batch, n_m, E)``
    (groups may hold different numbers n_m of feature vectors); output ``(batch, E)``. Same weights
    and behaviour as ``deepctr.layers.FieldWiseBiInteraction`` (0.9.4); ``seed`` is kept for
    compatibility and, as there, unused. Wrong shapes raise ``ValueError``.

    Reference: W. Chen, L. Zhan, Y. Ci, M. Yang, C. Lin, D. Liu, "FLEN: Leveraging Field for
    Scalable CTR Prediction", 2019 (arXiv:1911.04690).
    """

    def __init__(self, use_bias: bool = True, seed: int | None = 1024, **kwargs: Any) -> None:
        if use_bias not in (True, False):
            raise ValueError(f"use_bias must be True or False, got {use_bias!r}.")
        super().__init__(**kwargs)
        self.use_bias = bool(use_bias)
        self.seed = seed

    @staticmethod
    def _check_shapes(shapes: Any) -> tuple[int, Any]:
        """Validate a list of ``(batch, n_m, E)`` shapes; return (num_groups, embedding_size)."""
        if not (
            isinstance(shapes, list | tuple) and shapes and isinstance(shapes[0], list | tuple)
        ):
            raise ValueError(
                "FieldWiseBiInteraction expects inputs as a list of at least 2 tensors of shape "
                f"(batch_size, n_features, embedding_size), got a single tensor of shape "
                f"{tuple(shapes)}."
            )
        shapes = [tuple(s) for s in shapes]
        if len(shapes) < 2:
            raise ValueError(
                f"FieldWiseBiInteraction expects a list of at least 2 inputs, got {len(shapes)}."
            )
        for k, s in enumerate(shapes):
            if len(s) != 3:
                raise ValueError(
                    "FieldWiseBiInteraction expects inputs of rank 3 (batch_size, n_features, "
                    f"embedding_size), got shape {s} (rank {len(s)}) for input {k}."
                )
        if len({s[2] for s in shapes}) > 1:
            raise ValueError(
                "FieldWiseBiInteraction expects the same embedding_size (last axis) in every "
                f"input, got shapes {shapes}."
            )
        return len(shapes), shapes[0][2]

    def build(self, input_shape: Any) -> None:
        num_groups, embedding_size = self._check_shapes(input_shape)
        if embedding_size is None:
            raise ValueError("FieldWiseBiInteraction needs a known embedding_size (last axis).")
        self.num_fields = num_groups
        embedding_size = int(embedding_size)
        self.kernel_mf = self.add_weight(
            name="kernel_mf", shape=(num_groups * (num_groups - 1) // 2, 1), initializer="ones"
        )
        self.kernel_fm = self.add_weight(
            name="kernel_fm",
            shape=(num_groups, 1),
            initializer=keras.initializers.Constant(0.5),
        )
        if self.use_bias:
            self.bias_mf = self.add_weight(
                name="bias_mf", shape=(embedding_size,), initializer="zeros"
            )
            self.bias_fm = self.add_weight(
                name="bias_fm", shape=(embedding_size,), initializer="zeros"
            )
        self.built = True

    def _parts(self, inputs: Any) -> tuple[Any, Any, Any]:
        """(pair products r_k s_m * s_n ``(b, P, E)``, weighted intra-group terms ``(b, M, E)``, sums)."""
        inputs = [ops.convert_to_tensor(x) for x in inputs]
        shapes = [tuple(x.shape) for x in inputs]
        num_groups, _ = self._check_shapes(shapes)
        if not self.built:
            self.build(shapes)
        if num_groups != self.num_fields:
            raise ValueError(
                f"FieldWiseBiInteraction was built for {self.num_fields} inputs, got {num_groups}."
            )
        sums = ops.stack([ops.sum(x, axis=1) for x in inputs], axis=1)  # (b, M, E)
        sum_sq = ops.stack([ops.sum(ops.square(x), axis=1) for x in inputs], axis=1)
        rows, cols = zip(*self.pair_index(num_groups), strict=True)
        pair = ops.take(sums, list(rows), axis=1) * ops.take(sums, list(cols), axis=1)
        pair = pair * self.kernel_mf
        intra = (ops.square(sums) - sum_sq) * self.kernel_fm
        return pair, intra, sums

    def call(self, inputs: Any) -> Any:
        pair, intra, _ = self._parts(inputs)
        h_mf = ops.sum(pair, axis=1)
        h_fm = ops.sum(intra, axis=1)
        if self.use_bias:
            h_mf = h_mf + self.bias_mf
            h_fm = h_fm + self.bias_fm
        return h_mf + h_fm

    def compute_output_shape(self, input_shape: Any) -> tuple[Any, ...]:
        _, embedding_size = self._check_shapes(input_shape)
        return (input_shape[0][0], embedding_size)

    def pair_terms(self, inputs: Any) -> Any:
        """``(batch, M, M)`` matrix T of scalar contributions summed over the embedding axis.

        T[m, n] = T[n, m] = r_k <s_m, s_n> for the k-th group pair (m, n), m < n (inter-group), and
        T[m, m] = c_m sum_e (s_me^2 - sum_{v in m} v_e^2) (the intra-group term). The sum of the
        output over its last axis equals the sum of T's upper triangle including the diagonal,
        plus sum(bias_mf + bias_fm) when ``use_bias``.
        """
        pair, intra, _ = self._parts(inputs)
        num_groups = self.num_fields
        pairs = self.pair_index(num_groups)
        values = ops.concatenate([ops.sum(pair, axis=2), ops.sum(intra, axis=2)], axis=1)
        scatter = np.zeros((len(pairs) + num_groups, num_groups * num_groups), dtype="float32")
        for k, (i, j) in enumerate(pairs):
            scatter[k, i * num_groups + j] = scatter[k, j * num_groups + i] = 1.0
        for m in range(num_groups):
            scatter[len(pairs) + m, m * num_groups + m] = 1.0
        dense = ops.matmul(values, ops.convert_to_tensor(scatter, dtype=values.dtype))
        return ops.reshape(dense, (-1, num_groups, num_groups))

    @staticmethod
    def pair_index(num_fields: int) -> list[tuple[int, int]]:
        """The group pairs (m, n), m < n, in ``kernel_mf`` order: (0, 1), (0, 2), ..., (M-2, M-1)."""
        return pair_index(num_fields)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "use_bias": self.use_bias, "seed": self.seed}
