"""Noise floors: what an interaction map shows for a model without learned interactions, and one
verdict line per map.

Every map of a trained model draws something — a model that learned nothing draws noise over the
full colour scale. A data-averaged or model-agnostic view (TII, Archipelago, native pair terms,
cross terms, attention) therefore gets a **floor**: the largest value the same view takes, over
every cell, for two references without learned interactions, computed on the same held-out rows:

1. ``initial``: the run's architecture at its initial weights, rebuilt from the run's seed
   (``analysis.native.cross.initial_model``, the order ``training.pipeline.train_run`` builds in).
   A model whose training never moved it (a frozen run) draws exactly this map.
2. ``permuted``: the same architecture, started from those initial weights with the run's
   optimiser settings, trained on held-out rows whose labels keep the trained model's main effects
   and carry no interaction: label permutation under the reduced (main-effects-only) model —
   Freedman & Lane (1983, "A nonstochastic interpretation of reported significance levels",
   J. Bus. Econ. Stat. 1:292-298), ter Braak (1992, permuting the full model's residuals), compared
   by Anderson & Legendre (1999, J. Stat. Comput. Simul. 62:271-303). With a(x) the trained model's
   additive part (its first-order functional-ANOVA projection: a(x) = sum_f m_f(x_f) - (F-1) mu,
   m_f(v) the mean score of anchor rows with field f set to v, mu their mean score; any error of
   this estimate is itself additive, so the labels never gain an interaction), z(x) its score and
   pi a random permutation of the rows,

       regression: y*(x_r) = a(x_r) + (y - z)(x_pi(r))   (the residuals, permuted),
       binary:     y*(x_r) ~ Bernoulli(sigmoid(a(x_r)))   (drawn from the additive logit).

   Permuting the labels themselves would destroy the main effects too, and a network that fits
   main effects makes small pair terms of its own (planted control table, DLRM: seven of 55 pairs
   above such a reference's cells). Where the run's training rows can be read again (MovieLens
   from the local cache, a user's table still at its recorded path) each reference trains on them
   with the run's batch size for the epochs its final model trained, and is evaluated on the
   held-out rows, as the run's maps are; ``N_SPLITS`` label draws. Otherwise the reference is
   **cross-fitted** on the held-out rows: they are split in two halves and a reference trained on
   one half is evaluated on the other, because the run's own maps are computed on rows it never
   trained on, and a reference evaluated on its training rows shows the label noise it memorised (binary planted CTR table: a floor of 1.3 logits against
   planted pairs of 0.5-0.65). A half holds a few hundred to a thousand rows where the run trained
   on thousands, so its training length is matched as measured on the planted tables: for
   regression a reference epoch takes as many optimiser steps as one of the run's (the half's
   rows repeated up to ``MAX_REPEAT`` times; with fewer steps DeepFM and DCN-V2 on the control
   table rise above the floor in three or four pairs, since their own spurious pair terms come from
   fitting their training rows closely); for binary each row is seen once per epoch (repeated hard
   labels are memorised without bound under a log loss: a floor of 6 logits). Both train for the
   epochs the run's config allows (at most ``MAX_EPOCHS``) without early stopping, with the run's
   batch size, learning rate, schedule and weight decay (batch at most a quarter of the rows seen
   per epoch, so an epoch takes at least ``MIN_STEPS_PER_EPOCH`` steps).

The rule: the floor is max |reference value| over every cell of every reference map (for TII, the
upper end of each reference's bootstrap interval); a cell is **above noise** when |value| (for TII
the lower end of its own bootstrap interval) exceeds the floor. One floor per map rather than one
per cell: each reference is a single draw, and a cell compared with its own single draw would be
called above noise about half the time when nothing was learned, while the largest reference cell
is beaten by chance only by the largest of the model's cells, and only sometimes. For a one-row view
(Archipelago, a native view of one row) the ``permuted`` references are those that did not train on
that row (one half per label draw).

Measured on the planted tables (``recsys_core.data.planted``, 10,000 rows, 8 epochs, held-out
halves; TII): the control table gets no pair above noise for DLRM, DeepFM, AutoInt (regression)
and DLRM (binary); on the CTR table DLRM and DCN-V2 (regression) get their four planted pairs and
nothing else, DLRM (binary) the two planted pairs it learned (the other two sit at 0.04-0.06
logits) and nothing else, DeepFM its four planted pairs and four others a quarter their size — a
learned interaction leaking into other pairs through the network is real in the model, not noise,
and no floor removes it. Native magnitude views (DLRM's mean |<e_i, e_j>|) measure the size of a
term, not an interaction: there the floor says whether the terms outgrew those of an untrained or
a main-effects-only model, and training that shrinks embeddings (an L2 penalty) can leave every
cell under the initial weights' floor. ``tests/analysis/test_noise.py`` checks DLRM end to end.

Each map gets a one-line verdict ("3 of 21 pairs above noise", "no interaction detectable above
noise"), saved with the map in ``extra["noise"]``; a run whose training did not learn
(``training.health``) gets a verdict that says so, whatever its cells do.
"""

from __future__ import annotations

import dataclasses
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from recsys_core import _backend  # noqa: F401
from recsys_core.analysis.matrix import InteractionMatrix, json_values
from recsys_core.errors import RecsysCoreError

MAX_EPOCHS = 20  # a reference half trains for the run's epochs, at most this many
MAX_REPEAT = 16  # a half's rows are repeated at most this often per epoch
MIN_STEPS_PER_EPOCH = 4
N_SPLITS = 2  # null label draws (each with its own halving of held-out rows)
MAX_TRAIN_ROWS = 100_000  # training rows a permuted reference trains on, at most
N_ANCHORS = 32  # anchor rows the additive part averages over
REFERENCES = ("initial", "permuted")
ABOVE, WITHIN = "above noise", "within noise"


@dataclass
class ReferenceModels:
    """The references of one trained model on one set of held-out rows.

    ``initial``: the model at its initial weights. ``permuted``: ``2 * N_SPLITS``
    ``(model, evaluate_on)`` pairs, ``evaluate_on`` the boolean mask of the rows that model did not train on; ``epochs``,
    ``batch_size`` and ``repeat`` (copies of a half's rows per epoch) say how they trained.
    ``seconds``: what building them cost (rebuild, additive part, two trainings).
    """

    initial: Any
    permuted: list[tuple[Any, np.ndarray]]
    epochs: int
    batch_size: int
    repeat: int
    seconds: float
    timings: dict[str, float] = field(default_factory=dict)
    source: str = ""

    def for_row(self, row: int) -> list[Any]:
        """The permuted references that did not train on held-out row ``row`` (one per split)."""
        found = [model for model, evaluate_on in self.permuted if evaluate_on[row]]
        if not found:
            raise RecsysCoreError(f"row {row} is in no half of the reference rows.")
        return found

    def describe(self) -> str:
        return (
            "initial weights (run seed); trained on label-permuted rows (the model's main effects "
            f"plus permuted residuals): {self.source}, {N_SPLITS} label draws, {self.epochs} "
            f"epochs of batch {self.batch_size}"
            + (f", rows repeated {self.repeat}x per epoch" if self.repeat > 1 else "")
        )


def _unique_rows(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of one row per distinct value of ``values`` (rows of a bag or block compared whole)
    and, per row, the position of its value among them."""
    flat = values.reshape(len(values), -1)
    _, first, inverse = np.unique(flat, axis=0, return_index=True, return_inverse=True)
    return first, inverse.reshape(-1)


def additive_part(
    score: Callable[[dict[str, np.ndarray]], np.ndarray],
    x: Mapping[str, Any],
    fields: Mapping[str, list[str]],
    n_anchors: int = N_ANCHORS,
    seed: int = 0,
) -> np.ndarray:
    """``(n,)`` the additive part a(x) = sum_f m_f(x_f) - (F - 1) mu of ``score`` on every row.

    ``score(x) -> (n,)`` scores an input dict; ``fields`` maps each field to the input keys it
    owns (substituted whole: a bag, the continuous block). m_f(v) is the mean score of
    ``n_anchors`` anchor rows of ``x`` with field f set to v, mu the anchors' mean score — the
    first-order functional-ANOVA terms with the anchors as the reference distribution. Each
    distinct value of a field is evaluated once (``n_anchors`` rows per distinct value). Whatever
    error the anchors leave is a function of one field at a time: a(x) is additive by construction.
    """
    x = {k: np.asarray(v) for k, v in x.items()}
    n = len(next(iter(x.values())))
    rng = np.random.default_rng(seed)
    anchors = rng.choice(n, size=min(n_anchors, n), replace=False)
    k = len(anchors)
    mu = float(np.mean(score({key: v[anchors] for key, v in x.items()})))
    total = np.zeros(n)
    for keys in fields.values():
        first, inverse = _unique_rows(np.concatenate([x[key].reshape(n, -1) for key in keys], 1))
        u = len(first)
        batch = {key: np.tile(v[anchors], (u,) + (1,) * (v.ndim - 1)) for key, v in x.items()}
        for key in keys:  # anchor rows (u blocks of k) with field f set to each distinct value
            batch[key] = np.repeat(x[key][first], k, axis=0)
        means = np.asarray(score(batch), np.float64).reshape(u, k).mean(axis=1)
        total += means[inverse]
    return total - (len(fields) - 1) * mu


def null_labels(
    task: str,
    additive: np.ndarray,
    scores: np.ndarray,
    labels: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Labels with the model's main effects and no interaction (module docstring): the additive
    part plus the permuted residuals (regression), or drawn from the additive logit (binary)."""
    additive = np.asarray(additive, np.float64)
    if task == "binary":
        p = 1.0 / (1.0 + np.exp(-additive))
        return (rng.random(len(p)) < p).astype(np.float32)
    residuals = np.asarray(labels, np.float64) - np.asarray(scores, np.float64)
    return (additive + rng.permutation(residuals)).astype(np.float32)


# model -> {key: ReferenceModels}: switching views on one run trains its references once.
_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _rows_key(rows: pd.DataFrame, target: str) -> tuple:
    values = rows[target].to_numpy() if target in rows else np.zeros(0)
    return (len(rows), hash(np.asarray(values, np.float64).tobytes()))


def reference_models(
    model: Any,
    preprocessor: Any,
    rows: pd.DataFrame,
    train: Any,
    training: pd.DataFrame | None = None,
    epochs: int | None = None,
    train_rows: int | None = None,
    seed: int = 0,
) -> ReferenceModels:
    """The ``initial`` and ``permuted`` references of ``model`` on the held-out ``rows``.

    ``train``: the run's ``TrainConfig`` (its seed rebuilds the initial weights; learning rate,
    schedule, weight decay and batch size train the permuted references). ``training``: the rows
    the run trained on, when they can be read again (MovieLens, a user's table still on disk):
    each permuted reference then trains on them (at most ``MAX_TRAIN_ROWS``, sampled) for
    ``epochs`` (the epochs the run's final model trained) and is evaluated on every held-out row,
    like the run. Without them, the held-out rows are halved and cross-fitted (module docstring);
    ``train_rows`` (how many rows the run trained on, default four times ``rows``) then sets how
    often a half's rows repeat per epoch. Cached on the model object, per rows and settings.
    """
    from recsys_core.analysis.native.cross import initial_model
    from recsys_core.training.engine import Trainer, predict_scores

    spec = preprocessor.spec
    if rows is None or len(rows) < 8:
        raise RecsysCoreError("a noise floor needs at least 8 held-out rows.")
    n = len(rows)
    train_rows = int(train_rows or 4 * n)
    epochs = max(1, min(int(epochs or train.epochs), MAX_EPOCHS))
    key = (
        _rows_key(rows, spec.target),
        None if training is None else len(training),
        int(train.seed),
        train_rows,
        epochs,
        int(seed),
    )
    cache = _CACHE.setdefault(model, {})
    if key in cache:
        return cache[key]
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    initial = initial_model(model, train.seed)
    timings["initial"] = time.perf_counter() - t0
    rng = np.random.default_rng(seed + 1)
    if training is not None and len(training) > MAX_TRAIN_ROWS:
        training = training.iloc[np.sort(rng.choice(len(training), MAX_TRAIN_ROWS, replace=False))]
    fit_rows = rows if training is None else training
    x = {k: np.asarray(v) for k, v in preprocessor.transform(fit_rows).items()}
    m = len(fit_rows)
    t1 = time.perf_counter()
    fields = {str(f): [str(f)] for f in model.field_names if str(f) in x}
    additive = additive_part(lambda b: predict_scores(model, b), x, fields, seed=seed)
    scores = predict_scores(model, x)
    timings["additive part"] = time.perf_counter() - t1
    target = preprocessor.target(fit_rows)
    if training is not None:  # like the run: its rows, its epochs, evaluated on held-out rows
        repeat, batch = 1, max(1, min(int(train.batch_size), m // MIN_STEPS_PER_EPOCH))
        source = f"the run's {m:,} training rows"
    else:
        # Regression: an epoch takes as many steps as one of the run's (the half's rows
        # repeated). Binary: each row once per epoch; repeated hard labels are memorised without
        # bound under a log loss (module docstring).
        repeat = 1
        if spec.task != "binary":
            repeat = int(np.clip(round(train_rows / (n // 2)), 1, MAX_REPEAT))
        batch = max(1, min(int(train.batch_size), (n // 2) * repeat // MIN_STEPS_PER_EPOCH))
        epochs = max(1, min(int(train.epochs), MAX_EPOCHS))
        source = f"halves of the {n:,} held-out rows, cross-fitted"
    config = dataclasses.replace(
        train, epochs=epochs, batch_size=batch, patience=0, distribution=None
    )
    permuted = []
    t1 = time.perf_counter()
    for _ in range(N_SPLITS):  # each: its own null labels (and halves of the held-out rows)
        labels = null_labels(spec.task, additive, scores, target, rng)
        if training is not None:
            folds = [np.ones(m, dtype=bool)]
        else:
            half = rng.permutation(n) < n // 2
            folds = [half, ~half]
        for fold in folds:
            reference = initial_model(model, train.seed)
            Trainer(reference, spec.task, config).fit(
                {k: np.concatenate([v[fold]] * repeat) for k, v in x.items()},
                np.concatenate([labels[fold]] * repeat),
            )
            evaluate_on = np.ones(n, dtype=bool) if training is not None else ~fold
            permuted.append((reference, evaluate_on))
    timings["permuted training"] = time.perf_counter() - t1
    refs = ReferenceModels(
        initial, permuted, epochs, batch, repeat, time.perf_counter() - t0, timings, source
    )
    cache[key] = refs
    return refs


# --------------------------------------------------------------------------- the floor of a map


def _values(result: Any, bound: str | None = None) -> np.ndarray:
    """|values| of a result, or its bootstrap ``bound`` ("lower"/"upper", sqrt scale) where it
    has one (TII)."""
    if bound and isinstance(result.extra.get(bound), list):
        return np.abs(np.array(result.extra[bound], dtype=float))
    return np.abs(np.asarray(result.values, dtype=float))


def _symmetric(values: np.ndarray) -> bool:
    diagonal = np.diag(values)
    return bool(np.isnan(diagonal).all() and np.allclose(values, values.T, equal_nan=True))


def count_noun(result: Any) -> tuple[str, np.ndarray]:
    """("pairs", mask of the upper triangle) for a symmetric map with an unused diagonal, else
    ("cells", every finite cell): directed maps (cross layers, attention) count each direction."""
    values = np.asarray(result.values, dtype=float)
    finite = np.isfinite(values)
    if _symmetric(values):
        return "pairs", finite & np.triu(np.ones_like(finite), k=1).astype(bool)
    return "cells", finite


def noise_floor(
    result: InteractionMatrix,
    references: Mapping[str, list[Any]],
    description: str = "",
    seconds: float | None = None,
) -> dict[str, Any]:
    """The ``extra["noise"]`` record of ``result`` given the same view of each reference
    (``{"initial": [matrix], "permuted": [matrix, matrix]}``): floor, marks and verdict."""
    statistic = "lower" if isinstance(result.extra.get("lower"), list) else None
    values = _values(result, statistic)
    maxima: dict[str, float] = {}
    per_cell: dict[str, list] = {}
    for name, maps in references.items():
        ref = [_values(m, "upper" if statistic else None) for m in maps]
        stacked = np.fmax.reduce(ref) if len(ref) > 1 else ref[0]
        per_cell[name] = json_values(stacked)
        finite = stacked[np.isfinite(stacked)]
        maxima[name] = float(finite.max()) if finite.size else 0.0
    floor = max(maxima.values()) if maxima else 0.0
    noun, counted = count_noun(result)
    above = np.isfinite(values) & (values > floor) & counted
    marks = above | above.T if noun == "pairs" else above  # a pair is marked in both its cells
    n_above, n_cells = int(above.sum()), int(counted.sum())
    unit = result.extra.get("unit")
    what = "the lower end of its bootstrap interval" if statistic else "its value"
    ref_what = "the upper ends of their bootstrap intervals" if statistic else "their values"
    return {
        "floor": floor,
        "unit": unit,
        "references": {
            name: {"max": maxima[name], "values": per_cell[name]} for name in references
        },
        "above": [[bool(v) for v in line] for line in marks],
        "n_above": n_above,
        "n_cells": n_cells,
        "noun": noun,
        "statistic": "lower bound" if statistic else "value",
        "rule": (
            f"a cell is above noise when {what} exceeds the largest cell of the references "
            f"({ref_what}): {description or ', '.join(references)}"
        ),
        "verdict": noise_verdict(n_above, n_cells, noun),
        **({"seconds": round(float(seconds), 3)} if seconds is not None else {}),
    }


def noise_verdict(n_above: int, n_cells: int, noun: str = "pairs") -> str:
    """The verdict: "3 of 21 pairs above noise", or "no interaction detectable above noise"."""
    if n_above == 0:
        return "no interaction detectable above noise"
    return f"{n_above} of {n_cells} {noun if n_cells != 1 else noun[:-1]} above noise"


def attach(result: Any, record: dict[str, Any]) -> Any:
    """``result`` with its noise ``record`` in ``extra["noise"]`` (the verdict settled with the
    run's health, see :func:`settle`)."""
    result.extra["noise"] = record
    return settle(result)


def settle(result: Any) -> Any:
    """Make the verdict of ``result`` say so when its run did not learn (``extra["health"]``,
    ``training.health.mark``): its cells are noise whatever the floor says. Idempotent."""
    noise = result.extra.get("noise") if isinstance(getattr(result, "extra", None), dict) else None
    if not isinstance(noise, dict):
        return result
    plain = noise_verdict(
        noise.get("n_above", 0), noise.get("n_cells", 0), noise.get("noun", "pairs")
    )
    health = result.extra.get("health")
    if isinstance(health, Mapping) and health.get("status") in ("did not learn", "diverged"):
        noise["verdict"] = (
            f"the model {health['status']}: no interaction can be read from this map "
            f"({plain.replace('no interaction detectable above noise', 'none above noise')})"
        )
    else:
        noise["verdict"] = plain
    return result


def verdict_line(result: Any) -> str | None:
    """The map's verdict line, or None where no floor was computed (weights-only views)."""
    noise = result.extra.get("noise") if isinstance(getattr(result, "extra", None), dict) else None
    return noise.get("verdict") if isinstance(noise, dict) else None


def above_mask(result: Any) -> np.ndarray | None:
    """``(F, F)`` booleans: the cells above the floor (None without a floor)."""
    noise = result.extra.get("noise") if isinstance(getattr(result, "extra", None), dict) else None
    if not isinstance(noise, dict) or not isinstance(noise.get("above"), list):
        return None
    return np.array(noise["above"], dtype=bool)


def has_floor(result: Any) -> bool:
    """Whether a view gets a noise floor: every matrix computed on data (not weights-only)."""
    return isinstance(result, InteractionMatrix) and result.kind != "weights-only"


def with_noise_floor(
    result: InteractionMatrix,
    refs: ReferenceModels,
    compute: Callable[[Any, np.ndarray | None], Any],
    row: int | None = None,
) -> InteractionMatrix:
    """``result`` with the floor of the same view of ``refs`` attached.

    ``compute(model, mask)`` computes the view for a reference model on the held-out rows selected
    by ``mask`` (None: all rows, or the one row of a per-row view, which ``compute`` knows).
    """
    t0 = time.perf_counter()
    if row is None:
        permuted = [compute(model, mask) for model, mask in refs.permuted]
    else:
        permuted = [compute(model, None) for model in refs.for_row(row)]
    references = {"initial": [compute(refs.initial, None)], "permuted": permuted}
    record = noise_floor(result, references, refs.describe(), seconds=time.perf_counter() - t0)
    record["reference_seconds"] = round(refs.seconds, 3)  # once per run (cached), not per map
    return attach(result, record)


REFERENCE_LABELS = {
    "initial": "the architecture at its initial weights (rebuilt from the run's seed)",
    "permuted": "the architecture trained like the run on label-permuted held-out rows "
    "(main effects kept, residuals permuted), evaluated on the half it did not train on",
}


def noise_summary(result: Any) -> str:
    """The verdict with the floor it was judged against, e.g. "3 of 55 pairs above noise (noise
    floor 0.121 rating, lower bound vs references)"; empty without a floor."""
    verdict = verdict_line(result)
    if not verdict:
        return ""
    noise = result.extra["noise"]
    unit = f" {noise['unit']}" if noise.get("unit") else ""
    return (
        f"{verdict[:1].upper()}{verdict[1:]} (noise floor {noise['floor']:.3g}{unit}; a cell "
        f"counts when its {noise.get('statistic', 'value')} exceeds it)"
    )


def noise_references(result: Any) -> pd.DataFrame:
    """One row per reference: what it is and its largest cell (the floor is the largest)."""
    noise = result.extra.get("noise") or {}
    refs = noise.get("references") or {}
    return pd.DataFrame(
        {
            "reference": list(refs),
            "what": [REFERENCE_LABELS.get(name, name) for name in refs],
            "largest cell": [float(r.get("max", float("nan"))) for r in refs.values()],
        }
    )
