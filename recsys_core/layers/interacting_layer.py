"""AutoInt's multi-head self-attention over fields, DeepCTR's ``InteractingLayer``."""

from __future__ import annotations

from typing import Any

from recsys_core import _backend  # noqa: F401

# isort: split
import keras
from keras import ops


@keras.saving.register_keras_serializable(package="recsys_core")
class InteractingLayer(keras.layers.Layer):
    """For each head h: A_h = softmax(Q_h K_h^T [/ sqrt(att_embedding_size)]) over fields,
    out = relu(concat_h(A_h V_h) [+ E W_res]), with Q_h, K_h, V_h = E W_query, E W_key, E W_value
    sliced to head h's ``att_embedding_size`` columns.

    Input ``(batch, field_size, embedding_size)``; output ``(batch, field_size, att_embedding_size *
    head_num)``. ``call(inputs, return_attention_scores=True)`` returns ``(output, scores)`` with
    scores A of shape ``(batch, head_num, field_size, field_size)`` (row i: how field i attends to
    every field), following ``keras.layers.MultiHeadAttention``. Same arguments, defaults and
    weights (``query``, ``key``, ``value``, then ``res`` when ``use_res``, each ``(embedding_size,
    att_embedding_size * head_num)``) as DeepCTR 0.9.4, so
    ``set_weights(deepctr_layer.get_weights())`` reproduces it.

    Fixed DeepCTR defects: its ``get_config`` drops ``scaling`` (a reloaded layer silently stopped
    scaling); and it stores the attention scores on the layer during ``call``, here they are
    returned instead.

    Reference: Song et al., "AutoInt: Automatic Feature Interaction Learning via Self-Attentive
    Neural Networks", CIKM 2019 (arXiv:1810.11921).
    """

    def __init__(
        self,
        att_embedding_size: int = 8,
        head_num: int = 2,
        use_res: bool = True,
        scaling: bool = False,
        seed: int = 1024,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if int(head_num) <= 0:
            raise ValueError(f"InteractingLayer head_num must be an int > 0, got {head_num}.")
        if int(att_embedding_size) <= 0:
            raise ValueError(
                f"InteractingLayer att_embedding_size must be an int > 0, got {att_embedding_size}."
            )
        self.att_embedding_size = int(att_embedding_size)
        self.head_num = int(head_num)
        self.use_res = bool(use_res)
        self.scaling = bool(scaling)
        self.seed = int(seed)

    def build(self, input_shape: Any) -> None:
        shape = tuple(input_shape)
        if len(shape) != 3:
            raise ValueError(
                "InteractingLayer expects inputs of rank 3 (batch, field_size, embedding_size), "
                f"got shape {shape}."
            )
        if shape[-1] is None:
            raise ValueError("InteractingLayer needs a known embedding_size to create its weights.")
        emb = int(shape[-1])
        self._emb = emb
        width = self.att_embedding_size * self.head_num

        def make(name: str, seed: int) -> Any:
            return self.add_weight(
                name=name,
                shape=(emb, width),
                initializer=keras.initializers.TruncatedNormal(seed=seed),
            )

        self.W_Query = make("query", self.seed)
        self.W_key = make("key", self.seed + 1)
        self.W_Value = make("value", self.seed + 2)
        self.W_Res = make("res", self.seed) if self.use_res else None
        self.built = True

    def _check(self, inputs: Any) -> None:
        if len(inputs.shape) != 3 or inputs.shape[-1] != self._emb:
            raise ValueError(
                f"InteractingLayer expects inputs of shape (batch, field_size, {self._emb}), "
                f"got {tuple(inputs.shape)}."
            )

    def _heads(self, x: Any) -> Any:
        """(batch, F, head_num * A) -> (batch, head_num, F, A)."""
        b_f = ops.shape(x)[:2]
        x = ops.reshape(x, (b_f[0], b_f[1], self.head_num, self.att_embedding_size))
        return ops.transpose(x, (0, 2, 1, 3))

    def attention_scores(self, inputs: Any) -> Any:
        """Softmax attention weights ``(batch, head_num, field_size, field_size)``."""
        self._check(inputs)
        queries = self._heads(ops.matmul(inputs, self.W_Query))
        keys = self._heads(ops.matmul(inputs, self.W_key))
        logits = ops.matmul(queries, ops.transpose(keys, (0, 1, 3, 2)))
        if self.scaling:
            logits = logits / (self.att_embedding_size**0.5)
        return ops.softmax(logits, axis=-1)

    def call(self, inputs: Any, return_attention_scores: bool = False) -> Any:
        scores = self.attention_scores(inputs)
        values = self._heads(ops.matmul(inputs, self.W_Value))
        result = ops.matmul(scores, values)  # (batch, head, F, A)
        result = ops.transpose(result, (0, 2, 1, 3))
        shape = ops.shape(result)
        result = ops.reshape(result, (shape[0], shape[1], self.head_num * self.att_embedding_size))
        if self.use_res:
            result = result + ops.matmul(inputs, self.W_Res)
        result = ops.relu(result)
        if return_attention_scores:
            return result, scores
        return result

    def compute_output_shape(self, input_shape: Any) -> tuple:
        shape = tuple(input_shape)
        if len(shape) != 3:
            raise ValueError(
                "InteractingLayer expects inputs of rank 3 (batch, field_size, embedding_size), "
                f"got shape {shape}."
            )
        return (shape[0], shape[1], self.att_embedding_size * self.head_num)

    def compute_output_spec(self, inputs: Any, return_attention_scores: bool = False) -> Any:
        shape = self.compute_output_shape(inputs.shape)
        out = keras.KerasTensor(shape, dtype=self.compute_dtype)
        if return_attention_scores:
            scores = keras.KerasTensor(
                (shape[0], self.head_num, shape[1], shape[1]), dtype=self.compute_dtype
            )
            return out, scores
        return out

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "att_embedding_size": self.att_embedding_size,
            "head_num": self.head_num,
            "use_res": self.use_res,
            "scaling": self.scaling,
            "seed": self.seed,
        }
