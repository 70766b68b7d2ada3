"""FM: a global bias, first-order weights and the factorization machine's pairwise term."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import keras

from recsys_core import _backend  # noqa: F401
from recsys_core.layers.fm import FM
from recsys_core.models.base import InteractionModel
from recsys_core.models.registry import (
    EMB_L2,
    EMBEDDING,
    PRODUCT_BATCH_L2,
    HParam,
    ModelEntry,
    register,
)

# The first-order weights of every FM-family and wide model (one scalar per sparse value).
LINEAR_L2 = HParam(
    "linear_l2",
    1e-5,
    "L2 penalty on the first-order (linear) weights.",
    "float",
    0.0,
    1.0,
)


@keras.saving.register_keras_serializable(package="recsys_core")
class FactorizationMachine(InteractionModel):
    """Factorization Machine: y = b + sum_f w_f[x_f] + sum_{i<j} <v_i, v_j> over the fields.

    The linear part is ``LinearTerms``, the pairwise part DeepCTR's ``FM`` layer over
    ``field_matrix`` (the continuous block enters as one projected field). ``b`` starts at
    ``output_bias``.

    Reference: S. Rendle, "Factorization Machines", ICDM 2010.
    """

    def __init__(
        self,
        tables: list[dict[str, Any]],
        continuous: list[str] | tuple[str, ...] = (),
        embedding_dim: int = 8,
        linear_l2: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(tables, continuous, embedding_dim, **kwargs)
        self.linear_l2 = float(linear_l2)
        self.linear = self.linear_terms(self.linear_l2)
        self.fm = FM(name="fm")
        self.bias = self.output_bias_weight()

    def call(self, inputs: dict[str, Any], training: bool = False) -> Any:
        pair = self.fm(self.field_matrix(inputs, training=training))
        return self.bias + self.linear(inputs) + pair

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "linear_l2": self.linear_l2}


register(
    ModelEntry(
        "fm",
        "FM",
        "Factorization machine: a bias, one weight per feature value and all pairwise dot products.",
        FactorizationMachine,
        (
            replace(EMBEDDING, default=64),
            replace(EMB_L2, default=0.0),
            PRODUCT_BATCH_L2,
            LINEAR_L2,
        ),
    )
)
