"""A field x field matrix with the facts needed to read it: method, meaning, data, kind."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from recsys_core.analysis.columns import GRANULARITY_TITLES

KINDS = ("weights-only", "exact decomposition", "approximation", "data-averaged")
ORDERS = ("given", "group", "strength")
GROUP_RANK = {"user": 0, "movie": 1, "item": 1, "context": 2}
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_text(name: str) -> str:
    """A field name as it goes into a CSV file: one that a spreadsheet would run as a formula
    (``=HYPERLINK(...)``, ``+cmd``, ``@SUM``) gets a leading apostrophe, so it is shown as text."""
    name = str(name)
    return "'" + name if name.startswith(FORMULA_START) else name


def json_values(values: Any) -> list:
    """An array as JSON-ready (nested) lists of floats, NaN as None."""
    a = np.asarray(values, dtype=float)
    if a.ndim <= 1:
        return [None if np.isnan(v) else float(v) for v in a.reshape(-1)]
    return [json_values(row) for row in a]


def described(result: Any, key: str) -> dict[str, Any]:
    """The JSON form shared by matrices and per-field scores: their facts, values under ``key``."""
    return {
        "method": result.method,
        "title": result.title,
        "description": result.description,
        "kind": result.kind,
        "fields": list(result.fields),
        "n_rows": result.n_rows,
        "signed": result.signed,
        "groups": dict(result.groups),
        key: json_values(result.values),
        # the map's one-line verdict (analysis.noise), where a noise floor was computed
        **({"verdict": verdict} if (verdict := _verdict(result)) else {}),
        **({"extra": result.extra} if result.extra else {}),
    }


def trailer_csv(result: Any) -> str:
    """The ``#`` lines after a CSV table: the scale and unit of its numbers, and the noise floor,
    verdict and cells above noise of a map that has one (``analysis.noise``)."""
    extra = result.extra if isinstance(result.extra, dict) else {}
    rows: list[list[Any]] = []
    scales = extra.get("scales") if isinstance(extra.get("scales"), dict) else {}
    quantity = scales.get("matrix") or ", ".join(
        str(v) for v in (extra.get("quantity"), extra.get("unit")) if v
    )
    if quantity:
        rows.append(["# values", quantity])
    if extra.get("fields") in GRANULARITY_TITLES:  # one field per input column, or the model's
        blocks = extra.get("blocks") if isinstance(extra.get("blocks"), dict) else {}
        split = "; ".join(
            f"{spreadsheet_text(c)} in {spreadsheet_text(b)}" for c, b in blocks.items()
        )
        rows.append(["# fields", GRANULARITY_TITLES[extra["fields"]], split])
    noise = extra.get("noise") if isinstance(extra.get("noise"), dict) else None
    if noise is not None:
        rows.append(["# verdict", noise.get("verdict", "")])
        rows.append(["# noise floor", noise.get("floor"), noise.get("unit") or "",
                     noise.get("statistic", ""), noise.get("rule", "")])  # fmt: skip
        above = np.array(noise.get("above") or [], dtype=bool)
        names = [spreadsheet_text(f) for f in result.fields]
        if above.shape == (len(names), len(names)):
            pairs = noise.get("noun") == "pairs"
            rows_i, cols_j = np.nonzero(np.triu(above, 1) if pairs else above)
            sign = "×" if pairs else "→"
            cells = [f"{names[i]} {sign} {names[j]}" for i, j in zip(rows_i, cols_j, strict=True)]
            rows.append([f"# {noise.get('noun', 'cells')} above noise", "; ".join(cells)])
    if not rows:
        return ""
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


def _verdict(result: Any) -> str | None:
    noise = result.extra.get("noise") if isinstance(result.extra, dict) else None
    return noise.get("verdict") if isinstance(noise, dict) else None


def undescribed(data: dict[str, Any], key: str) -> dict[str, Any]:
    """The constructor arguments of a result from its :func:`described` form (None back to NaN)."""
    names = ("method", "title", "description", "kind", "fields", "n_rows", "signed", "groups")
    return {
        "values": np.array(data[key], dtype=float),
        **{name: data[name] for name in names if name in data},
        "extra": dict(data.get("extra") or {}),
    }


@dataclass
class InteractionMatrix:
    """``values[i, j]`` is the strength of the interaction of ``fields[i]`` with ``fields[j]``.

    ``description`` is the one line shown next to every plot of it; NaN marks cells the model never
    computes (for example the diagonal of a dot interaction without self-interaction).
    """

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
        self.values = np.asarray(self.values, dtype=float)
        n = len(self.fields)
        if self.values.shape != (n, n):
            raise ValueError(f"matrix of shape {self.values.shape} does not match {n} fields.")

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.values, index=self.fields, columns=self.fields)

    def to_csv(self) -> str:
        """The matrix with the field names on both axes (formula-like names neutralised), then
        ``#`` lines naming what the values are and, with a noise floor, the floor, the verdict
        and the cells above it (``pd.read_csv(..., index_col=0, comment="#")`` skips them)."""
        safe = [spreadsheet_text(f) for f in self.fields]
        table = pd.DataFrame(self.values, index=safe, columns=safe).to_csv(index_label="field")
        return table + trailer_csv(self)

    def to_dict(self) -> dict[str, Any]:
        return described(self, "matrix")

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InteractionMatrix:
        """The matrix back from :meth:`to_dict` (or its JSON)."""
        return cls(**undescribed(data, "matrix"))

    def group_of(self, name: str) -> str:
        return self.groups.get(name, "context")

    def ordered(self, order: str = "given") -> InteractionMatrix:
        """The same matrix with its axes reordered: ``given``, by ``group`` (user | movie | context,
        stable within a group) or by ``strength`` (sum of each field's row, strongest first)."""
        if order not in ORDERS:
            raise ValueError(f"order must be one of {ORDERS}, got {order!r}.")
        n = len(self.fields)
        if order == "given":
            perm = list(range(n))
        elif order == "group":
            perm = sorted(
                range(n), key=lambda i: (GROUP_RANK.get(self.group_of(self.fields[i]), 3), i)
            )
        else:
            strength = np.nansum(np.abs(self.values), axis=1)
            perm = sorted(range(n), key=lambda i: (-strength[i], i))
        idx = np.asarray(perm)

        def permuted(value: Any) -> Any:
            # Square per-field tables in ``extra`` (e.g. bootstrap bounds, the noise floor's
            # references and marks, also inside nested dicts) follow the axes.
            if isinstance(value, dict):
                return {k: permuted(v) for k, v in value.items()}
            if (
                isinstance(value, list)
                and len(value) == n
                and all(isinstance(r, list) and len(r) == n for r in value)
            ):
                return [[value[i][j] for j in perm] for i in perm]
            return value

        return dataclasses.replace(
            self,
            values=self.values[np.ix_(idx, idx)],
            fields=[self.fields[i] for i in perm],
            extra={k: permuted(v) for k, v in self.extra.items()},
        )

    def strongest_pairs(self) -> list[tuple[str, str]]:
        """Every unordered field pair, strongest |value| first (NaN cells last)."""
        iu, ju = np.triu_indices(len(self.fields), k=1)
        strength = np.abs(self.values[iu, ju])
        order = np.argsort(-np.where(np.isnan(strength), -np.inf, strength), kind="stable")
        return [(self.fields[iu[k]], self.fields[ju[k]]) for k in order]

    def within_group(self) -> np.ndarray:
        """``(F, F)`` bool: both fields belong to the same group. In MovieLens, user attributes are
        functions of user_id (and movie attributes of movie_id), so such cells measure redundancy
        rather than interaction."""
        g = [self.group_of(f) for f in self.fields]
        return np.array([[a == b for b in g] for a in g])
