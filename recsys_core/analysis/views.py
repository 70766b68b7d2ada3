"""One entry point from a saved run to its interaction matrix, by method name."""

from __future__ import annotations

from recsys_core.analysis.archipelago import archipelago
from recsys_core.analysis.matrix import InteractionMatrix
from recsys_core.analysis.native import dot_interaction_matrix
from recsys_core.analysis.tii import total_interaction_index
from recsys_core.errors import RecsysCoreError
from recsys_core.runs.store import SavedRun

METHODS = ("native", "tii", "archipelago")
METHOD_TITLES = {
    "native": "Native: what the model's interaction layer computes",
    "tii": "Total Interaction Index (model-agnostic, data-averaged)",
    "archipelago": "Archipelago (model-agnostic, one row)",
}


def has_native_view(run: SavedRun) -> bool:
    """Whether the run's model has a native interaction view (today: DLRM's dot interaction)."""
    return run.meta.get("model") == "dlrm"


def available_methods(run: SavedRun) -> list[str]:
    return [m for m in METHODS if m != "native" or has_native_view(run)]


def interaction_matrix(
    run: SavedRun, method: str = "native", row: int | None = None
) -> InteractionMatrix:
    """The field x field matrix of ``run`` by ``method`` over the run's held-out rows.

    ``native``: the model's own interaction terms (DLRM: mean |<e_i, e_j>|). ``tii``: sqrt of the
    Total Interaction Index with a bootstrap interval, for any model. ``archipelago``: pair strengths
    of held-out row ``row`` (default 0) against the medoid held-out row, for any model.
    """
    if method not in METHODS:
        raise RecsysCoreError(
            f"unknown interaction method {method!r}; available: {', '.join(METHODS)}."
        )
    rows = run.holdout()
    if method == "native":
        if not has_native_view(run):
            raise RecsysCoreError(
                f"model {run.meta.get('model')!r} has no native interaction view yet; "
                "use the model-agnostic methods 'tii' or 'archipelago'."
            )
        matrix = dot_interaction_matrix(run.model, run.preprocessor, rows)
    elif method == "tii":
        matrix = total_interaction_index(run.model, run.preprocessor, rows)
    else:
        index = 0 if row is None else int(row)
        if not 0 <= index < len(rows):
            raise RecsysCoreError(
                f"row {index} is out of range: the run keeps {len(rows)} held-out rows."
            )
        matrix = archipelago(run.model, run.preprocessor, rows.iloc[[index]], rows=rows)
        matrix.extra["row_index"] = index
    matrix.extra["run_id"] = run.run_id
    return matrix
