"""Turn a trained run into field x field interaction matrices."""

from recsys_core.analysis.archipelago import archipelago
from recsys_core.analysis.matrix import InteractionMatrix
from recsys_core.analysis.native import (
    FieldScores,
    NativeView,
    dot_interaction_matrix,
    field_vectors,
    native_view,
    native_views,
)
from recsys_core.analysis.tii import total_interaction_index
from recsys_core.analysis.validation import planted_check, recovery_auc
from recsys_core.analysis.views import METHODS, available_methods, interaction_matrix

__all__ = [
    "METHODS",
    "FieldScores",
    "InteractionMatrix",
    "NativeView",
    "archipelago",
    "available_methods",
    "dot_interaction_matrix",
    "field_vectors",
    "interaction_matrix",
    "native_view",
    "native_views",
    "planted_check",
    "recovery_auc",
    "total_interaction_index",
]
