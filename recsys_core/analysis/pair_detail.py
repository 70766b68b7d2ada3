"""One field pair in detail: which value combinations drive the score up or down through the pair.

For a held-out row x and rows x' drawn from the same data, the pair's mixed difference

    Delta_ij(x, x') = z(x) - z(x^{i<-x'}) - z(x^{j<-x'}) + z(x^{ij<-x'})

(substitution of a field — a whole input field, or one continuous column inside its block —
as in ``analysis.tii``) averaged over K partners x'_1..x'_K,

    c(x) = 1/K sum_k Delta_ij(x, x'_k),

estimates the doubly centred interaction effect g_c(x_i, x_j) of the values (x_i, x_j) in the
context of the rest of x: the part of the row's score that neither field explains alone. Grouping
rows by their (x_i, x_j) values shows the combinations behind it (e.g. which occupations x genres
push a predicted rating up). Model-agnostic; logit units for a binary model, rating (target)
units for regression.

**Its mean square is TII (1 + 3/K), not 4 TII.** With independent fields and partners, write
a, b for x_i, x_j, a'_k, b'_k for the partners' values and g for g_c in x's context (all four terms
of Delta share x's other fields). Then Delta(x, x'_k) = g(a, b) - g(a'_k, b) - g(a, b'_k) +
g(a'_k, b'_k), and since g averages to 0 over either argument every cross product has mean 0 except
the squares: E[c^2] = E[g^2] (1 + 3/K) (one term from g(a, b), 1/K from each of the three partner
terms). TII_ij = 1/4 E[Delta^2] = E[g^2] (Fruth, Roustant & Kuhnt 2014; ``analysis.tii``), so
E[c^2] = TII_ij (1 + 3/K): 4 TII for a single partner (K = 1), 1.19 TII for the default K = 16, and
TII in the limit, where c(x) becomes g itself. ``tests/analysis/test_pair_detail.py`` checks this
numerically against the exact TII of a planted table.

A pair of high-cardinality fields (zip code x movie) has almost no value combination seen in
``min_count`` rows. The combinations seen in at least 2 rows are then shown (``coarse``), and
``note`` says so — or says why nothing can be averaged — so a page never draws an empty chart
without a reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from recsys_core.analysis.columns import DEFAULT_GRANULARITY, field_layout
from recsys_core.analysis.tii import model_score_fn, pair_differences
from recsys_core.analysis.units import score_unit
from recsys_core.errors import RecsysCoreError
from recsys_core.features.preprocessing import DERIVED, SECONDS_PER_HOUR
from recsys_core.features.spec import CONTINUOUS_FIELD

# Partners per row: E[c^2] = TII (1 + 3/K) (module docstring), 19 % above TII at K = 16.
N_PARTNERS = 16


@dataclass
class PairDetail:
    """Per-row signed contributions of the pair ``fields`` and their value-combination table.

    ``combos``: one row per (value of ``fields[0]``, value of ``fields[1]``) seen in at least
    ``min_count`` rows, with ``count``, ``mean`` and ``std`` of the contribution, sorted by mean.
    ``coarse``: when ``combos`` is empty, the combinations seen in at least 2 rows (None when
    every combination is seen once). ``note``: why ``combos`` is empty and what is shown instead
    (empty when ``combos`` has rows). ``unit``: "logit" or the target's unit.
    """

    fields: tuple[str, str]
    contributions: np.ndarray
    combos: pd.DataFrame
    n_rows: int
    n_partners: int
    min_count: int = 5
    coarse: pd.DataFrame | None = None
    note: str = ""
    unit: str = "score"

    @property
    def mean_square_factor(self) -> float:
        """E[c^2] / TII = 1 + 3/K for K partners (module docstring)."""
        return 1.0 + 3.0 / self.n_partners

    @property
    def shown(self) -> pd.DataFrame:
        """The combinations a chart draws: ``combos``, or the rarer ``coarse`` ones without any."""
        if len(self.combos) or self.coarse is None:
            return self.combos
        return self.coarse

    def strongest(self, k: int = 10) -> pd.DataFrame:
        """The ``k`` combinations pushing the score down most and the ``k`` pushing it up most
        (of ``shown``: rarer ones when no combination has ``min_count`` rows)."""
        c = self.shown
        if len(c) <= 2 * k:
            return c
        return pd.concat([c.head(k), c.tail(k)])


def _quintiles(values: pd.Series, name: str) -> pd.Series:
    bins = pd.qcut(values, q=max(1, min(5, values.nunique())), duplicates="drop")
    return bins.astype(str).radd(f"{name} ")


def _column_values(rows: pd.DataFrame, columns: list[str]) -> pd.Series | None:
    """One number per row for the continuous columns behind a field (a column itself; the hour of
    a derived sine/cosine pair, from the timestamp it came from), or None when there is none."""
    if len(columns) == 1 and columns[0] in rows.columns:
        return pd.to_numeric(rows[columns[0]], errors="coerce")
    sources = {DERIVED.get(c) for c in columns}
    if len(sources) == 1 and None not in sources and next(iter(sources)) in rows.columns:
        hours = pd.to_numeric(rows[next(iter(sources))], errors="coerce") / SECONDS_PER_HOUR
        period = 168.0 if "week" in columns[0] else 24.0  # hour_of_week_* or hour_of_day_*
        return hours % period
    sin = [c for c in columns if c.endswith("_sin")]
    twin = [c for c in columns if sin and c == sin[0].removesuffix("_sin") + "_cos"]
    if len(columns) == 2 and sin and twin and all(c in rows.columns for c in columns):
        angle = np.arctan2(pd.to_numeric(rows[sin[0]]), pd.to_numeric(rows[twin[0]]))
        return pd.Series(angle, index=rows.index)
    return None


def _labels(
    rows: pd.DataFrame, name: str, spec: Any, columns: list[str] | None = None
) -> pd.Series:
    """Readable value of field ``name`` per row: bags joined by '|', continuous values in quintiles
    (``columns``: the continuous columns behind a column-level field)."""
    if columns:
        values = _column_values(rows, columns)
        if values is None:
            return pd.Series([f"({name})"] * len(rows), index=rows.index)
        return _quintiles(values, columns[0] if len(columns) == 1 else name)
    if name == CONTINUOUS_FIELD:
        cols = list(spec.continuous)
        if len(cols) != 1:
            return pd.Series(["(continuous block)"] * len(rows), index=rows.index)
        return _quintiles(pd.to_numeric(rows[cols[0]], errors="coerce"), cols[0])
    values = rows[name]
    return values.map(
        lambda v: "|".join(map(str, v)) if isinstance(v, (list, tuple, np.ndarray)) else str(v)
    )


def pair_contributions(
    fn: Any,
    x: dict[str, Any],
    pair: tuple[Any, Any],
    n_partners: int = N_PARTNERS,
    seed: int = 0,
    params: Any = None,
    owner: Any = None,
) -> np.ndarray:
    """``(n,)`` c(x) = 1/K sum_k Delta_ij(x, x'_k) for every row of the input dict ``x``.

    ``pair``: two fields, each an input key or a list of the parts of the input it owns (whole
    keys, or ``(key, column)`` for one column of a block; see ``analysis.tii.pair_differences``); ``fn``, ``params``, ``owner`` as in ``analysis.tii.pair_differences``.
    Partners are K rows drawn at random among the other rows (never the row itself, whose
    substitution changes nothing).
    """
    n = len(next(iter(x.values())))
    if n < 2:
        raise RecsysCoreError("the pair detail needs at least 2 held-out rows.")
    rng = np.random.default_rng(seed)
    k = max(1, int(n_partners))
    repeat = np.repeat(np.arange(n), k)
    partner = (repeat + rng.integers(1, n, size=len(repeat))) % n
    xr = {key: np.asarray(v)[repeat] for key, v in x.items()}
    xp = {key: np.asarray(v)[partner] for key, v in x.items()}
    a, b = (p if isinstance(p, list) else [p] for p in pair)
    _, _, delta = pair_differences(
        fn, xr, xp, fields={"a": list(a), "b": list(b)}, params=params, owner=owner
    )
    return delta[:, 0].reshape(n, k).mean(axis=1)


def _grouped(frame: pd.DataFrame, a: str, b: str, min_count: int) -> pd.DataFrame:
    combos = (
        frame.groupby([a, b], sort=False)["contribution"]
        .agg(count="size", mean="mean", std="std")
        .reset_index()
    )
    return combos[combos["count"] >= min_count].sort_values("mean").reset_index(drop=True)


def _fallback(
    frame: pd.DataFrame, a: str, b: str, min_count: int
) -> tuple[pd.DataFrame | None, str]:
    """The combinations seen in 2 to ``min_count - 1`` rows and the note that explains them, for
    a pair without any combination seen in ``min_count`` rows (or the note saying why there are
    none). Pooling rare values instead would show nothing: the interaction effect g_c averages to
    0 over either field's values, so a pooled "other" group means about 0 by construction."""
    n = len(frame)
    sizes = frame.groupby([a, b], sort=False).size()
    distinct, most = len(sizes), int(sizes.max())
    why = (
        f"none of the {distinct:,} distinct {a} × {b} combinations among {n:,} held-out rows is "
        f"seen in {min_count} rows (the most frequent in {most})"
    )
    if most < 2:
        return None, (
            f"Every one of the {distinct:,} {a} × {b} combinations among {n:,} held-out rows is "
            "seen in one row only: no combination can be averaged, so only the distribution of "
            "the per-row contributions can be shown."
        )
    coarse = _grouped(frame, a, b, 2)
    return coarse, (
        f"{why[0].upper()}{why[1:]}; shown instead: the {len(coarse):,} combinations seen in 2 to "
        f"{most} rows — means over so few rows are rough (the counts are in the table)."
    )


def pair_detail(
    model: Any,
    preprocessor: Any,
    rows: pd.DataFrame,
    pair: tuple[str, str],
    n_partners: int = N_PARTNERS,
    min_count: int = 5,
    seed: int = 0,
    fields: str = DEFAULT_GRANULARITY,
) -> PairDetail:
    """Signed contribution of ``pair`` to each held-out row's score, and by value combination.

    ``fields``: the granularity the pair's names come from, ``"columns"`` (one field per input
    column) or ``"blocks"`` (``model.field_names``); see ``analysis.columns``. A name only the
    other granularity has (``"continuous"`` with columns) is taken from it, so a pair read off
    any map, native ones included, can be detailed.
    """
    layout = field_layout(model.field_names, preprocessor.spec, fields)
    # A pair named on a map of the other granularity (a native view's "continuous") is found there.
    other = "blocks" if layout.granularity == "columns" else "columns"
    layouts = [layout, field_layout(model.field_names, preprocessor.spec, other)]
    a, b = pair
    found = {}
    for name in (a, b):
        found[name] = next((lay for lay in layouts if name in lay.fields), None)
        if found[name] is None:
            raise RecsysCoreError(f"field {name!r} is not one of the fields {layout.fields}.")
    if a == b:
        raise RecsysCoreError(f"a pair needs two different fields, got {a!r} twice.")
    if found[a].blocks[a] == b or found[b].blocks[b] == a:
        raise RecsysCoreError(f"{a!r} and {b!r} overlap (one is a column of the other's block).")
    if rows is None or len(rows) < 2:
        raise RecsysCoreError("the pair detail needs at least 2 held-out rows.")
    rows = rows.reset_index(drop=True)
    x = preprocessor.transform(rows)
    score, params = model_score_fn(model)
    k = max(1, int(n_partners))
    parts = (list(found[a].keys[a]), list(found[b].keys[b]))
    contributions = pair_contributions(score, x, parts, k, seed, params=params, owner=model)
    spec = preprocessor.spec
    split = {f: found[f].columns[f] if found[f].blocks[f] != f else None for f in (a, b)}
    frame = pd.DataFrame(
        {
            a: _labels(rows, a, spec, split[a]).to_numpy(),
            b: _labels(rows, b, spec, split[b]).to_numpy(),
            "contribution": contributions,
        }
    )
    combos = _grouped(frame, a, b, min_count)
    coarse, note = (None, "") if len(combos) else _fallback(frame, a, b, min_count)
    return PairDetail(
        (a, b), contributions, combos, len(rows), k, min_count, coarse, note, score_unit(spec)
    )
