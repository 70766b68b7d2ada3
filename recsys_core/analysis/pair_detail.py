"""One field pair in detail: which value combinations drive the score up or down through the pair.

For a held-out row x and rows x' drawn from the same data, the pair's mixed difference

    Delta_ij(x, x') = z(x) - z(x^{i<-x'}) - z(x^{j<-x'}) + z(x^{ij<-x'})

(whole-field substitution, as in ``analysis.tii``) averaged over K partners x' estimates the doubly
centred interaction effect of the values (x_i, x_j) in the context of the rest of x: the part of
the row's score that neither field explains alone. Its mean square over rows is 4 TII_ij, so this
is the signed, per-row breakdown of the pair's cell in the TII heatmap; grouping rows by their
(x_i, x_j) values shows the combinations behind it (e.g. which occupations x genres push a
predicted rating up). Model-agnostic; logit units for a binary model, rating units for regression.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from recsys_core.analysis.tii import model_score_fn, pair_differences
from recsys_core.errors import RecsysCoreError
from recsys_core.features.spec import CONTINUOUS_FIELD


@dataclass
class PairDetail:
    """Per-row signed contributions of the pair ``fields`` and their value-combination table.

    ``combos``: one row per (value of ``fields[0]``, value of ``fields[1]``) seen in at least
    ``min_count`` rows, with ``count``, ``mean`` and ``std`` of the contribution, sorted by mean.
    """

    fields: tuple[str, str]
    contributions: np.ndarray
    combos: pd.DataFrame
    n_rows: int
    n_partners: int

    def strongest(self, k: int = 10) -> pd.DataFrame:
        """The ``k`` combinations pushing the score down most and the ``k`` pushing it up most."""
        c = self.combos
        if len(c) <= 2 * k:
            return c
        return pd.concat([c.head(k), c.tail(k)])


def _labels(rows: pd.DataFrame, name: str, spec: Any) -> pd.Series:
    """Readable value of field ``name`` per row: bags joined by '|', continuous values in quintiles."""
    if name == CONTINUOUS_FIELD:
        cols = list(spec.continuous)
        if len(cols) != 1:
            return pd.Series(["(continuous block)"] * len(rows), index=rows.index)
        values = pd.to_numeric(rows[cols[0]], errors="coerce")
        bins = pd.qcut(values, q=min(5, values.nunique()), duplicates="drop")
        return bins.astype(str).radd(f"{cols[0]} ")
    values = rows[name]
    return values.map(
        lambda v: "|".join(map(str, v)) if isinstance(v, (list, tuple, np.ndarray)) else str(v)
    )


def pair_detail(
    model: Any,
    preprocessor: Any,
    rows: pd.DataFrame,
    pair: tuple[str, str],
    n_partners: int = 16,
    min_count: int = 5,
    seed: int = 0,
) -> PairDetail:
    """Signed contribution of ``pair`` to each held-out row's score, and by value combination."""
    fields = list(model.field_names)
    a, b = pair
    for name in (a, b):
        if name not in fields:
            raise RecsysCoreError(f"field {name!r} is not one of the model's fields {fields}.")
    if a == b:
        raise RecsysCoreError(f"a pair needs two different fields, got {a!r} twice.")
    if rows is None or len(rows) < 2:
        raise RecsysCoreError("the pair detail needs at least 2 held-out rows.")
    rows = rows.reset_index(drop=True)
    x = preprocessor.transform(rows)
    n = len(rows)
    rng = np.random.default_rng(seed)
    k = max(1, int(n_partners))
    repeat = np.repeat(np.arange(n), k)
    # Partners: random other rows (never the row itself, whose substitution changes nothing).
    partner = (repeat + rng.integers(1, n, size=len(repeat))) % n
    xr = {key: np.asarray(v)[repeat] for key, v in x.items()}
    xp = {key: np.asarray(v)[partner] for key, v in x.items()}
    score, params = model_score_fn(model)
    _, _, delta = pair_differences(
        score, xr, xp, fields={a: [a], b: [b]}, params=params, owner=model
    )
    contributions = delta[:, 0].reshape(n, k).mean(axis=1)
    frame = pd.DataFrame(
        {
            a: _labels(rows, a, preprocessor.spec).to_numpy(),
            b: _labels(rows, b, preprocessor.spec).to_numpy(),
            "contribution": contributions,
        }
    )
    combos = (
        frame.groupby([a, b], sort=False)["contribution"]
        .agg(count="size", mean="mean", std="std")
        .reset_index()
    )
    combos = combos[combos["count"] >= min_count].sort_values("mean").reset_index(drop=True)
    return PairDetail((a, b), contributions, combos, n, k)
