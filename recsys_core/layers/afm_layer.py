"""Attentional Factorization Machine's pairwise term, DeepCTR's ``AFMLayer``."""

from __future__ import annotations

from typing import Any

from recsys_core import _backend  # noqa: F401

# isort: split
import keras
from keras import ops

from recsys_core.layers.field_inputs import check_field_list, pair_index, pairs_to_matrix
from recsys_core.layers.seeding import weight_seed


@keras.saving.register_keras_serializable(package="recsys_core")
class AFMLayer(keras.layers.Layer):
    """AFM: y = p^T sum_k a_k (v_i * v_j), pair k = (i, j), i < j, a = softmax_k(h^T relu(W^T (v_i * v_j) + b)).

    Input: a list of F >= 2 tensors ``(batch, 1, embedding_size)``; output ``(batch, 1)``. Weights,
    in DeepCTR's order: ``attention_W`` (E, attention_factor, L2 penalty ``l2_reg_w``),
    ``attention_b`` (attention_factor,), ``projection_h`` (attention_factor, 1), ``projection_p``
    (E, 1). Dropout (``dropout_rate``) acts on the attention-pooled vector before the projection p,
    in training only. Same behaviour as ``deepctr.layers.AFMLayer`` (0.9.4). Fixed DeepCTR defect:
    it stores the attention scores of the last call on ``self.normalized_att_score`` (a traced value
    under ``jax.jit``); here ``attention_scores(inputs)`` recomputes them. Wrong shapes and argument
    values raise ``ValueError``; ``compute_output_shape`` keeps the batch dimension.

    Reference: J. Xiao, H. Ye, X. He, H. Zhang, F. Wu, T.-S. Chua, "Attentional Factorization
    Machines: Learning the Weight of Feature Interactions via Attention Networks", IJCAI 2017
    (arXiv:1708.04617).
    """

    def __init__(
        self,
        attention_factor: int = 4,
        l2_reg_w: float = 0,
        dropout_rate: float = 0,
        seed: int | None = 1024,
        **kwargs: Any,
    ) -> None:
        if int(attention_factor) != attention_factor or attention_factor < 1:
            raise ValueError(
                f"attention_factor must be a positive integer, got {attention_factor!r}."
            )
        if l2_reg_w is None or l2_reg_w < 0:
            raise ValueError(f"l2_reg_w must be a float >= 0, got {l2_reg_w!r}.")
        if not 0 <= dropout_rate < 1:
            raise ValueError(f"dropout_rate must be in [0, 1), got {dropout_rate!r}.")
        super().__init__(**kwargs)
        self.attention_factor = int(attention_factor)
        self.l2_reg_w = l2_reg_w
        self.dropout_rate = dropout_rate
        self.seed = seed
        self.dropout = keras.layers.Dropout(dropout_rate, seed=seed)

    @staticmethod
    def _check_shapes(shapes: Any) -> tuple[int, Any]:
        return check_field_list("AFMLayer", shapes)

    def build(self, input_shape: Any) -> None:
        _, embedding_size = self._check_shapes(input_shape)
        if embedding_size is None:
            raise ValueError("AFMLayer needs a known embedding_size (last input axis).")
        embedding_size = int(embedding_size)
        self.attention_W = self.add_weight(
            name="attention_W",
            shape=(embedding_size, self.attention_factor),
            initializer=keras.initializers.GlorotNormal(seed=weight_seed(self.seed, 0)),
            regularizer=keras.regularizers.L2(self.l2_reg_w) if self.l2_reg_w else None,
        )
        self.attention_b = self.add_weight(
            name="attention_b", shape=(self.attention_factor,), initializer="zeros"
        )
        self.projection_h = self.add_weight(
            name="projection_h",
            shape=(self.attention_factor, 1),
            initializer=keras.initializers.GlorotNormal(seed=weight_seed(self.seed, 1)),
        )
        self.projection_p = self.add_weight(
            name="projection_p",
            shape=(embedding_size, 1),
            initializer=keras.initializers.GlorotNormal(seed=weight_seed(self.seed, 2)),
        )
        self.built = True

    def _interactions(self, inputs: Any) -> tuple[Any, Any, int]:
        """(pair products v_i * v_j ``(b, P, E)``, attention scores ``(b, P)``, F)."""
        inputs = [ops.convert_to_tensor(x) for x in inputs]
        shapes = [tuple(x.shape) for x in inputs]
        num_fields, _ = self._check_shapes(shapes)
        if not self.built:
            self.build(shapes)
        x = ops.concatenate(inputs, axis=1)
        rows, cols = zip(*self.pair_index(num_fields), strict=True)
        bi = ops.take(x, list(rows), axis=1) * ops.take(x, list(cols), axis=1)
        hidden = ops.relu(ops.matmul(bi, self.attention_W) + self.attention_b)
        logits = ops.matmul(hidden, self.projection_h)[..., 0]
        return bi, ops.softmax(logits, axis=1), num_fields

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        bi, scores, _ = self._interactions(inputs)
        pooled = ops.sum(scores[..., None] * bi, axis=1)
        pooled = self.dropout(pooled, training=training)
        return ops.matmul(pooled, self.projection_p)

    def compute_output_shape(self, input_shape: Any) -> tuple[Any, ...]:
        self._check_shapes(input_shape)
        return (input_shape[0][0], 1)

    def attention_scores(self, inputs: Any) -> Any:
        """``(batch, P)`` softmax attention a_k over the P = F(F-1)/2 pairs, in ``pair_index`` order."""
        return self._interactions(inputs)[1]

    def pair_terms(self, inputs: Any) -> Any:
        """``(batch, F, F)`` matrix T with T[i, j] = T[j, i] = a_k <v_i * v_j, p> for pair k = (i, j).

        The diagonal is 0. Without dropout (inference), the output equals the sum of T's strict
        upper triangle.
        """
        bi, scores, num_fields = self._interactions(inputs)
        values = scores * ops.matmul(bi, self.projection_p)[..., 0]
        return pairs_to_matrix(values, num_fields)

    @staticmethod
    def pair_index(num_fields: int) -> list[tuple[int, int]]:
        """The pairs (i, j), i < j, in attention order: (0, 1), (0, 2), ..., (F-2, F-1)."""
        return pair_index(num_fields)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "attention_factor": self.attention_factor,
            "l2_reg_w": self.l2_reg_w,
            "dropout_rate": self.dropout_rate,
            "seed": self.seed,
        }
