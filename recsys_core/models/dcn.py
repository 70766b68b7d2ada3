"""DCN: a cross network (vector weights) and a deep network over the flat features."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from recsys_core import _backend  # noqa: F401
from recsys_core.layers.cross_net import CrossNet
from recsys_core.layers.mlp import MLP
from recsys_core.models.dnn import FlatFeatureModel
from recsys_core.models.registry import (
    DNN,
    DROPOUT,
    EMB_BATCH_L2,
    EMB_L2,
    EMBEDDING,
    HParam,
    ModelEntry,
    register,
)

STRUCTURES = ("parallel", "stacked")


def check_structure(model: str, structure: str, num_cross_layers: int) -> None:
    if structure not in STRUCTURES:
        raise ValueError(f"{model} structure must be one of {STRUCTURES}, got {structure!r}.")
    if int(num_cross_layers) < 1:
        raise ValueError(f"{model} needs num_cross_layers >= 1, got {num_cross_layers}.")


def deep_and_head(
    model: FlatFeatureModel, dnn: list[int], dropout: float
) -> tuple[MLP | None, keras.layers.Dense]:
    """The deep part and the output unit DCN and DCN-V2 share.

    stacked: y = head(MLP(cross(x0))); parallel: y = head(concat(cross(x0), MLP(x0))). With no
    hidden widths the deep part is absent and y = head(cross(x0)).
    """
    deep = MLP(dnn, dropout=dropout, name="dnn") if dnn else None
    head = keras.layers.Dense(1, bias_initializer=model.output_bias_initializer(), name="output")
    return deep, head


def combine(
    structure: str, x0: Any, crossed: Any, deep: MLP | None, head: Any, training: bool
) -> Any:
    if deep is None:
        return head(crossed)
    if structure == "stacked":
        return head(deep(crossed, training=training))
    return head(ops.concatenate([crossed, deep(x0, training=training)], axis=-1))


@keras.saving.register_keras_serializable(package="recsys_core")
class DCN(FlatFeatureModel):
    """Deep & Cross Network (Wang et al., "Deep & Cross Network for Ad Click Predictions",
    ADKDD 2017, arXiv:1708.05123).

    x0 = concat(e_1, ..., e_F, x_cont); the cross network x_{l+1} = x0 * (x_l . w_l) + b_l + x_l
    (``CrossNet(parameterization="vector")``); ``structure="parallel"`` (the paper): the output unit
    reads concat(x_L, MLP(x0)); ``"stacked"``: it reads MLP(x_L).
    """

    def __init__(
        self,
        tables: list[dict[str, Any]],
        continuous: list[str] | tuple[str, ...] = (),
        embedding_dim: int = 8,
        num_cross_layers: int = 3,
        structure: str = "parallel",
        dnn: list[int] | tuple[int, ...] = (256, 128),
        dropout: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(tables, continuous, embedding_dim, **kwargs)
        check_structure("DCN", structure, num_cross_layers)
        self.num_cross_layers = int(num_cross_layers)
        self.structure = structure
        self.dnn = [int(u) for u in dnn]
        self.dropout = float(dropout)
        self.cross = CrossNet(self.num_cross_layers, parameterization="vector", name="cross_net")
        self.deep, self.head = deep_and_head(self, self.dnn, self.dropout)

    def call(self, inputs: dict[str, Any], training: bool = False) -> Any:
        x0 = self.flat_features(inputs)
        return combine(self.structure, x0, self.cross(x0), self.deep, self.head, training)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "num_cross_layers": self.num_cross_layers,
            "structure": self.structure,
            "dnn": self.dnn,
            "dropout": self.dropout,
        }


CROSS_LAYERS = HParam("num_cross_layers", 3, "Number of cross layers.", "int", 1, 16)
STRUCTURE = HParam(
    "structure",
    "parallel",
    "parallel: the output reads the cross and deep outputs side by side; "
    "stacked: the deep network reads the cross network's output.",
    "choice",
    choices=STRUCTURES,
)

register(
    ModelEntry(
        "dcn",
        "DCN",
        "Deep & Cross Network: explicit bounded-degree crosses x0 * (x_l . w) + b + x_l beside a deep network.",
        DCN,
        (EMBEDDING, EMB_L2, EMB_BATCH_L2, CROSS_LAYERS, STRUCTURE, DNN, DROPOUT),
    )
)
