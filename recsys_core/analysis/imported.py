"""TII and Archipelago of an imported run (``runs.imported``): the model's own named inputs, or the
groups of them the user named, are the fields; the score is the model's output as a rating or a
logit (a probability output analysed as a clipped logit, and every map says so)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from recsys_core.analysis.matrix import InteractionMatrix
from recsys_core.analysis.tii import interval_extra, nested, tii_from_inputs
from recsys_core.errors import RecsysCoreError
from recsys_core.models.pure import model_params
from recsys_core.runs.imported import score_of, space_words


def _source(run: Any) -> dict[str, Any]:
    return dict(run.meta["source"])


def _fields(run: Any) -> dict[str, list[str]]:
    return {str(f): [str(k) for k in keys] for f, keys in _source(run)["fields"].items()}


def _unit(output: str) -> str:
    return "rating" if output == "rating" else "logit"


def _common_extra(run: Any, output: str) -> dict[str, Any]:
    return {
        "fields": "imported",
        "inputs_of": _fields(run),
        "output": output,
        "space": "rating" if output == "rating" else "logit",
        "space_note": space_words(output),
        "unit": _unit(output),
    }


def imported_tii(
    run: Any,
    rows: pd.DataFrame,
    n_rows: int = 2000,
    seed: int = 0,
    n_boot: int = 200,
    confidence: float = 0.95,
) -> InteractionMatrix:
    """sqrt(TII) of every pair of the imported run's fields over (at most ``n_rows`` of) ``rows``."""
    if rows is None or len(rows) < 2:
        raise RecsysCoreError("the interaction index needs at least 2 rows to pair up.")
    rng = np.random.default_rng(seed)
    if len(rows) > n_rows:
        rows = rows.iloc[np.sort(rng.choice(len(rows), n_rows, replace=False))]
    model, inputs = run.model, run.preprocessor
    output = _source(run)["output"]
    x = inputs.transform(rows)
    groups = _fields(run)
    est = tii_from_inputs(
        score_of(model, inputs, output),
        x,
        groups,
        seed=seed,
        n_boot=n_boot,
        confidence=confidence,
        params=model_params(model),
        owner=model,
    )
    unit = _unit(output)
    pct = int(round(confidence * 100))
    return InteractionMatrix(
        values=np.sqrt(est.tii),
        fields=est.fields,
        method="tii",
        title="Total interaction index: sqrt(TII)",
        description=(
            "Model-agnostic total interaction index, sqrt(1/4 E[(z(x) - z(x^i) - z(x^j) + "
            f"z(x^ij))^2]) with fields swapped in from another row, over {est.n_rows:,} rows "
            f"given at import, in {unit} units; {space_words(output)}; fields: the model's "
            f"inputs{' and the groups named at import' if any(len(v) > 1 for v in groups.values()) else ''}; "
            f"{pct}% bootstrap interval in extra."
        ),
        kind="approximation",
        n_rows=est.n_rows,
        signed=False,
        extra={
            **interval_extra(est, unit, confidence, n_boot, seed),
            **_common_extra(run, output),
        },
    )


def _central_row(x: dict[str, np.ndarray], exclude: int) -> int:
    """The row closest to all others on the inputs' standardised values (a medoid by L1 distance to
    the column medians; the explained row itself excluded)."""
    n = len(next(iter(x.values())))
    cost = np.zeros(n)
    for v in x.values():
        flat = np.asarray(v, dtype=np.float64).reshape(n, -1)
        scale = flat.std(axis=0)
        scale[scale == 0] = 1.0
        cost += (np.abs(flat - np.median(flat, axis=0)) / scale).sum(axis=1)
    cost[exclude] = np.inf
    return int(np.argmin(cost))


def imported_archipelago(run: Any, rows: pd.DataFrame, index: int) -> InteractionMatrix:
    """ArchDetect pair strengths of held-out row ``index`` against the most central held-out row."""
    from recsys_core.analysis.archipelago import archdetect_from_inputs

    if len(rows) < 2:
        raise RecsysCoreError("Archipelago needs at least 2 rows: one to explain, one as baseline.")
    model, inputs = run.model, run.preprocessor
    output = _source(run)["output"]
    xs = inputs.transform(rows)
    base = _central_row(xs, index)
    x = {k: v[[index]] for k, v in xs.items()}
    xb = {k: v[[base]] for k, v in xs.items()}
    names, strength, signed = archdetect_from_inputs(
        score_of(model, inputs, output),
        x,
        xb,
        _fields(run),
        params=model_params(model),
        owner=model,
    )
    unit = _unit(output)
    return InteractionMatrix(
        values=strength,
        fields=names,
        method="archipelago",
        title="Archipelago (ArchDetect) pair strength for one row",
        description=(
            "ArchDetect mixed difference of each field pair for one row against the most central "
            f"row given at import, sqrt(1/4 mean over the two contexts of Delta^2), in {unit} "
            f"units; {space_words(output)}."
        ),
        kind="approximation",
        n_rows=1,
        signed=False,
        extra={
            **_common_extra(run, output),
            "baseline": f"most central of {len(rows):,} rows (row {base})",
            "signed_values": nested(signed),
            "quantity": "ArchDetect strength sqrt(mean Delta^2 / 4)",
            "scales": {
                "matrix": f"sqrt(1/4 mean_c Delta^2), {unit}",
                "signed_values": f"1/2 mean_c Delta, {unit}, signed",
            },
        },
    )
