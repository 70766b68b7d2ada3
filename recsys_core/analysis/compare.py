"""Runs' matrices on the same axes: fields matched by name, the runs checked to be comparable,
their difference, and how alike they rank the pairs (``analysis.stability``)."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from recsys_core.analysis.matrix import InteractionMatrix, spreadsheet_text
from recsys_core.analysis.stability import RankAgreement, Stability, rank_agreement, seed_stability
from recsys_core.errors import RecsysCoreError

MIN_RUNS, MAX_RUNS = 2, 6  # more than six maps side by side cannot be read cell by cell


def restrict(m: InteractionMatrix, fields: Sequence[str]) -> InteractionMatrix:
    """``m`` on ``fields`` (each one of its fields), in that order."""
    idx = np.array([m.fields.index(f) for f in fields])
    # the noise floor's marks and verdict hold for the map's own axes only (analysis.noise)
    same = list(fields) == list(m.fields)
    return dataclasses.replace(
        m,
        values=m.values[np.ix_(idx, idx)],
        fields=list(fields),
        groups={f: m.group_of(f) for f in fields},
        extra={
            k: v for k, v in m.extra.items() if not isinstance(v, list) and (same or k != "noise")
        },
    )


def on_common_fields(
    a: InteractionMatrix, b: InteractionMatrix
) -> tuple[InteractionMatrix, InteractionMatrix]:
    """``a`` and ``b`` restricted to the fields they share, both in ``a``'s order."""
    common = [f for f in a.fields if f in b.fields]
    if len(common) < 2:
        raise RecsysCoreError(
            f"the two matrices share fewer than two fields ({common}); nothing to compare."
        )
    return restrict(a, common), restrict(b, common)


@dataclass
class FieldMatch:
    """Fields matched by name: those every run has (in the first run's order), and per run the
    ones left out because some other run lacks them."""

    common: list[str]
    unmatched: dict[str, list[str]]

    @property
    def complete(self) -> bool:
        return not any(self.unmatched.values())


def match_fields(matrices: Sequence[InteractionMatrix], names: Sequence[str]) -> FieldMatch:
    """Match the maps' fields by name; a clear error when fewer than two are common to all."""
    if len(matrices) != len(names):
        raise RecsysCoreError(f"{len(names)} names for {len(matrices)} maps.")
    common = [f for f in matrices[0].fields if all(f in m.fields for m in matrices[1:])]
    unmatched = {n: [f for f in m.fields if f not in common] for n, m in zip(names, matrices, strict=True)}  # fmt: skip
    if len(common) < 2:
        raise RecsysCoreError(
            f"the runs share fewer than two fields by name ({', '.join(common) or 'none'}); "
            "their maps have no common pairs to compare."
        )
    return FieldMatch(common, unmatched)


@dataclass(frozen=True)
class RunFacts:
    """What decides whether two runs' maps can share one scale: data set, task, score unit."""

    run_id: str
    dataset: str
    task: str
    unit: str  # analysis.units.score_unit of the run's spec: logit, rating, "<target> units"


def _differ(facts: Sequence[RunFacts], attr: str) -> str | None:
    values = [getattr(f, attr) for f in facts]
    if len(set(values)) < 2:
        return None
    return ", ".join(f"{f.run_id}: {getattr(f, attr)}" for f in facts)


def comparability(facts: Sequence[RunFacts]) -> list[str]:
    """Refuse runs whose maps do not share a unit, warn of runs on different data.

    A different task or score unit (a rating against a logit) is a :class:`RecsysCoreError`: one
    colour scale, a difference or a mean over such maps adds different quantities. A different
    data set is a warning returned as a line: fields with one name may mean other things there.
    """
    if not MIN_RUNS <= len(facts) <= MAX_RUNS:
        raise RecsysCoreError(f"compare {MIN_RUNS} to {MAX_RUNS} runs, got {len(facts)}.")
    for attr, what in (("task", "task"), ("unit", "units")):
        shown = _differ(facts, attr)
        if shown:
            raise RecsysCoreError(
                f"These runs differ in {what} ({shown}): their maps measure different quantities "
                "and cannot share one scale. Compare runs of one task and target."
            )
    shown = _differ(facts, "dataset")
    if shown:
        return [
            f"These runs were trained on different data sets ({shown}): fields of one name may "
            "hold other values there, so read the maps side by side with care."
        ]
    return []


def difference(a: InteractionMatrix, b: InteractionMatrix) -> InteractionMatrix:
    """``b - a`` cell by cell on the fields both share (signed; NaN where either is NaN)."""
    a, b = on_common_fields(a, b)
    if a.method != b.method or a.title != b.title:
        note = f" Different views ({a.title} vs {b.title}): compare their shapes, not their units."
    else:
        note = ""
    unit = a.extra.get("unit")
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
        extra={
            **{k: v for m in (b, a) for k, v in m.extra.items() if k == "health"},
            **(
                {"quantity": f"difference of {a.extra.get('quantity', a.title)}", "unit": unit}
                if unit
                else {}
            ),  # fmt: skip
        },
    )


@dataclass
class Comparison:
    """Two to six runs' maps of one method on their common fields, one colour scale, and what
    follows from them: the difference (two runs), rank agreement, and stability across seeds
    (when the runs are seeds of one configuration)."""

    names: list[str]
    maps: list[InteractionMatrix]
    match: FieldMatch
    warnings: list[str]
    agreement: RankAgreement
    difference: InteractionMatrix | None = None
    stability: Stability | None = None

    @property
    def unit(self) -> str:
        return str(self.maps[0].extra.get("unit") or "")

    def to_csv(self) -> str:
        """Every run's map in long form (run, field_i, field_j, value), then ``#`` lines with the
        values' unit and each run's fields left out of the comparison."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["run", "field_i", "field_j", "value"])
        for name, m in zip(self.names, self.maps, strict=True):
            for i, a in enumerate(m.fields):
                for j, b in enumerate(m.fields):
                    value = m.values[i, j]
                    writer.writerow([spreadsheet_text(name), spreadsheet_text(a), spreadsheet_text(b),
                                     "" if np.isnan(value) else repr(float(value))])  # fmt: skip
        quantity = self.maps[0].extra.get("quantity") or self.maps[0].title
        writer.writerow(["# values", f"{quantity}, {self.unit}" if self.unit else quantity])
        for name, left in self.match.unmatched.items():
            if left:
                writer.writerow([f"# fields of {spreadsheet_text(name)} not in every run",
                                 "; ".join(spreadsheet_text(f) for f in left)])  # fmt: skip
        return out.getvalue()

    def to_dict(self) -> dict[str, Any]:
        return {
            "runs": list(self.names),
            "fields": list(self.match.common),
            "unmatched": {k: list(v) for k, v in self.match.unmatched.items()},
            "warnings": list(self.warnings),
            "maps": [m.to_dict() for m in self.maps],
            "agreement": self.agreement.to_dict(),
            **({"stability": self.stability.to_dict()} if self.stability else {}),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1)


def compare_maps(
    matrices: Sequence[InteractionMatrix],
    names: Sequence[str],
    facts: Sequence[RunFacts] | None = None,
    order: str = "group",
    seeds: bool = False,
) -> Comparison:
    """Compare 2 to 6 maps of one method (``names``: their runs): fields matched by name, the
    first map's ``order`` for all, ``facts`` checked (:func:`comparability`), rank agreement of
    pairs, the difference of two maps, and with ``seeds`` (runs of one configuration apart from
    the seed) the stability of every cell."""
    if not MIN_RUNS <= len(matrices) <= MAX_RUNS:
        raise RecsysCoreError(f"compare {MIN_RUNS} to {MAX_RUNS} runs, got {len(matrices)}.")
    if len(set(names)) != len(names):
        raise RecsysCoreError(f"a run is named twice among {', '.join(names)}.")
    warnings = comparability(facts) if facts is not None else []
    units = {str(m.extra.get("unit") or "") for m in matrices}
    if len(units) > 1:  # the maps themselves say so (a native view of another kind)
        raise RecsysCoreError(
            f"These maps are in different units ({', '.join(sorted(units))}) and cannot share "
            "one scale."
        )
    first = matrices[0].ordered(order)
    match = match_fields([first, *matrices[1:]], names)
    maps = [restrict(m, match.common) for m in (first, *matrices[1:])]
    return Comparison(
        names=list(names),
        maps=maps,
        match=match,
        warnings=warnings,
        agreement=rank_agreement(maps, names),
        difference=difference(maps[0], maps[1]) if len(maps) == 2 else None,
        stability=seed_stability(maps, names) if seeds else None,
    )
