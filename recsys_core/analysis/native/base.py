"""What a native view is, the per-field result some views give, and the registry by model class.

A native view reads a model's own interaction machinery (pair terms, cross weights, attention) and
turns it into a field x field ``InteractionMatrix`` or, where a heatmap would mislead (a rank-one
DCN v1 cross, SENET's field weights), a per-field ``FieldScores``. Each view says what it explains,
on which data, and whether it is weights-only, an exact decomposition of the score, data-averaged
or an approximation (``analysis.matrix.KINDS``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from recsys_core.analysis.matrix import (
    KINDS,
    InteractionMatrix,
    described,
    spreadsheet_text,
    trailer_csv,
    undescribed,
)
from recsys_core.errors import RecsysCoreError
from recsys_core.models.pure import apply_in_chunks, model_params, pure_method


@dataclass
class FieldScores:
    """``values[i]`` scores ``fields[i]`` alone (a bar per field), with the facts to read it."""

    values: np.ndarray
    fields: list[str]
    method: str
    title: str
    description: str
    kind: str
    n_rows: int = 0
    signed: bool = False
    groups: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.values = np.asarray(self.values, dtype=float).reshape(-1)
        if len(self.values) != len(self.fields):
            raise ValueError(f"{len(self.values)} scores for {len(self.fields)} fields.")

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"field": self.fields, "value": self.values})

    def to_csv(self) -> str:
        frame = self.to_frame()
        frame["field"] = frame["field"].map(spreadsheet_text)  # formula-like names stay text
        return frame.to_csv(index=False) + trailer_csv(self)  # what the values are

    def to_dict(self) -> dict[str, Any]:
        return described(self, "scores")

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FieldScores:
        """The scores back from :meth:`to_dict` (or its JSON)."""
        return cls(**undescribed(data, "scores"))


ViewResult = InteractionMatrix | FieldScores


def view_result_from_dict(data: dict[str, Any]) -> ViewResult:
    """A matrix or per-field scores back from its ``to_dict`` form."""
    return InteractionMatrix.from_dict(data) if "matrix" in data else FieldScores.from_dict(data)


@dataclass(frozen=True)
class NativeView:
    """One native view of a model family.

    ``compute(model, preprocessor, rows, layer=None, head=None, row=None)`` returns the view over
    the held-out ``rows`` (a DataFrame of raw rows; weights-only views ignore it). ``layer`` and
    ``head`` pick one cross layer / attention layer / head where ``options(model)`` says the view
    has them (``{"layer": 3, "head": 2}``: counts, 0-based choices; an absent key means the view
    has no such choice). ``per_row`` views accept ``row`` (an index into ``rows``) and then explain
    that single row instead of the average. ``applies(model)`` narrows a view to some
    configurations of its class (for example DCN-V2 with mixture-of-experts cross layers).
    ``needs_seed`` views compare with the initial weights and take the run's training ``seed``.
    """

    name: str
    title: str
    kind: str
    compute: Callable[..., ViewResult]
    shape: str = "matrix"  # "matrix" or "bars"
    per_row: bool = False
    options: Callable[[Any], dict[str, int]] = lambda model: {}
    applies: Callable[[Any], bool] = lambda model: True
    needs_seed: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"view kind must be one of {KINDS}, got {self.kind!r}.")
        if self.shape not in ("matrix", "bars"):
            raise ValueError(f"view shape must be 'matrix' or 'bars', got {self.shape!r}.")


_REGISTRY: dict[type, list[NativeView]] = {}


def register_view(model_class: type, view: NativeView) -> NativeView:
    """Add ``view`` to ``model_class`` (and its subclasses); views keep their registration order."""
    views = _REGISTRY.setdefault(model_class, [])
    if any(v.name == view.name for v in views):
        raise ValueError(f"{model_class.__name__} already has a native view {view.name!r}.")
    views.append(view)
    return view


def native_views(model: Any) -> list[NativeView]:
    """The native views of ``model``, most specific class first, the primary view first."""
    found: list[NativeView] = []
    for cls in type(model).__mro__:
        for view in _REGISTRY.get(cls, []):
            if view.applies(model) and all(v.name != view.name for v in found):
                found.append(view)
    return found


def view_names_of_class(model_class: type) -> list[str]:
    """Names of the views registered for ``model_class`` and its bases, without building a model
    (some may not apply to every configuration of the class)."""
    return list(
        dict.fromkeys(v.name for cls in model_class.__mro__ for v in _REGISTRY.get(cls, []))
    )


def native_view(model: Any, name: str | None = None) -> NativeView:
    """The view called ``name`` (default: the primary one), with an error listing the choices."""
    views = native_views(model)
    if not views:
        raise RecsysCoreError(
            f"model {getattr(model, 'name', type(model).__name__)!r} has no native interaction "
            "view; use the model-agnostic methods 'tii' or 'archipelago'."
        )
    if name is None:
        return views[0]
    for view in views:
        if view.name == name:
            return view
    raise RecsysCoreError(
        f"unknown native view {name!r} for this model; available: "
        f"{', '.join(v.name for v in views)}."
    )


def check_choice(what: str, value: int | None, count: int) -> int:
    """``value`` (default 0) as a valid 0-based index below ``count``, or a clear error."""
    index = 0 if value is None else int(value)
    if not 0 <= index < count:
        raise RecsysCoreError(f"{what} {index} is out of range: the model has {count}.")
    return index


def check_rows(rows: pd.DataFrame | None) -> pd.DataFrame:
    if rows is None or len(rows) == 0:
        raise RecsysCoreError("no held-out rows to average over.")
    return rows


def check_row(row: int | None, rows: pd.DataFrame) -> int | None:
    """``row`` as a valid index into ``rows`` (None stays None: average over all), or a clear error."""
    if row is None:
        return None
    index = int(row)
    if not 0 <= index < len(rows):
        raise RecsysCoreError(
            f"row {index} is out of range: there are {len(rows):,} held-out rows."
        )
    return index


def field_groups(model: Any, preprocessor: Any) -> dict[str, str]:
    """``{field: group}`` for the model's interaction fields (user | movie | context)."""
    spec = preprocessor.spec
    return {f: spec.group_of(f) for f in model.field_names}


def _field_matrix(model: Any, x: dict[str, Any]) -> Any:
    return model.field_matrix(x)


def field_vectors(model: Any, x: dict[str, np.ndarray], batch: int = 4096) -> np.ndarray:
    """``(rows, F, D)`` field vectors of the model on real inputs, computed in jitted chunks."""
    return apply_in_chunks(pure_method(model, _field_matrix), model_params(model), x, batch)
