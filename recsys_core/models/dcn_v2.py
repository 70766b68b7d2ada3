"""DCN-V2: full-rank, low-rank or mixture-of-experts cross layers with a deep network."""

from __future__ import annotations

import dataclasses
from typing import Any

import keras

from recsys_core import _backend  # noqa: F401
from recsys_core.layers.cross_net_mix import CrossNetMix
from recsys_core.layers.feature_cross import FeatureCross
from recsys_core.models.dcn import STRUCTURE, check_structure, combine, deep_and_head
from recsys_core.models.dnn import DNNModel, FlatFeatureModel
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

KINDS = ("featurecross", "mix")


@keras.saving.register_keras_serializable(package="recsys_core")
class DCNV2(FlatFeatureModel):
    """DCN-V2 (Wang et al., "DCN V2: Improved Deep & Cross Network and Practical Lessons for
    Web-scale Learning to Rank Systems", WWW 2021, arXiv:2008.13535).

    x0 = concat(e_1, ..., e_F, x_cont); ``kind="featurecross"``: x_{l+1} = x0 * (x_l W_l + b_l) + x_l
    with a stack of ``FeatureCross`` layers, W_l full rank (``projection_dim=0``) or U_l V_l of rank
    ``projection_dim``; ``kind="mix"``: ``CrossNetMix`` (DCN-Mix), ``num_experts`` gated low-rank
    experts of rank ``low_rank``. ``structure="stacked"``: the output unit reads MLP(x_L);
    ``"parallel"``: it reads concat(x_L, MLP(x0)); with ``dnn=[]`` it reads x_L.
    """

    def __init__(
        self,
        tables: list[dict[str, Any]],
        continuous: list[str] | tuple[str, ...] = (),
        embedding_dim: int = 8,
        num_cross_layers: int = 2,
        projection_dim: int = 0,
        kind: str = "featurecross",
        num_experts: int = 4,
        low_rank: int = 32,
        structure: str = "stacked",
        dnn: list[int] | tuple[int, ...] = (256, 128),
        dropout: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(tables, continuous, embedding_dim, **kwargs)
        check_structure("DCN-V2", structure, num_cross_layers)
        if kind not in KINDS:
            raise ValueError(f"DCN-V2 kind must be one of {KINDS}, got {kind!r}.")
        if int(projection_dim) < 0:
            raise ValueError(
                f"DCN-V2 projection_dim must be >= 0 (0 = full rank), got {projection_dim}."
            )
        self.num_cross_layers = int(num_cross_layers)
        self.projection_dim = int(projection_dim)
        self.kind = kind
        self.num_experts = int(num_experts)
        self.low_rank = int(low_rank)
        self.structure = structure
        self.dnn = [int(u) for u in dnn]
        self.dropout = float(dropout)
        if kind == "featurecross":
            self.cross_layers = [
                FeatureCross(projection_dim=self.projection_dim or None, name=f"cross_{i}")
                for i in range(self.num_cross_layers)
            ]
            self.cross_mix = None
        else:
            self.cross_layers = []
            self.cross_mix = CrossNetMix(
                low_rank=self.low_rank,
                num_experts=self.num_experts,
                layer_num=self.num_cross_layers,
                name="cross_net_mix",
            )
        self.deep, self.head = deep_and_head(self, self.dnn, self.dropout)

    def cross(self, x0: Any) -> Any:
        if self.cross_mix is not None:
            return self.cross_mix(x0)
        x = x0
        for layer in self.cross_layers:
            x = layer(x0, x)
        return x

    def call(self, inputs: dict[str, Any], training: bool = False) -> Any:
        x0 = self.flat_features(inputs)
        return combine(self.structure, x0, self.cross(x0), self.deep, self.head, training)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "num_cross_layers": self.num_cross_layers,
            "projection_dim": self.projection_dim,
            "kind": self.kind,
            "num_experts": self.num_experts,
            "low_rank": self.low_rank,
            "structure": self.structure,
            "dnn": self.dnn,
            "dropout": self.dropout,
        }


CROSS_LAYERS = HParam("num_cross_layers", 2, "Number of cross layers.", "int", 1, 16)
PROJECTION = HParam(
    "projection_dim",
    0,
    "Rank of each cross layer's kernel W = U V (featurecross); 0 = full rank.",
    "int",
    0,
    4096,
)
KIND = HParam(
    "kind",
    "featurecross",
    "featurecross: a stack of FeatureCross layers (full or low rank); "
    "mix: CrossNetMix, a gated mixture of low-rank experts (DCN-Mix).",
    "choice",
    choices=KINDS,
)
EXPERTS = HParam("num_experts", 4, "Experts per cross layer (kind=mix).", "int", 1, 64)
LOW_RANK = HParam("low_rank", 32, "Rank of each expert (kind=mix).", "int", 1, 4096)
STACKED = dataclasses.replace(STRUCTURE, default="stacked")

register(
    ModelEntry(
        "dcn_v2",
        "DCN-V2",
        "DCN-V2: matrix cross layers x0 * (x_l W + b) + x_l (full rank, low rank or a mixture of "
        "low-rank experts) with a deep network, stacked or parallel.",
        DCNV2,
        (
            EMBEDDING,
            EMB_L2,
            EMB_BATCH_L2,
            CROSS_LAYERS,
            PROJECTION,
            KIND,
            EXPERTS,
            LOW_RANK,
            STACKED,
            DNN,
            DROPOUT,
        ),
    )
)


# The keras-io example "Ranking with Deep and Cross Networks" (keras-rs, MovieLens 100K): six
# categorical features (feature preset "keras_io_dcn"), embeddings of 8, no L2; one FeatureCross
# layer (full rank, or projection_dim 8) then Dense 192-192 and Dense(1); the deep network is
# Dense 192-192-192 and Dense(1). With vocabularies fitted on all 100,000 rows (+1 OOV row each, as
# the example does) they have 76,657 / 75,121 / 111,361 parameters. The example trains AdamW
# (lr 1e-2, weight decay 0.004) for 8 epochs with batch 8192, constant rate, no validation split.
def _preset(entry: HParam, default: Any) -> HParam:
    return dataclasses.replace(entry, default=default)


KERAS_IO_EMBEDDING = _preset(EMBEDDING, 8)
KERAS_IO_L2 = _preset(EMB_L2, 0.0)


def _keras_io_cross(name: str, title: str, projection_dim: int) -> ModelEntry:
    return ModelEntry(
        name,
        title,
        "The keras-io DCN example's cross network: one FeatureCross layer"
        + (f" of rank {projection_dim}" if projection_dim else "")
        + " stacked under Dense 192-192 (use feature preset keras_io_dcn).",
        DCNV2,
        (
            KERAS_IO_EMBEDDING,
            KERAS_IO_L2,
            EMB_BATCH_L2,
            _preset(CROSS_LAYERS, 1),
            _preset(PROJECTION, projection_dim),
            KIND,
            EXPERTS,
            LOW_RANK,
            STACKED,
            _preset(DNN, [192, 192]),
            DROPOUT,
        ),
    )


register(_keras_io_cross("dcn_keras_io_cross", "DCN (keras-io, cross)", 0))
register(_keras_io_cross("dcn_keras_io_lowrank", "DCN (keras-io, low-rank cross)", 8))
register(
    ModelEntry(
        "dcn_keras_io_deep",
        "DNN (keras-io DCN example)",
        "The keras-io DCN example's deep network: Dense 192-192-192 over the six embeddings "
        "(use feature preset keras_io_dcn).",
        DNNModel,
        (KERAS_IO_EMBEDDING, KERAS_IO_L2, EMB_BATCH_L2, _preset(DNN, [192, 192, 192]), DROPOUT),
    )
)
