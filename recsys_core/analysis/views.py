"""One entry point from a saved run to its interaction views, by method (and native view) name."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from recsys_core.analysis.archipelago import archipelago
from recsys_core.analysis.native import NativeView, ViewResult, native_view, native_views
from recsys_core.analysis.tii import total_interaction_index
from recsys_core.errors import RecsysCoreError
from recsys_core.runs.store import SavedRun
from recsys_core.training.health import mark, verdict_of_run

METHODS = ("native", "tii", "archipelago")
METHOD_TITLES = {
    "native": "Native: what the model's interaction layer computes",
    "tii": "Total Interaction Index (model-agnostic, data-averaged)",
    "archipelago": "Archipelago (model-agnostic, one row)",
}


@dataclass(frozen=True)
class ViewChoice:
    """A native view as a page offers it, without the model: ``options`` counts its layers and
    heads (see :class:`~recsys_core.analysis.native.NativeView`)."""

    name: str
    title: str
    kind: str
    shape: str = "matrix"
    per_row: bool = False
    options: dict[str, int] = field(default_factory=dict)


@dataclass
class AnalysisMenu:
    """What can be computed for a run: its methods (native first) and native views (primary
    first). Small and JSON-able, so it is saved with the run's analyses and a page can lay out its
    choices before (or without) loading the model."""

    methods: dict[str, str]
    views: list[ViewChoice]

    def view(self, name: str) -> ViewChoice:
        for choice in self.views:
            if choice.name == name:
                return choice
        raise RecsysCoreError(
            f"unknown native view {name!r}; available: {', '.join(self.view_names()) or 'none'}."
        )

    def view_names(self, shape: str | None = None) -> list[str]:
        return [v.name for v in self.views if shape is None or v.shape == shape]

    def to_dict(self) -> dict[str, Any]:
        return {"methods": dict(self.methods), "views": [asdict(v) for v in self.views]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AnalysisMenu:
        return cls(dict(data["methods"]), [ViewChoice(**v) for v in data["views"]])


def analysis_menu(run: SavedRun) -> AnalysisMenu:
    """The run's methods and native views with their layer / head counts (loads the model)."""
    views = native_views(run.model)
    choices = [
        ViewChoice(v.name, v.title, v.kind, v.shape, v.per_row, dict(v.options(run.model)))
        for v in views
    ]
    return AnalysisMenu({m: METHOD_TITLES[m] for m in available_methods(run)}, choices)


def has_native_view(run: SavedRun) -> bool:
    """Whether the run's model has at least one native interaction view."""
    return bool(native_views(run.model))


def available_methods(run: SavedRun) -> list[str]:
    return [m for m in METHODS if m != "native" or has_native_view(run)]


def run_native_views(run: SavedRun) -> list[NativeView]:
    """The native views of the run's model, primary first (empty when it has none)."""
    return native_views(run.model)


def _check_row(row: int | None, n: int) -> int:
    index = 0 if row is None else int(row)
    if not 0 <= index < n:
        raise RecsysCoreError(f"row {index} is out of range: the run keeps {n} held-out rows.")
    return index


def interaction_matrix(
    run: SavedRun,
    method: str = "native",
    row: int | None = None,
    view: str | None = None,
    layer: int | None = None,
    head: int | None = None,
) -> ViewResult:
    """The field x field matrix (or per-field scores) of ``run`` by ``method`` over its held-out rows.

    ``native``: the model's own interaction machinery, by ``view`` name (default: the model's
    primary view; ``layer``/``head`` pick a cross or attention layer and head, ``row`` a single
    held-out row for per-row views). ``tii``: sqrt of the Total Interaction Index with a bootstrap
    interval, for any model. ``archipelago``: pair strengths of held-out row ``row`` (default 0)
    against the medoid held-out row, for any model.
    """
    if method not in METHODS:
        raise RecsysCoreError(
            f"unknown interaction method {method!r}; available: {', '.join(METHODS)}."
        )
    rows = run.holdout()
    if method == "native":
        chosen = native_view(run.model, view)
        if row is not None:
            if not chosen.per_row:
                raise RecsysCoreError(
                    f"native view {chosen.name!r} is data-averaged and takes no row; "
                    f"views explaining one row: "
                    f"{', '.join(v.name for v in native_views(run.model) if v.per_row) or 'none'}."
                )
            row = _check_row(row, len(rows))
        # Views comparing with the initial weights rebuild them under the run's training seed.
        seed = {"seed": run.config.train.seed} if chosen.needs_seed else {}
        result = chosen.compute(
            run.model, run.preprocessor, rows, layer=layer, head=head, row=row, **seed
        )
        result.extra.setdefault("view", chosen.name)
        if row is not None:
            result.extra["row_index"] = row
    elif method == "tii":
        result = total_interaction_index(run.model, run.preprocessor, rows)
    else:
        index = _check_row(row, len(rows))
        result = archipelago(run.model, run.preprocessor, rows.iloc[[index]], rows=rows)
        result.extra["row_index"] = index
    result.extra["run_id"] = run.run_id
    return mark(result, verdict_of_run(run.meta))  # a run that did not learn: its maps say so
