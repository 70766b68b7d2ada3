"""A field x field matrix with the facts needed to read it: method, meaning, data, kind."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

KINDS = ("weights-only", "exact decomposition", "approximation", "data-averaged")


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
        return self.to_frame().to_csv(index_label="field")

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "title": self.title,
            "description": self.description,
            "kind": self.kind,
            "fields": list(self.fields),
            "n_rows": self.n_rows,
            "signed": self.signed,
            "groups": dict(self.groups),
            "matrix": [[None if np.isnan(v) else float(v) for v in row] for row in self.values],
            **({"extra": self.extra} if self.extra else {}),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1)
