"""Field-Embedded Factorization Machine's pair interactions, DeepCTR's ``FEFMLayer``."""

from __future__ import annotations

from typing import Any

from recsys_core import _backend  # noqa: F401

# isort: split
import keras
from keras import ops

from recsys_core.layers.field_inputs import pair_index, pairs_to_matrix


@keras.saving.register_keras_serializable(package="recsys_core")
class FEFMLayer(keras.layers.Layer):
    """FEFM pair interactions: out_k = v_i^T (W_ij + W_ij^T) v_j for the k-th field pair (i, j), i < j.

    W_ij is a learned ``(E, E)`` field-pair matrix (symmetrised as in the paper). Input: one
    ``(batch, num_fields, embedding_size)`` tensor; output ``(batch, F(F-1)/2)``, pairs in row-major
    order (see ``pair_index``). Weights ``field_embeddings{i}-{j}`` are created pair by pair in that
    order, with a stddev-1 truncated normal initializer and L2 penalty ``regularizer``, as in
    ``deepctr.layers.FEFMLayer`` (0.9.4). Fixed DeepCTR defect: its ``compute_output_shape`` returns
    the pair count as a float (``F * (F - 1) / 2``); here it is an int. Wrong shapes raise
    ``ValueError``.

    Reference: H. Pande, "Field-Embedded Factorization Machines for Click-through Rate Prediction",
    2020 (arXiv:2009.09931).
    """

    def __init__(self, regularizer: float, **kwargs: Any) -> None:
        if regularizer is None or regularizer < 0:
            raise ValueError(f"regularizer must be a float >= 0, got {regularizer!r}.")
        super().__init__(**kwargs)
        self.regularizer = regularizer

    @staticmethod
    def _check_shape(shape: Any) -> tuple[Any, ...]:
        if isinstance(shape, list | tuple) and shape and isinstance(shape[0], list | tuple):
            raise ValueError(
                "FEFMLayer expects inputs as one tensor of shape (batch_size, num_fields, "
                f"embedding_size), got a list of {len(shape)} tensors; concatenate them along "
                "axis 1 first."
            )
        shape = tuple(shape)
        if len(shape) != 3:
            raise ValueError(
                "FEFMLayer expects inputs of rank 3 (batch_size, num_fields, embedding_size), "
                f"got shape {shape} (rank {len(shape)})."
            )
        if shape[1] is None or shape[2] is None or shape[1] < 2:
            raise ValueError(
                "FEFMLayer needs a known num_fields >= 2 and embedding_size (axes 1 and 2), "
                f"got shape {shape}."
            )
        return shape

    def build(self, input_shape: Any) -> None:
        shape = self._check_shape(input_shape)
        self.num_fields = int(shape[1])
        embedding_size = int(shape[2])
        regularizer = keras.regularizers.L2(self.regularizer) if self.regularizer else None
        self.field_embeddings = [
            self.add_weight(
                name=f"field_embeddings{i}-{j}",
                shape=(embedding_size, embedding_size),
                initializer=keras.initializers.TruncatedNormal(mean=0.0, stddev=1.0),
                regularizer=regularizer,
                trainable=True,
            )
            for i, j in self.pair_index(self.num_fields)
        ]
        self.built = True

    def call(self, inputs: Any) -> Any:
        x = ops.convert_to_tensor(inputs)
        shape = self._check_shape(x.shape)
        if not self.built:
            self.build(shape)
        if shape[1] != self.num_fields:
            raise ValueError(
                f"FEFMLayer was built for {self.num_fields} fields, got inputs of shape {shape}."
            )
        rows, cols = zip(*self.pair_index(self.num_fields), strict=True)
        w = ops.stack(self.field_embeddings, axis=0)
        w_sym = w + ops.transpose(w, (0, 2, 1))
        p = ops.take(x, list(rows), axis=1)
        q = ops.take(x, list(cols), axis=1)
        return ops.einsum("bke,keg,bkg->bk", p, w_sym, q)

    def compute_output_shape(self, input_shape: Any) -> tuple[Any, ...]:
        shape = self._check_shape(input_shape)
        return (shape[0], int(shape[1]) * (int(shape[1]) - 1) // 2)

    def pair_terms(self, inputs: Any) -> Any:
        """``(batch, F, F)`` matrix T with T[i, j] = T[j, i] = v_i^T (W_ij + W_ij^T) v_j, T[i, i] = 0.

        T's strict upper triangle read row by row is the layer's output.
        """
        values = self.call(inputs)
        num_fields = self.num_fields
        return pairs_to_matrix(values, num_fields)

    @staticmethod
    def pair_index(num_fields: int) -> list[tuple[int, int]]:
        """The pairs (i, j), i < j, in output order: (0, 1), (0, 2), ..., (F-2, F-1)."""
        return pair_index(num_fields)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "regularizer": self.regularizer}
