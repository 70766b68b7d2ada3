"""Synthetic tables with planted pairwise interactions and their exact ground truth.

Every generator returns ``(table, spec, truth)``. Fields are drawn independently, each from a known
marginal, and the true score (logit for a binary task, the noiseless target for regression) is

    z(x) = intercept + sum_f a_f(x_f) + sum_{(i, j) planted} G_ij(x_i, x_j) [+ beta . continuous],

so the true total interaction index (``recsys_core.analysis.tii``, the same substitution formula
1/4 E[(z(x) - z(x^{i<-x'}) - z(x^{j<-x'}) + z(x^{ij<-x'}))^2] with x, x' independent draws) is exact:
TII_ij = sum_{a,b} p_i(a) p_j(b) Gc_ij(a, b)^2 with Gc the doubly centred G (its functional-ANOVA
interaction part), and 0 for every pair without a planted term.

Kinds (``planted_table``):

- ``"dcn"``: the polynomial of the Deep & Cross Network examples (Wang et al., "DCN V2", WWW 2021;
  the keras / TF-Recommenders DCN tutorial): y = 0.1 x1 + 0.4 x2 + 0.7 x3 + 0.1 x1 x2 + 3.1 x2 x3 +
  0.1 x3^2, with x1 = country / 200 (200 values), x2 = bananas / 24 (24 values), x3 = cookbooks / 6
  (6 values), uniform as in the tutorial. The three inputs are discrete with few levels, so they
  enter as categorical fields ``country``, ``bananas``, ``cookbooks`` holding the level k (x = k / L);
  x3^2 is a main effect. Regression; true pairs (country, bananas) — weak, sqrt(TII) ~ 0.008 — and
  (bananas, cookbooks), sqrt(TII) ~ 0.25.
- ``"ctr"``: a CTR-shaped table with MovieLens-like fields (11 categorical fields of 2 to 1000 values,
  Zipf-like marginals for the id-like fields) whose logit is per-field main effects plus four planted
  rank-1 pair terms of graded strength s: G_ij(a, b) = s u_i(a) v_j(b) with u, v centred and of unit
  variance under the marginals, so sqrt(TII_ij) = s exactly. Binary (label ~ Bernoulli(sigmoid(z)))
  or regression (label = z + Gaussian noise).
- ``"control"``: the same fields and main effects, no pair terms (every true TII is 0).

Values are integer levels; all tables are seeded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import jax.numpy as jnp
import numpy as np
import pandas as pd

from recsys_core.errors import DataError
from recsys_core.features.spec import CONTINUOUS_FIELD, FeatureSpec

KINDS = ("dcn", "ctr", "control")
TABLE_DESCRIPTIONS = {
    "ctr": "CTR-shaped: 11 categorical fields with MovieLens-like cardinalities, main effects and "
    "a few rank-one pair terms of graded strength in the logit",
    "dcn": "DCN-V2 paper / keras example polynomial: y = 0.1x1 + 0.4x2 + 0.7x3 + 0.1x1x2 + "
    "3.1x2x3 + 0.1x3² over three categorical fields (regression)",
    "control": "the CTR table's fields and main effects with no interaction at all: every "
    "recovered interaction is a false positive",
}
TARGET = "label"

# (name, cardinality, group, zipf-like marginal): MovieLens 100K-like sizes (943 users, 1682 movies
# capped at 1000, ~800 zip prefixes, 21 occupations, 19 genres, ...).
CTR_FIELDS: tuple[tuple[str, int, str, bool], ...] = (
    ("user_id", 1000, "user", True),
    ("movie_id", 1000, "movie", True),
    ("user_zip_prefix", 100, "user", True),
    ("user_occupation", 21, "user", False),
    ("user_gender", 2, "user", False),
    ("user_age_bucket", 7, "user", False),
    ("movie_genre", 18, "movie", False),
    ("movie_decade", 8, "movie", False),
    ("hour_of_day", 24, "context", False),
    ("day_of_week", 7, "context", False),
    ("device", 3, "context", False),
)
# Planted pairs with graded strength s = sqrt(TII) in logit units.
CTR_PAIRS: tuple[tuple[str, str, float], ...] = (
    ("user_gender", "movie_genre", 1.0),
    ("user_age_bucket", "movie_decade", 0.8),
    ("hour_of_day", "day_of_week", 0.6),
    ("user_occupation", "device", 0.4),
)


@dataclass
class PlantedTruth:
    """The true function of a planted table and its exact pairwise TII.

    ``levels[f]``: number of values of field f (values are 0..L-1); ``marginals[f]``: their
    probabilities; ``main[f]``: main-effect table; ``pair_terms``: ``{(i, j): G_ij}`` tables of shape
    ``(L_i, L_j)``; ``beta``: linear effect of the continuous columns. ``pairs``: the planted pairs
    (field names in ``fields`` order), ``tii``: the exact ``(F, F)`` TII (diagonal NaN).
    """

    kind: str
    task: str
    fields: list[str]
    levels: dict[str, int]
    marginals: dict[str, np.ndarray]
    main: dict[str, np.ndarray]
    pair_terms: dict[tuple[str, str], np.ndarray]
    intercept: float = 0.0
    continuous: list[str] = field(default_factory=list)
    beta: np.ndarray = field(default_factory=lambda: np.zeros(0))
    pairs: list[tuple[str, str]] = field(init=False)
    tii: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.pairs = [
            p for p, g in self.pair_terms.items() if np.any(_double_centre(g, *self._p(p)))
        ]
        self.tii = exact_tii(self)

    def _p(self, pair: tuple[str, str]) -> tuple[np.ndarray, np.ndarray]:
        return self.marginals[pair[0]], self.marginals[pair[1]]

    @property
    def sparse_fields(self) -> list[str]:
        return [f for f in self.fields if f != CONTINUOUS_FIELD]

    def encode(self, df: pd.DataFrame) -> dict[str, np.ndarray]:
        """The table as level ids per field (plus the raw ``"continuous"`` block), for ``score``."""
        x = {f: df[f].to_numpy().astype(np.int32) for f in self.sparse_fields}
        if self.continuous:
            x[CONTINUOUS_FIELD] = df[self.continuous].to_numpy(np.float32)
        return x

    def score(self, x: dict[str, Any], xp: Any = jnp) -> Any:
        """The true score z of encoded rows; JAX-traceable (so the TII estimator can run on it), or
        plain NumPy with ``xp=np``."""
        dtype = xp.float32
        z = xp.full(xp.shape(x[self.sparse_fields[0]]), self.intercept, dtype)
        for f in self.sparse_fields:
            z = z + xp.asarray(self.main[f], dtype)[x[f]]
        for (i, j), g in self.pair_terms.items():
            z = z + xp.asarray(g, dtype)[x[i], x[j]]
        if self.continuous:
            z = z + x[CONTINUOUS_FIELD] @ xp.asarray(self.beta, dtype)
        return z

    def logit(self, df: pd.DataFrame) -> np.ndarray:
        """The true score of every row of ``df`` (NumPy)."""
        return np.asarray(self.score(self.encode(df), xp=np), dtype=np.float64)

    def sqrt_tii(self) -> np.ndarray:
        return np.sqrt(self.tii)

    def matrix(self) -> Any:
        """The exact sqrt(TII) as an ``InteractionMatrix`` (same scale as the estimated one)."""
        from recsys_core.analysis.matrix import InteractionMatrix

        return InteractionMatrix(
            values=self.sqrt_tii(),
            fields=list(self.fields),
            method="tii-truth",
            title="True total interaction index: sqrt(TII)",
            description=(
                f"Exact sqrt(TII) of the planted {self.kind!r} table's true function, "
                "in logit (raw score) units; planted pairs: "
                + (", ".join(f"{i} x {j}" for i, j in self.pairs) or "none")
                + "."
            ),
            kind="exact decomposition",
            n_rows=0,
            signed=False,
            extra={"pairs": [list(p) for p in self.pairs]},
        )


def _double_centre(g: np.ndarray, p: np.ndarray, q: np.ndarray) -> np.ndarray:
    row = g @ q
    col = p @ g
    return g - row[:, None] - col[None, :] + p @ g @ q


def exact_tii(truth: PlantedTruth) -> np.ndarray:
    """Exact TII of every field pair under independent fields with the truth's marginals."""
    index = {f: k for k, f in enumerate(truth.fields)}
    tii = np.zeros((len(truth.fields), len(truth.fields)))
    summed: dict[tuple[str, str], np.ndarray] = {}
    for (i, j), g in truth.pair_terms.items():
        key, g = ((i, j), g) if index[i] < index[j] else ((j, i), g.T)
        summed[key] = summed.get(key, 0) + g
    for (i, j), g in summed.items():
        p, q = truth.marginals[i], truth.marginals[j]
        value = float(p @ _double_centre(g, p, q) ** 2 @ q)
        tii[index[i], index[j]] = tii[index[j], index[i]] = value
    np.fill_diagonal(tii, np.nan)
    return tii


def _zipf(n: int, rng: np.random.Generator, exponent: float = 0.9) -> np.ndarray:
    p = 1.0 / (np.arange(n) + 5.0) ** exponent
    return rng.permutation(p / p.sum())


def _mild(n: int, rng: np.random.Generator) -> np.ndarray:
    p = rng.gamma(8.0, size=n)
    return p / p.sum()


def _standardised(values: np.ndarray, p: np.ndarray) -> np.ndarray:
    v = values - p @ values
    return v / np.sqrt(p @ v**2)


def _sample(truth: PlantedTruth, n_rows: int, rng: np.random.Generator) -> pd.DataFrame:
    cols = {
        f: rng.choice(truth.levels[f], n_rows, p=truth.marginals[f]) for f in truth.sparse_fields
    }
    for c in truth.continuous:
        cols[c] = rng.normal(size=n_rows).astype(np.float32)
    return pd.DataFrame(cols)


def _spec(truth: PlantedTruth, task: str, groups: dict[str, str]) -> FeatureSpec:
    return FeatureSpec(
        categorical=tuple(truth.sparse_fields),
        continuous=tuple(truth.continuous),
        target=TARGET,
        task=task,
        binary_threshold=None,
        groups=dict(groups),
    )


def _label(z: np.ndarray, task: str, noise: float, rng: np.random.Generator) -> np.ndarray:
    if task == "binary":
        return (rng.random(len(z)) < 1.0 / (1.0 + np.exp(-z))).astype(np.float32)
    if task == "regression":
        return (z + noise * rng.normal(size=len(z))).astype(np.float32)
    raise DataError(f"task must be 'binary' or 'regression', got {task!r}.")


def dcn_table(
    n_rows: int = 20_000, seed: int = 0, noise: float = 0.0
) -> tuple[pd.DataFrame, FeatureSpec, PlantedTruth]:
    """The DCN tutorial's polynomial (see the module docstring) as a regression table."""
    if n_rows < 2:
        raise DataError(f"a planted table needs at least 2 rows, got {n_rows}.")
    rng = np.random.default_rng(seed)
    levels = {"country": 200, "bananas": 24, "cookbooks": 6}
    x = {f: np.arange(n) / n for f, n in levels.items()}
    marginals = {f: np.full(n, 1.0 / n) for f, n in levels.items()}
    truth = PlantedTruth(
        kind="dcn",
        task="regression",
        fields=list(levels),
        levels=levels,
        marginals=marginals,
        main={
            "country": 0.1 * x["country"],
            "bananas": 0.4 * x["bananas"],
            "cookbooks": 0.7 * x["cookbooks"] + 0.1 * x["cookbooks"] ** 2,
        },
        pair_terms={
            ("country", "bananas"): 0.1 * np.outer(x["country"], x["bananas"]),
            ("bananas", "cookbooks"): 3.1 * np.outer(x["bananas"], x["cookbooks"]),
        },
    )
    df = _sample(truth, n_rows, rng)
    df[TARGET] = _label(truth.logit(df), "regression", noise, rng)
    return df, _spec(truth, "regression", {}), truth


def ctr_table(
    n_rows: int = 20_000,
    seed: int = 0,
    task: str = "binary",
    pairs: Sequence[tuple[str, str, float]] = CTR_PAIRS,
    fields: Sequence[tuple[str, int, str, bool]] = CTR_FIELDS,
    n_continuous: int = 0,
    main_scale: float = 0.4,
    intercept: float | None = None,
    noise: float = 0.5,
    kind: str = "ctr",
) -> tuple[pd.DataFrame, FeatureSpec, PlantedTruth]:
    """A CTR-shaped table: main effects per field plus the rank-1 ``pairs`` ``(field, field, s)``.

    Each main effect has standard deviation ``main_scale`` (logit units) under its marginal;
    ``n_continuous`` standard-normal columns ``cont_k`` add a linear main effect (one
    ``"continuous"`` field, never interacting). ``intercept`` defaults to -1 for binary (a click
    rate near 30%) and 3 for regression; ``noise`` is the regression label's noise std.
    """
    if n_rows < 2:
        raise DataError(f"a planted table needs at least 2 rows, got {n_rows}.")
    rng = np.random.default_rng(seed)
    names = [f[0] for f in fields]
    levels = {name: int(n) for name, n, _, _ in fields}
    marginals = {name: (_zipf(n, rng) if zipf else _mild(n, rng)) for name, n, _, zipf in fields}
    main = {f: main_scale * _standardised(rng.normal(size=levels[f]), marginals[f]) for f in names}
    terms = {}
    for i, j, s in pairs:
        if i not in levels or j not in levels or i == j:
            raise DataError(f"planted pair ({i!r}, {j!r}) does not name two different fields.")
        u = _standardised(rng.normal(size=levels[i]), marginals[i])
        v = _standardised(rng.normal(size=levels[j]), marginals[j])
        terms[(i, j)] = float(s) * np.outer(u, v)
    continuous = [f"cont_{k}" for k in range(n_continuous)]
    if intercept is None:
        intercept = -1.0 if task == "binary" else 3.0
    truth = PlantedTruth(
        kind=kind,
        task=task,
        fields=names + ([CONTINUOUS_FIELD] if continuous else []),
        levels=levels,
        marginals=marginals,
        main=main,
        pair_terms=terms,
        intercept=float(intercept),
        continuous=continuous,
        beta=main_scale * rng.normal(size=n_continuous) / max(1.0, np.sqrt(n_continuous)),
    )
    df = _sample(truth, n_rows, rng)
    df[TARGET] = _label(truth.logit(df), task, noise, rng)
    return df, _spec(truth, task, {name: g for name, _, g, _ in fields}), truth


def control_table(
    n_rows: int = 20_000, seed: int = 0, task: str = "binary", **kwargs: Any
) -> tuple[pd.DataFrame, FeatureSpec, PlantedTruth]:
    """The CTR table's fields and main effects with no interaction at all."""
    return ctr_table(n_rows, seed, task, pairs=(), kind="control", **kwargs)


def planted_table(
    kind: str, n_rows: int = 20_000, seed: int = 0, task: str | None = None, **kwargs: Any
) -> tuple[pd.DataFrame, FeatureSpec, PlantedTruth]:
    """``(table, spec, truth)`` of planted ``kind`` (``dcn``, ``ctr`` or ``control``)."""
    if kind == "dcn":
        if task not in (None, "regression"):
            raise DataError("the DCN polynomial table is a regression task.")
        return dcn_table(n_rows, seed, **kwargs)
    if kind == "ctr":
        return ctr_table(n_rows, seed, task or "binary", **kwargs)
    if kind == "control":
        return control_table(n_rows, seed, task or "binary", **kwargs)
    raise DataError(f"unknown planted table {kind!r}; available: {', '.join(KINDS)}.")


# A user's table with one planted categorical x continuous pair: what a model's continuous block
# hides from its own fields (``analysis.columns``).
PRICE_CATEGORIES = ("a", "b", "c", "d")


def category_price_table(
    n_rows: int = 4000, seed: int = 0, strength: float = 1.0, noise: float = 0.3
) -> tuple[pd.DataFrame, FeatureSpec, dict[str, Any]]:
    """A shop-like regression table whose only interaction is category x price.

    Columns: ``category`` (``a``..``d``, uniform), ``store`` (8 levels), ``weekday`` (7 levels),
    and three continuous columns ``price`` (uniform on [1, 10]), ``discount`` and ``weight``
    (standard normal). The target is

        label = 1 + main effects of every column + strength * 1[category == "a"] * price + noise,

    Gaussian noise of std ``noise``. The doubly centred interaction part is
    ``strength (1[a] - p_a)(price - E price)``, so with independent columns the exact
    ``TII(category, price) = strength^2 p_a (1 - p_a) Var(price)`` and every other pair's is 0.
    ``truth``: ``pairs`` (the planted pair) and ``sqrt_tii`` (its exact sqrt(TII)).
    """
    if n_rows < 2:
        raise DataError(f"a planted table needs at least 2 rows, got {n_rows}.")
    rng = np.random.default_rng(seed)
    cats = np.array(PRICE_CATEGORIES)
    df = pd.DataFrame(
        {
            "category": cats[rng.integers(0, len(cats), n_rows)],
            "store": rng.integers(0, 8, n_rows).astype(str),
            "weekday": rng.integers(0, 7, n_rows).astype(str),
            "price": rng.uniform(1.0, 10.0, n_rows).round(2),
            "discount": rng.normal(size=n_rows).round(3),
            "weight": rng.normal(size=n_rows).round(3),
        }
    )
    main = {
        "category": dict(zip(cats, rng.normal(scale=0.5, size=len(cats)), strict=True)),
        "store": dict(zip(map(str, range(8)), rng.normal(scale=0.5, size=8), strict=True)),
        "weekday": dict(zip(map(str, range(7)), rng.normal(scale=0.3, size=7), strict=True)),
    }
    z = 1.0 + sum(df[c].map(m).to_numpy() for c, m in main.items())
    z = z + 0.2 * df["price"] + 0.3 * df["discount"] - 0.2 * df["weight"]
    z = z + strength * (df["category"] == "a") * df["price"]
    df[TARGET] = (z + noise * rng.normal(size=n_rows)).astype(np.float32)
    spec = FeatureSpec(
        categorical=("category", "store", "weekday"),
        continuous=("price", "discount", "weight"),
        target=TARGET,
        task="regression",
        binary_threshold=None,
    )
    p_a, var_price = 1.0 / len(cats), (10.0 - 1.0) ** 2 / 12.0
    truth = {
        "pairs": [("category", "price")],
        "sqrt_tii": float(strength * np.sqrt(p_a * (1 - p_a) * var_price)),
    }
    return df, spec, truth
