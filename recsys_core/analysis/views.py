"""One entry point from a saved run to its interaction matrix, by method name."""

from __future__ import annotations

from recsys_core.analysis.matrix import InteractionMatrix
from recsys_core.analysis.native import dot_interaction_matrix
from recsys_core.errors import RecsysCoreError
from recsys_core.runs.store import SavedRun

METHODS = ("native",)


def interaction_matrix(run: SavedRun, method: str = "native") -> InteractionMatrix:
    """The field x field matrix of ``run`` by ``method`` over the run's held-out rows."""
    if method not in METHODS:
        raise RecsysCoreError(
            f"unknown interaction method {method!r}; available: {', '.join(METHODS)}."
        )
    matrix = dot_interaction_matrix(run.model, run.preprocessor, run.holdout())
    matrix.extra["run_id"] = run.run_id
    return matrix
