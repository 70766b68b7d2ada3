"""FLEN: field-wise bi-interaction across field groups, a DNN, and linear terms."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from recsys_core import _backend  # noqa: F401
from recsys_core.features.preprocessing import Preprocessor
from recsys_core.layers.field_wise_bi_interaction import FieldWiseBiInteraction
from recsys_core.layers.mlp import MLP
from recsys_core.models.base import InteractionModel
from recsys_core.models.registry import (
    DNN,
    DROPOUT,
    EMB_L2,
    EMBEDDING,
    PRODUCT_BATCH_L2,
    HParam,
    ModelEntry,
    register,
)


@keras.saving.register_keras_serializable(package="recsys_core")
class FLEN(InteractionModel):
    """FLEN (Chen et al., 2019, arXiv:1911.04690), as DeepCTR's ``FLEN``.

    ``field_groups[k]`` names the group (e.g. user / movie / context) of field ``field_names[k]``;
    ``build_model`` fills it from the feature spec's groups (``from_preprocessor_kwargs``), and
    ``None`` puts every field in a group of its own. The field vectors of each group, in order of
    first appearance (``group_names``), go to ``FieldWiseBiInteraction`` as ``(B, n_m, D)``
    tensors; an MLP reads ``flat_features``; y = b + linear(x) + w^T [FwBI(groups), MLP(x)].
    """

    def __init__(
        self,
        tables: list[dict[str, Any]],
        continuous: list[str] | tuple[str, ...] = (),
        embedding_dim: int = 8,
        field_groups: list[str] | tuple[str, ...] | None = None,
        dnn: list[int] | tuple[int, ...] = (256, 128),
        dropout: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(tables, continuous, embedding_dim, **kwargs)
        names = self.field_names
        groups = list(names) if field_groups is None else [str(g) for g in field_groups]
        if len(groups) != len(names):
            raise ValueError(
                f"FLEN field_groups must name one group per field of {names}, got {groups}."
            )
        self.group_names = list(dict.fromkeys(groups))
        if len(self.group_names) < 2:
            raise ValueError(f"FLEN needs fields in at least two groups, got only {groups}.")
        if not dnn:
            raise ValueError("FLEN needs a non-empty dnn.")
        self.field_groups = None if field_groups is None else groups
        self.group_members = [
            [k for k, g in enumerate(groups) if g == name] for name in self.group_names
        ]
        self.dnn_units = [int(u) for u in dnn]
        self.dropout = float(dropout)
        self.fwbi = FieldWiseBiInteraction(name="field_wise_bi_interaction")
        self.deep = MLP(self.dnn_units, dropout=self.dropout, name="dnn")
        self.head = keras.layers.Dense(
            1, bias_initializer=self.output_bias_initializer(), name="output"
        )
        self.linear = self.linear_terms(self.embedding_l2)

    @classmethod
    def from_preprocessor_kwargs(cls, preprocessor: Preprocessor) -> dict[str, Any]:
        """The group of every field, from the feature spec (``build_model`` calls this)."""
        spec = preprocessor.spec
        return {"field_groups": [spec.group_of(f) for f in spec.fields]}

    def group_tensors(self, inputs: dict[str, Any], training: bool = False) -> list[Any]:
        """One ``(B, n_m, D)`` stack of field vectors per group, in ``group_names`` order."""
        vectors = self.field_vectors(inputs, training=training)
        return [ops.stack([vectors[k] for k in members], axis=1) for members in self.group_members]

    def call(self, inputs: dict[str, Any], training: bool = False) -> Any:
        interaction = self.fwbi(self.group_tensors(inputs, training=training))
        deep = self.deep(self.flat_features(inputs), training=training)
        return self.head(ops.concatenate([interaction, deep], axis=-1)) + self.linear(inputs)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "field_groups": self.field_groups,
            "dnn": self.dnn_units,
            "dropout": self.dropout,
        }


register(
    ModelEntry(
        "flen",
        "FLEN",
        "Field-wise bi-interaction within and across field groups (user, movie, context), a DNN "
        "and linear terms.",
        FLEN,
        (
            EMBEDDING,
            HParam("embedding_l2", 1e-3, EMB_L2.help, "float", 0.0, 1.0),
            PRODUCT_BATCH_L2,
            DNN,
            HParam("dropout", 0.3, DROPOUT.help, "float", 0.0, 0.9),
        ),
    )
)
