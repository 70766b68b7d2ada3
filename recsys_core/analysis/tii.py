"""Total Interaction Index (TII) of every field pair by whole-field substitution, model-agnostic.

For a score function z (the model's raw output: the logit of a binary model, the rating of a
regression model), a row x and another row x' of the data, write x^{S<-x'} for x with the fields in
S replaced by those of x' (whole fields: every id of a multi-hot bag; a continuous column inside
the model's continuous block, the block's other columns kept — or, with ``fields="blocks"``, the
whole block as the ``"continuous"`` field; see ``analysis.columns``). The mixed difference of the pair {i, j}

    Delta_ij(x, x') = z(x) - z(x^{i<-x'}) - z(x^{j<-x'}) + z(x^{ij<-x'})

vanishes whenever z is additive in x_i and x_j, and

    TII_ij = 1/4 E[Delta_ij(x, x')^2]

is the total interaction index of Fruth, Roustant & Kuhnt (2014, "Total interaction index: a
variance-based sensitivity index for second-order interaction screening", J. Stat. Plan. Inference)
— Liu & Owen's (2006) superset importance of {i, j}: with independent fields it equals the sum of
the functional-ANOVA variances of every effect containing both i and j (for z = g(x_i, x_j) + rest,
TII_ij = Var of the doubly centred g). It is the data-averaged counterpart of the discrete mixed
partial that Archipelago's ArchDetect evaluates at one row (Tsang et al., NeurIPS 2020), and a
global, substitution-based relative of the Shapley-Taylor interaction index (Sundararajan et al.,
ICML 2020) and of the interaction detectors of Tsang et al. (ICLR 2018).

Closed forms the tests check (x, x' independent, fields independent):

- z = sum_i a_i(x_i) + b u(x_1) v(x_2): TII_12 = b^2 Var u Var v, every other pair 0.
- FM-style z = sum_{i<j} <e_i(x_i), e_j(x_j)>: Delta_ij = <e_i - e_i', e_j - e_j'>, and since
  e_i - e_i' has mean 0 and covariance 2 Sigma_i, E[Delta^2] = tr(2 Sigma_i 2 Sigma_j), so
  TII_ij = tr(Sigma_i Sigma_j) exactly (the 1/4 cancels the two factors of 2), Sigma_i the
  covariance of field i's embedding over the data.

The estimator pairs every row with another row of the same sample (a random cyclic shift of a
random permutation, so no row is paired with itself), evaluates the 1 + F + F(F-1)/2 substituted
inputs of every row in one jitted ``jax.vmap`` over the masks, in chunks of rows, and reports
sqrt(TII) in the units of the raw score (logit for a binary model, rating — the target's unit —
for a regression model) with a percentile bootstrap interval over rows of the per-row squared
differences (no re-evaluation of the model). Scales, named in ``extra["scales"]``: the matrix and
``lower``/``upper`` are on the sqrt(TII) scale (score units), ``tii``, ``tii_lower`` and
``tii_upper`` on the squared scale (score units squared). Substitution evaluates the model on recombined rows,
which leave the data manifold when fields are dependent (e.g. a user id and that user's gender);
the index then also measures how the model extrapolates there.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from recsys_core import _backend  # noqa: F401
from recsys_core.analysis.columns import DEFAULT_GRANULARITY, field_layout
from recsys_core.analysis.matrix import InteractionMatrix, json_values
from recsys_core.analysis.units import score_unit
from recsys_core.errors import RecsysCoreError
from recsys_core.layers.field_inputs import pair_index
from recsys_core.models.pure import model_params, score_fn

# Substituted rows evaluated per jitted call (masks x rows); bounds the activation memory.
MAX_EVALUATIONS = 1 << 16

# Field names that are input keys, or field -> the parts of the input it owns: whole keys, or
# ``(key, column)`` for one column of a 2-D input (``analysis.columns``).
FieldsArg = Sequence[str] | Mapping[str, Sequence[str | tuple[str, int]]] | None


@dataclass
class TIIEstimate:
    """Per-row results of the substitution estimator on input dicts (see ``tii_from_inputs``).

    ``squared``: ``(n, P)`` per-row ``Delta^2 / 4`` for the pairs ``pairs`` (index pairs ``i < j``
    into ``fields``); ``tii``: their mean as an ``(F, F)`` matrix (diagonal NaN); ``lower`` and
    ``upper``: the bootstrap percentile interval of ``tii`` (NaN when ``n_boot`` is 0).
    """

    fields: list[str]
    pairs: list[tuple[int, int]]
    squared: np.ndarray
    tii: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    n_rows: int


def substitution_masks(n_fields: int) -> np.ndarray:
    """``(1 + F + P, F)`` booleans: the empty set, every single field, every pair (``pair_index``)."""
    pairs = pair_index(n_fields)
    masks = np.zeros((1 + n_fields + len(pairs), n_fields), dtype=bool)
    for f in range(n_fields):
        masks[1 + f, f] = True
    for p, (i, j) in enumerate(pairs):
        masks[1 + n_fields + p, [i, j]] = True
    return masks


def _part(key: Any) -> tuple[str, int | None]:
    """An owned key as ``(input key, column or None)``: a whole key, or one column of a 2-D input."""
    if isinstance(key, (tuple, list)) and len(key) == 2:
        return str(key[0]), int(key[1])
    return str(key), None


def _field_keys(x: Mapping[str, Any], fields: FieldsArg) -> dict[str, list[tuple[str, int | None]]]:
    """Each field with the parts of the input it owns (by default every key of ``x`` is a field).

    A part is a whole input key, or ``(key, column)``: one column of a 2-D input, the rest of which
    keeps its values when the field is substituted (a continuous column inside its block).
    """
    if fields is None:
        mapping = {k: [(k, None)] for k in x}
    elif isinstance(fields, Mapping):
        mapping = {str(f): [_part(k) for k in keys] for f, keys in fields.items()}
    else:
        mapping = {str(f): [(str(f), None)] for f in fields}
    missing = sorted({k for parts in mapping.values() for k, _ in parts if k not in x})
    if missing:
        raise RecsysCoreError(f"the inputs lack keys {missing} named by the fields.")
    for parts in mapping.values():
        for k, col in parts:
            shape = np.shape(x[k])
            if col is not None and not (len(shape) == 2 and 0 <= col < shape[1]):
                raise RecsysCoreError(
                    f"input {k!r} of shape {shape} has no column {col} to substitute."
                )
    if len(mapping) < 2:
        raise RecsysCoreError(f"an interaction needs at least two fields, got {list(mapping)}.")
    return mapping


# Compiled difference functions, per score-function owner (a model or a callable) and structure.
_DELTA_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _delta_fn(
    owner: Any, score: Callable, keys: tuple[tuple[tuple[str, int | None], ...], ...]
) -> Callable:
    """A jitted ``(params, x, xp) -> (P, n)`` signed mixed differences ``Delta_ij`` of every pair."""
    try:
        cache = _DELTA_CACHE.setdefault(owner, {}) if owner is not None else {}
    except TypeError:  # not weak-referenceable: compile without caching
        cache = {}
    if keys in cache:
        return cache[keys]
    n_fields = len(keys)
    masks = substitution_masks(n_fields)
    pairs = pair_index(n_fields)
    first = np.array([1 + i for i, _ in pairs])
    second = np.array([1 + j for _, j in pairs])

    def evaluate(mask, params, x, xp):
        mixed = dict(x)
        for f, field_keys in enumerate(keys):
            m = mask[f]
            for k, col in field_keys:
                if col is None:
                    mixed[k] = jnp.where(m, xp[k], x[k])
                else:  # one column of a block: its other columns keep their values
                    cur = jnp.asarray(mixed[k])
                    mixed[k] = cur.at[:, col].set(jnp.where(m, xp[k][:, col], cur[:, col]))
        return score(params, mixed)

    def deltas(params, x, xp):
        z = jax.vmap(evaluate, in_axes=(0, None, None, None))(jnp.asarray(masks), params, x, xp)
        z = z.astype(jnp.float32)
        return z[0][None, :] - z[first] - z[second] + z[1 + n_fields :]

    fn = jax.jit(deltas)
    cache[keys] = fn
    return fn


def pair_differences(
    fn: Callable,
    x: Mapping[str, Any],
    xp: Mapping[str, Any],
    fields: FieldsArg = None,
    params: Any = None,
    owner: Any = None,
    max_evaluations: int = MAX_EVALUATIONS,
) -> tuple[list[str], list[tuple[int, int]], np.ndarray]:
    """Signed ``Delta_ij(x_r, xp_r)`` for every row r and pair, as ``(fields, pairs, (n, P))``.

    ``fn(x) -> (n,)`` scores (or ``fn(params, x)`` when ``params`` is given) must be traceable by
    JAX. ``fields``: field names that are input keys, or a mapping field -> the parts of the input
    it owns (whole keys, or ``(key, column)`` for one column of a 2-D input; parts named by no field
    are never substituted); default: every key of ``x``. Rows are evaluated in
    fixed-size padded chunks of at most ``max_evaluations`` substituted rows per call.
    """
    mapping = _field_keys(x, fields)
    names = list(mapping)
    keys = tuple(tuple(mapping[f]) for f in names)
    x = {k: np.asarray(v) for k, v in x.items()}
    xp = {k: np.asarray(v) for k, v in xp.items()}
    n = len(next(iter(x.values())))
    if any(len(v) != n for v in (*x.values(), *xp.values())):
        raise RecsysCoreError("every input array of x and x' must have the same number of rows.")
    if n == 0:
        raise RecsysCoreError("no rows to evaluate the interaction index on.")
    score = (lambda _p, xb: fn(xb)) if params is None else fn
    # Cache the compiled function only on an explicit owner whose score function holds it weakly
    # (a model): a cached closure over a plain callable would keep that callable alive forever.
    delta = _delta_fn(owner, score, keys)
    n_masks = 1 + len(names) + len(names) * (len(names) - 1) // 2
    chunk = 1 << max(0, (max(1, max_evaluations // n_masks)).bit_length() - 1)
    chunk = min(chunk, 1 << max(n - 1, 0).bit_length())  # small inputs: one padded chunk
    out = []
    for start in range(0, n, chunk):
        xb = {k: v[start : start + chunk] for k, v in x.items()}
        xpb = {k: v[start : start + chunk] for k, v in xp.items()}
        m = len(next(iter(xb.values())))
        if m < chunk:  # pad with the chunk's first row so the compiled shape never changes
            xb, xpb = (
                {k: np.concatenate([v, np.repeat(v[:1], chunk - m, axis=0)]) for k, v in d.items()}
                for d in (xb, xpb)
            )
        out.append(np.asarray(delta(params, xb, xpb))[:, :m])
    return names, pair_index(len(names)), np.concatenate(out, axis=1).T.astype(np.float64)


def _to_matrix(values: np.ndarray, pairs: list[tuple[int, int]], n_fields: int) -> np.ndarray:
    m = np.zeros((n_fields, n_fields))
    for p, (i, j) in enumerate(pairs):
        m[i, j] = m[j, i] = values[p]
    np.fill_diagonal(m, np.nan)
    return m


def bootstrap_interval(
    squared: np.ndarray, n_boot: int = 200, confidence: float = 0.95, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval of the column means of ``squared`` ``(n, P)`` over row resamples."""
    n, p = squared.shape
    if n_boot <= 0:
        return np.full(p, np.nan), np.full(p, np.nan)
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot).astype(np.float64)
    boot = counts @ squared / n
    alpha = (1.0 - confidence) / 2.0
    return np.quantile(boot, alpha, axis=0), np.quantile(boot, 1.0 - alpha, axis=0)


def partner_permutation(n: int, rng: np.random.Generator) -> np.ndarray:
    """A random permutation without fixed points: each row's partner is the next one in a shuffle."""
    order = rng.permutation(n)
    partner = np.empty(n, dtype=np.int64)
    partner[order] = np.roll(order, -1)
    return partner


def tii_from_inputs(
    fn: Callable,
    x: Mapping[str, Any],
    fields: FieldsArg = None,
    seed: int = 0,
    n_boot: int = 200,
    confidence: float = 0.95,
    params: Any = None,
    owner: Any = None,
    partner: np.ndarray | None = None,
) -> TIIEstimate:
    """TII of every field pair of the score function ``fn`` over the rows of the input dict ``x``.

    Every row is paired with another row (``partner``, default a seeded random permutation without
    fixed points) whose fields are substituted in. See ``pair_differences`` for ``fn``, ``fields``,
    ``params``; ``owner`` is the object the compiled function is cached on (default: not cached).
    """
    x = {k: np.asarray(v) for k, v in x.items()}
    n = len(next(iter(x.values()))) if x else 0
    if n < 2:
        raise RecsysCoreError(f"the interaction index needs at least 2 rows to pair up, got {n}.")
    rng = np.random.default_rng(seed)
    if partner is None:
        partner = partner_permutation(n, rng)
    xp = {k: v[partner] for k, v in x.items()}
    names, pairs, delta = pair_differences(fn, x, xp, fields, params=params, owner=owner)
    squared = delta**2 / 4.0
    lo, hi = bootstrap_interval(squared, n_boot, confidence, seed=seed + 1)
    f = len(names)
    return TIIEstimate(
        fields=names,
        pairs=pairs,
        squared=squared,
        tii=_to_matrix(squared.mean(axis=0), pairs, f),
        lower=_to_matrix(lo, pairs, f),
        upper=_to_matrix(hi, pairs, f),
        n_rows=n,
    )


def model_score_fn(model: Any) -> tuple[Callable, Any]:
    """``(fn(params, x) -> raw scores, params)`` for a Keras model, stateless so it traces under jit."""
    return score_fn(model), model_params(model)


def nested(matrix: np.ndarray) -> list[list[float | None]]:
    """A matrix as JSON-ready nested lists, NaN as None (the form ``InteractionMatrix.to_dict`` uses)."""
    return json_values(matrix)


def interval_extra(
    est: TIIEstimate, unit: str, confidence: float, n_boot: int, seed: int
) -> dict[str, Any]:
    """A TII map's ``extra``: the bootstrap bounds on both scales, how they were drawn, and the
    scale and unit of every one of these numbers."""
    pct = int(round(confidence * 100))
    return {
        "lower": nested(np.sqrt(est.lower)),
        "upper": nested(np.sqrt(est.upper)),
        "tii": nested(est.tii),
        "tii_lower": nested(est.lower),
        "tii_upper": nested(est.upper),
        "confidence": confidence,
        "n_boot": n_boot,
        "seed": seed,
        "quantity": "sqrt(TII)",
        "unit": unit,
        "scales": {
            "matrix": f"sqrt(TII), {unit}",
            "lower": f"sqrt(TII), {unit}: {pct}% bootstrap lower bound",
            "upper": f"sqrt(TII), {unit}: {pct}% bootstrap upper bound",
            "tii": f"TII (squared), {unit}^2",
            "tii_lower": f"TII (squared), {unit}^2: {pct}% bootstrap lower bound",
            "tii_upper": f"TII (squared), {unit}^2: {pct}% bootstrap upper bound",
        },
    }


def total_interaction_index(
    model: Any,
    preprocessor: Any,
    rows: pd.DataFrame,
    n_rows: int = 2000,
    seed: int = 0,
    n_boot: int = 200,
    confidence: float = 0.95,
    fields: str = DEFAULT_GRANULARITY,
) -> InteractionMatrix:
    """sqrt(TII) of every pair of fields over (at most ``n_rows`` of) ``rows``.

    ``fields``: ``"columns"`` (one field per input column: each continuous column substituted on
    its own inside the model's continuous block) or ``"blocks"`` (``model.field_names``, the
    continuous block whole); see ``analysis.columns``. Computed on the raw score (the logit of a
    binary model, the rating of a regression model). The diagonal is NaN. ``extra`` holds
    ``lower``/``upper`` (the bootstrap percentile interval of sqrt(TII), nested lists with None on
    the diagonal), ``tii`` (the squared index) with its interval ``tii_lower``/``tii_upper``,
    ``confidence``, ``n_boot``, ``seed``, ``unit``, ``scales`` (the scale and unit of every one of
    these numbers), ``fields`` (the granularity) and ``blocks`` (the model field of each column).
    """
    layout = field_layout(model.field_names, preprocessor.spec, fields)
    if rows is None or len(rows) == 0:
        raise RecsysCoreError("no held-out rows to compute the interaction index on.")
    if len(rows) < 2:
        raise RecsysCoreError("the interaction index needs at least 2 rows to pair up.")
    rng = np.random.default_rng(seed)
    if len(rows) > n_rows:
        rows = rows.iloc[np.sort(rng.choice(len(rows), n_rows, replace=False))]
    x = preprocessor.transform(rows)
    names = layout.fields
    score, params = model_score_fn(model)
    est = tii_from_inputs(
        score,
        x,
        layout.keys,
        seed=seed,
        n_boot=n_boot,
        confidence=confidence,
        params=params,
        owner=model,
    )
    spec = preprocessor.spec
    pct = int(round(confidence * 100))
    unit = score_unit(spec)
    return InteractionMatrix(
        values=np.sqrt(est.tii),
        fields=names,
        method="tii",
        title="Total interaction index: sqrt(TII)",
        description=(
            f"Model-agnostic total interaction index, sqrt(1/4 E[(z(x) - z(x^i) - z(x^j) + z(x^ij))^2]) "
            f"with fields swapped in from another row, over {est.n_rows:,} held-out rows, in "
            f"{unit} units (the raw score); {layout.describe()}; {pct}% bootstrap interval in "
            "extra."
        ),
        kind="approximation",
        n_rows=est.n_rows,
        signed=False,
        groups=layout.groups(spec),
        extra={
            **interval_extra(est, unit, confidence, n_boot, seed),
            "space": "logit" if spec.task == "binary" else "raw score",
            **layout.extra(),
        },
    )
