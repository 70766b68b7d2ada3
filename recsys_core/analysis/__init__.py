"""Turn a trained run into field x field interaction matrices."""

from recsys_core.analysis.matrix import InteractionMatrix
from recsys_core.analysis.native import dot_interaction_matrix, field_vectors
from recsys_core.analysis.views import METHODS, interaction_matrix

__all__ = [
    "METHODS",
    "InteractionMatrix",
    "dot_interaction_matrix",
    "field_vectors",
    "interaction_matrix",
]
