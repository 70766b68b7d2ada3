"""FwFM: a field-weighted factorization machine (one learned strength per field pair)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import keras

from recsys_core import _backend  # noqa: F401
from recsys_core.layers.fwfm_layer import FwFMLayer
from recsys_core.models.base import InteractionModel
from recsys_core.models.fm import LINEAR_L2
from recsys_core.models.registry import (
    EMB_L2,
    EMBEDDING,
    PRODUCT_BATCH_L2,
    HParam,
    ModelEntry,
    register,
)


@keras.saving.register_keras_serializable(package="recsys_core")
class FwFM(InteractionModel):
    """Field-weighted FM: y = b + sum_f w_f[x_f] + sum_{i<j} r_ij <v_i, v_j>.

    ``LinearTerms`` plus DeepCTR's ``FwFMLayer`` over ``field_matrix``; ``field_strength_l2`` is
    the L2 penalty on the field-pair strengths r_ij. ``b`` starts at ``output_bias``.

    Reference: J. Pan et al., "Field-weighted Factorization Machines for Click-Through Rate
    Prediction in Display Advertising", WWW 2018 (arXiv:1806.03514).
    """

    forms_pairs = True  # a learned weight per field pair

    def __init__(
        self,
        tables: list[dict[str, Any]],
        continuous: list[str] | tuple[str, ...] = (),
        embedding_dim: int = 8,
        linear_l2: float = 0.0,
        field_strength_l2: float = 1e-6,
        **kwargs: Any,
    ) -> None:
        super().__init__(tables, continuous, embedding_dim, **kwargs)
        self.require_pairs("FwFM")
        self.linear_l2 = float(linear_l2)
        self.field_strength_l2 = float(field_strength_l2)
        self.linear = self.linear_terms(self.linear_l2)
        self.fwfm = FwFMLayer(len(self.field_names), self.field_strength_l2, name="fwfm")
        self.bias = self.output_bias_weight()

    def call(self, inputs: dict[str, Any], training: bool = False) -> Any:
        pair = self.fwfm(self.field_matrix(inputs, training=training))
        return self.bias + self.linear(inputs) + pair

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "linear_l2": self.linear_l2,
            "field_strength_l2": self.field_strength_l2,
        }


register(
    ModelEntry(
        "fwfm",
        "FwFM",
        "Field-weighted FM: pairwise dot products scaled by one learned strength per field pair.",
        FwFM,
        (
            replace(EMBEDDING, default=64),
            replace(EMB_L2, default=0.0),
            PRODUCT_BATCH_L2,
            LINEAR_L2,
            HParam(
                "field_strength_l2",
                1e-6,
                "L2 penalty on the field-pair strengths r_ij.",
                "float",
                0.0,
                1.0,
            ),
        ),
    )
)
