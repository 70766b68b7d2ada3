"""Two runs' matrices on the same axes, and their difference."""

from __future__ import annotations

import dataclasses

import numpy as np

from recsys_core.analysis.matrix import InteractionMatrix
from recsys_core.errors import RecsysCoreError


def on_common_fields(
    a: InteractionMatrix, b: InteractionMatrix
) -> tuple[InteractionMatrix, InteractionMatrix]:
    """``a`` and ``b`` restricted to the fields they share, both in ``a``'s order."""
    common = [f for f in a.fields if f in b.fields]
    if len(common) < 2:
        raise RecsysCoreError(
            f"the two matrices share fewer than two fields ({common}); nothing to compare."
        )

    def restrict(m: InteractionMatrix) -> InteractionMatrix:
        idx = np.array([m.fields.index(f) for f in common])
        # the noise floor's marks and verdict hold for the map's own axes only (analysis.noise)
        same = list(common) == list(m.fields)
        return dataclasses.replace(
            m,
            values=m.values[np.ix_(idx, idx)],
            fields=list(common),
            groups={f: m.group_of(f) for f in common},
            extra={
                k: v
                for k, v in m.extra.items()
                if not isinstance(v, list) and (same or k != "noise")
            },
        )

    return restrict(a), restrict(b)


def difference(a: InteractionMatrix, b: InteractionMatrix) -> InteractionMatrix:
    """``b - a`` cell by cell on the fields both share (signed; NaN where either is NaN)."""
    a, b = on_common_fields(a, b)
    if a.method != b.method or a.title != b.title:
        note = f" Different views ({a.title} vs {b.title}): compare their shapes, not their units."
    else:
        note = ""
    return InteractionMatrix(
        values=b.values - a.values,
        fields=list(a.fields),
        method=a.method,
        title=f"Difference: {b.extra.get('run_id', 'B')} − {a.extra.get('run_id', 'A')}",
        description=f"Cell by cell, the second run's value minus the first's ({a.title}); "
        f"positive where the second run interacts more.{note}",
        kind=a.kind if a.kind == b.kind else "approximation",
        n_rows=min(a.n_rows, b.n_rows),
        signed=True,
        groups=dict(a.groups),
        # a difference with a run that did not learn (training.health) is noise too, and says so
        extra={k: v for m in (b, a) for k, v in m.extra.items() if k == "health"},
    )
