"""One entry point from a saved run to its interaction views, by method (and native view) name."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from recsys_core.analysis.archipelago import archipelago
from recsys_core.analysis.columns import DEFAULT_GRANULARITY, check_granularity
from recsys_core.analysis.native import NativeView, ViewResult, native_view, native_views
from recsys_core.analysis.noise import (
    ReferenceModels,
    has_floor,
    reference_models,
    settle,
    with_noise_floor,
)
from recsys_core.analysis.tii import total_interaction_index
from recsys_core.errors import RecsysCoreError
from recsys_core.features.spec import CONTINUOUS_FIELD
from recsys_core.runs.imported import is_imported
from recsys_core.runs.store import SavedRun
from recsys_core.training.health import mark, verdict_of_run

log = logging.getLogger(__name__)

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
    """Whether the run's model has at least one native interaction view (an imported model:
    none yet, whatever its layers)."""
    return not is_imported(run.meta) and bool(native_views(run.model))


def available_methods(run: SavedRun) -> list[str]:
    return [m for m in METHODS if m != "native" or has_native_view(run)]


def run_native_views(run: SavedRun) -> list[NativeView]:
    """The native views of the run's model, primary first (empty when it has none)."""
    return native_views(run.model)


def own_fields(model: Any) -> str:
    """The sentence a native view's description ends with: it reads the model's own fields."""
    if CONTINUOUS_FIELD in model.field_names:
        return (
            "Native view: the model's own fields, its continuous columns as the one "
            f"{CONTINUOUS_FIELD!r} block it consumes (TII and Archipelago can split it by column)."
        )
    return "Native view: the model's own fields."


def _check_row(row: int | None, n: int) -> int:
    index = 0 if row is None else int(row)
    if not 0 <= index < n:
        raise RecsysCoreError(f"row {index} is out of range: the run keeps {n} held-out rows.")
    return index


def train_rows_of(run: SavedRun) -> int | None:
    """How many rows the run's final model trained on, from its config: the table's rows (a
    user's table records them; MovieLens 100K has 100,000) less the test part, and less the
    validation part unless the run was refitted. None when the config does not say."""
    config = run.config
    total = (config.data or {}).get("rows")
    if total is None and config.dataset == "movielens-100k":
        total = 100_000
    if not total:
        return None
    rows = float(total) * (1.0 - config.test_fraction)
    if not config.refit:
        rows *= 1.0 - config.validation_fraction
    return int(rows)


def training_rows(run: SavedRun) -> pd.DataFrame | None:
    """The rows the run's final model trained on, read and split again as training did
    (MovieLens from the local cache, or a user's table still at its recorded path), or None when
    they cannot be."""
    from recsys_core.data.movielens import load_movielens_100k
    from recsys_core.data.splits import split_table
    from recsys_core.data.user_table import table_from_run_data

    config = run.config
    try:
        if config.dataset == "table":
            table, _ = table_from_run_data(config.data)
        elif config.dataset == "movielens-100k" and run.meta.get("data_source") not in (
            None,
            config.dataset,  # a table handed to train_run under the default name: not MovieLens
        ):
            table = load_movielens_100k(source="cache")  # never the network from an analysis
        else:
            return None
        train, _ = split_table(table, config.test_fraction, config.split_seed, config.split)
        if not config.refit and config.validation_fraction > 0:  # the early-stopped fit's rows
            train, _ = split_table(
                train, config.validation_fraction, config.split_seed + 1, config.split
            )
    except (RecsysCoreError, OSError, KeyError, ValueError) as exc:
        log.info("run %s: training rows not available for its noise floor (%s)", run.run_id, exc)
        return None
    return train


# The references are cached on the model (analysis.noise); the training rows they would be
# trained on are needed only for their key: read them once per run folder and run.json.
_TRAINING: dict[tuple[str, float], pd.DataFrame | None] = {}


def _cached_training_rows(run: SavedRun) -> pd.DataFrame | None:
    try:
        key = (str(run.path), (run.path / "run.json").stat().st_mtime)
    except OSError:
        return training_rows(run)
    if key not in _TRAINING:
        if len(_TRAINING) >= 4:
            _TRAINING.pop(next(iter(_TRAINING)))
        _TRAINING[key] = training_rows(run)
    return _TRAINING[key]


def run_references(run: SavedRun) -> ReferenceModels:
    """The noise-floor references of a saved run (``analysis.noise``), trained once per process:
    its model at the initial weights of its seed, and the same architecture trained like the run
    on label-permuted rows — its own training rows where they can be read again, else halves of
    its held-out rows."""
    epochs = run.meta.get("refit_epochs") or run.meta.get("best_epoch") or run.config.train.epochs
    return reference_models(
        run.model,
        run.preprocessor,
        run.holdout(),
        run.config.train,
        training=_cached_training_rows(run),
        epochs=int(epochs),
        train_rows=train_rows_of(run),
    )


def interaction_matrix(
    run: SavedRun,
    method: str = "native",
    row: int | None = None,
    view: str | None = None,
    layer: int | None = None,
    head: int | None = None,
    noise: bool = False,
    fields: str = DEFAULT_GRANULARITY,
) -> ViewResult:
    """The field x field matrix (or per-field scores) of ``run`` by ``method`` over its held-out rows.

    ``native``: the model's own interaction machinery, by ``view`` name (default: the model's
    primary view; ``layer``/``head`` pick a cross or attention layer and head, ``row`` a single
    held-out row for per-row views). ``tii``: sqrt of the Total Interaction Index with a bootstrap
    interval, for any model. ``archipelago``: pair strengths of held-out row ``row`` (default 0)
    against the medoid held-out row, for any model. ``noise``: also compute the map's noise floor
    and verdict (``analysis.noise``; every view computed on data, not the weights-only ones), in
    ``extra["noise"]``. ``fields``: the fields of ``tii`` and ``archipelago``, ``"columns"`` (one
    per input column: each continuous column substituted on its own) or ``"blocks"`` (the model's
    own fields); native views always use the model's own fields and say so.
    """
    if method not in METHODS:
        raise RecsysCoreError(
            f"unknown interaction method {method!r}; available: {', '.join(METHODS)}."
        )
    fields = check_granularity(fields)
    rows = run.holdout()
    if is_imported(run.meta):
        return _imported_matrix(run, method, rows, row)
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

        def compute(model: Any, mask: Any = None) -> ViewResult:
            picked = rows if mask is None else rows[mask].reset_index(drop=True)
            return chosen.compute(
                model, run.preprocessor, picked, layer=layer, head=head, row=row, **seed
            )

        result = compute(run.model)
        result.extra.setdefault("view", chosen.name)
        result.extra["fields"] = "blocks"  # the model's own fields, whatever ``fields`` asks
        result.description = f"{result.description.rstrip()} {own_fields(run.model)}"
        if row is not None:
            result.extra["row_index"] = row
    elif method == "tii":

        def compute(model: Any, mask: Any = None) -> ViewResult:
            picked = rows if mask is None else rows[mask].reset_index(drop=True)
            return total_interaction_index(model, run.preprocessor, picked, fields=fields)

        result = compute(run.model)
    else:
        index = row = _check_row(row, len(rows))

        def compute(model: Any, mask: Any = None) -> ViewResult:
            return archipelago(
                model, run.preprocessor, rows.iloc[[index]], rows=rows, fields=fields
            )

        result = compute(run.model)
        result.extra["row_index"] = index
    result.extra["run_id"] = run.run_id
    if noise and has_floor(result):
        result = with_noise_floor(result, run_references(run), compute, row=row)
    return settle(mark(result, verdict_of_run(run.meta)))  # a run that did not learn: say so


def pair_detail_of_run(run: SavedRun, a: str, b: str, fields: str = DEFAULT_GRANULARITY) -> Any:
    """The pair detail (``analysis.pair_detail``) of fields ``a`` x ``b`` over the run's held-out
    rows; one clear line for an imported run, whose inputs it cannot substitute yet."""
    from recsys_core.analysis.pair_detail import pair_detail

    if is_imported(run.meta):
        raise RecsysCoreError(
            f"run {run.run_id!r} was imported: its pair detail is not available yet "
            "(its TII and Archipelago maps are)."
        )
    return pair_detail(run.model, run.preprocessor, run.holdout(), (a, b), fields=fields)


def _imported_matrix(run: SavedRun, method: str, rows: pd.DataFrame, row: int | None) -> ViewResult:
    """TII or Archipelago of a run imported from a ``.keras`` file (``runs.imported``): its fields
    are the model's inputs (or the groups named at import); no noise floor, since the references
    would have to be trained like a model that was not trained here."""
    from recsys_core.analysis.imported import imported_archipelago, imported_tii

    if method == "native":
        raise RecsysCoreError(
            f"run {run.run_id!r} was imported: its native views are not available yet; "
            "use --method tii or archipelago."
        )
    if method == "tii":
        result = imported_tii(run, rows)
    else:
        index = _check_row(row, len(rows))
        result = imported_archipelago(run, rows, index)
        result.extra["row_index"] = index
    result.extra["run_id"] = run.run_id
    result.extra["noise_skipped"] = "imported run: no noise floor (it was not trained here)"
    return result
