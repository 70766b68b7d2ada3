"""AFM: linear terms plus attention-weighted pairwise products."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import keras
from keras import ops

from recsys_core import _backend  # noqa: F401
from recsys_core.layers.afm_layer import AFMLayer
from recsys_core.models.base import InteractionModel
from recsys_core.models.fm import LINEAR_L2
from recsys_core.models.registry import (
    EMB_BATCH_L2,
    EMB_L2,
    EMBEDDING,
    HParam,
    ModelEntry,
    register,
)


@keras.saving.register_keras_serializable(package="recsys_core")
class AFM(InteractionModel):
    """Attentional FM: y = b + sum_f w_f[x_f] + p^T sum_{i<j} a_ij (v_i * v_j).

    ``LinearTerms`` plus DeepCTR's ``AFMLayer`` over the field vectors (each as ``(batch, 1, D)``);
    ``attention_factor``, ``attention_l2`` and ``afm_dropout`` are the layer's ``attention_factor``,
    ``l2_reg_w`` and ``dropout_rate``. ``b`` starts at ``output_bias``.

    Reference: J. Xiao et al., "Attentional Factorization Machines: Learning the Weight of Feature
    Interactions via Attention Networks", IJCAI 2017 (arXiv:1708.04617).
    """

    forms_pairs = True  # attention over every pair's element-wise product

    def __init__(
        self,
        tables: list[dict[str, Any]],
        continuous: list[str] | tuple[str, ...] = (),
        embedding_dim: int = 8,
        linear_l2: float = 0.0,
        attention_factor: int = 8,
        attention_l2: float = 0.0,
        afm_dropout: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(tables, continuous, embedding_dim, **kwargs)
        self.require_pairs("AFM")
        self.linear_l2 = float(linear_l2)
        self.attention_factor = int(attention_factor)
        self.attention_l2 = float(attention_l2)
        self.afm_dropout = float(afm_dropout)
        self.linear = self.linear_terms(self.linear_l2)
        self.afm = AFMLayer(
            self.attention_factor, self.attention_l2, self.afm_dropout, seed=None, name="afm"
        )
        self.bias = self.output_bias_weight()

    def call(self, inputs: dict[str, Any], training: bool = False) -> Any:
        vectors = [ops.expand_dims(v, 1) for v in self.field_vectors(inputs, training=training)]
        return self.bias + self.linear(inputs) + self.afm(vectors, training=training)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "linear_l2": self.linear_l2,
            "attention_factor": self.attention_factor,
            "attention_l2": self.attention_l2,
            "afm_dropout": self.afm_dropout,
        }


register(
    ModelEntry(
        "afm",
        "AFM",
        "Attentional FM: linear terms plus pairwise products pooled with learned attention weights.",
        AFM,
        (
            replace(EMBEDDING, default=64),
            replace(EMB_L2, default=0.003),
            EMB_BATCH_L2,
            LINEAR_L2,
            HParam(
                "attention_factor",
                8,
                "Hidden width of the attention network scoring each field pair.",
                "int",
                1,
                256,
            ),
            HParam(
                "attention_l2", 0.0, "L2 penalty on the attention weights W.", "float", 0.0, 1.0
            ),
            HParam(
                "afm_dropout",
                0.0,
                "Dropout on the attention-pooled vector.",
                "float",
                0.0,
                0.9,
            ),
        ),
    )
)
