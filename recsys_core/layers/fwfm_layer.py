"""Field-weighted Factorization Machine's pairwise term, DeepCTR's ``FwFMLayer``."""

from __future__ import annotations

from typing import Any

from recsys_core import _backend  # noqa: F401

# isort: split
import keras
from keras import ops


@keras.saving.register_keras_serializable(package="recsys_core")
class FwFMLayer(keras.layers.Layer):
    """FwFM pairwise term: y = sum_{i<j} r_ij <v_i, v_j>, r_ij a learned strength per field pair.

    Input: one ``(batch, num_fields, embedding_size)`` tensor; output ``(batch, 1)``. The weight
    ``field_pair_strengths`` is a full ``(num_fields, num_fields)`` matrix as in
    ``deepctr.layers.FwFMLayer`` (0.9.4), of which only the strict upper triangle (r_ij, i < j)
    enters the output (the rest only feels the L2 penalty ``regularizer``). Its initializer is a
    truncated normal with stddev 1, matching DeepCTR's TF1 ``TruncatedNormal()`` default.
    Deviations: wrong shapes raise ``ValueError`` naming the expected and received shape, and
    ``compute_output_shape`` keeps the batch dimension.

    Reference: J. Pan, J. Xu, A. L. Ruiz, W. Zhao, S. Pan, Y. Sun, Q. Lu, "Field-weighted
    Factorization Machines for Click-Through Rate Prediction in Display Advertising", WWW 2018
    (arXiv:1806.03514).
    """

    def __init__(self, num_fields: int = 4, regularizer: float = 0.000001, **kwargs: Any) -> None:
        if int(num_fields) != num_fields or num_fields < 2:
            raise ValueError(f"num_fields must be an integer >= 2, got {num_fields!r}.")
        if regularizer is None or regularizer < 0:
            raise ValueError(f"regularizer must be a float >= 0, got {regularizer!r}.")
        super().__init__(**kwargs)
        self.num_fields = int(num_fields)
        self.regularizer = regularizer

    def _check_shape(self, shape: Any) -> tuple[Any, ...]:
        if isinstance(shape, list | tuple) and shape and isinstance(shape[0], list | tuple):
            raise ValueError(
                "FwFMLayer expects inputs as one tensor of shape (batch_size, num_fields, "
                f"embedding_size), got a list of {len(shape)} tensors; concatenate them along "
                "axis 1 first."
            )
        shape = tuple(shape)
        if len(shape) != 3:
            raise ValueError(
                "FwFMLayer expects inputs of rank 3 (batch_size, num_fields, embedding_size), "
                f"got shape {shape} (rank {len(shape)})."
            )
        if shape[1] != self.num_fields:
            raise ValueError(
                f"FwFMLayer was configured with num_fields={self.num_fields}, but the inputs have "
                f"{shape[1]} fields (shape {shape})."
            )
        return shape

    def build(self, input_shape: Any) -> None:
        self._check_shape(input_shape)
        self.field_strengths = self.add_weight(
            name="field_pair_strengths",
            shape=(self.num_fields, self.num_fields),
            initializer=keras.initializers.TruncatedNormal(mean=0.0, stddev=1.0),
            regularizer=keras.regularizers.L2(self.regularizer) if self.regularizer else None,
            trainable=True,
        )
        self.built = True

    def _symmetric_strengths(self) -> Any:
        """R with R[i, j] = R[j, i] = r_ij (i < j, the upper-triangle weight) and R[i, i] = 0."""
        upper = ops.triu(self.field_strengths, k=1)
        return upper + ops.transpose(upper)

    def call(self, inputs: Any) -> Any:
        return 0.5 * ops.sum(self.pair_terms(inputs), axis=(1, 2))[:, None]

    def compute_output_shape(self, input_shape: Any) -> tuple[Any, ...]:
        shape = self._check_shape(input_shape)
        return (shape[0], 1)

    def pair_terms(self, inputs: Any) -> Any:
        """``(batch, F, F)`` matrix T with T[i, j] = T[j, i] = r_ij <v_i, v_j> (i < j), T[i, i] = 0.

        The layer's output equals the sum of T's strict upper triangle.
        """
        x = ops.convert_to_tensor(inputs)
        self._check_shape(x.shape)
        if not self.built:
            self.build(tuple(x.shape))
        gram = ops.matmul(x, ops.transpose(x, (0, 2, 1)))
        return gram * ops.cast(self._symmetric_strengths(), gram.dtype)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "num_fields": self.num_fields,
            "regularizer": self.regularizer,
        }
