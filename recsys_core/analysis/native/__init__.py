"""Native interaction views: what each model family's own interaction layer computes.

Importing this package registers every family's views (``native_views(model)`` lists them).
"""

from recsys_core.analysis.native import (
    afm,  # noqa: F401  (registers its views)
    attention,  # noqa: F401  (registers its views)
    cross,  # noqa: F401  (registers its views)
    dot,  # noqa: F401  (registers its views)
    fibinet,  # noqa: F401  (registers its views)
    flen,  # noqa: F401  (registers its views)
    pairwise,  # noqa: F401  (registers its views)
    xdeepfm,  # noqa: F401  (registers its views)
)
from recsys_core.analysis.native.base import (
    FieldScores,
    NativeView,
    ViewResult,
    field_vectors,
    native_view,
    native_views,
    register_view,
)
from recsys_core.analysis.native.dot import dot_interaction_matrix

__all__ = [
    "FieldScores",
    "NativeView",
    "ViewResult",
    "dot_interaction_matrix",
    "field_vectors",
    "native_view",
    "native_views",
    "register_view",
]
