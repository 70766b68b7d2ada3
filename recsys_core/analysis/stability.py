"""How much an interaction map moves between runs: rank agreement of pairs, and stability across seeds.

Two questions an analyst asks of several maps of one method:

* **Do the runs rank the pairs alike?** :func:`rank_agreement` is Spearman's rank correlation
  (Spearman 1904) of the pair values of every two maps: the Pearson correlation of their ranks,
  ties given their average rank. It needs no common unit, only common pairs. The pairs are the
  upper triangle (``i < j``) of a symmetric map and every off-diagonal cell of a directed one; a
  pair missing (NaN) in either map is left out of that comparison.

* **Which cells are stable across seeds?** For runs of one configuration that differ only in their
  seed (``recsys-core train --trials N``), :func:`seed_stability` gives every cell's mean and
  standard deviation across the seeds and marks the unstable ones by :data:`UNSTABLE_RULE`.

C. Spearman (1904), "The proof and measurement of association between two things", American
Journal of Psychology 15(1), 72-101.
"""

from __future__ import annotations

import csv
import io
import json
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from recsys_core.analysis.matrix import InteractionMatrix, json_values, spreadsheet_text
from recsys_core.errors import RecsysCoreError

CV_LIMIT = 0.5  # std above half the mean's magnitude: the seeds disagree on the cell's size
WEAK_SHARE = 0.05  # under 5 % of the strongest mean in every seed: weak, not unstable
UNSTABLE_RULE = (
    "a cell is unstable when its standard deviation across seeds exceeds half the magnitude of its "
    f"mean (coefficient of variation above {CV_LIMIT:g}) or its sign differs between seeds; a cell "
    f"under {WEAK_SHARE:.0%} of the map's strongest mean magnitude in every seed is weak in all of "
    "them and never marked. Standard deviation over the seeds with ddof=0, as the trials' metric "
    "summary"
)


def _is_symmetric(values: np.ndarray) -> bool:
    return bool(np.allclose(values, values.T, equal_nan=True))


def pair_values(matrix: InteractionMatrix) -> np.ndarray:
    """The map's pair values in a fixed order: the upper triangle of a symmetric map (each pair
    once), every off-diagonal cell of a directed one (row -> column and column -> row differ)."""
    values = np.asarray(matrix.values, dtype=float)
    n = values.shape[0]
    if _is_symmetric(values):
        i, j = np.triu_indices(n, k=1)
    else:
        i, j = np.nonzero(~np.eye(n, dtype=bool))
    return values[i, j]


def average_ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n of ``x``; tied values share the mean of the ranks they span (Spearman's ties)."""
    x = np.asarray(x, dtype=float)
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x), dtype=float)
    sorted_x = x[order]
    # each run of equal values [start, stop) gets the mean of ranks start+1 .. stop
    starts = np.flatnonzero(np.r_[True, sorted_x[1:] != sorted_x[:-1]])
    stops = np.r_[starts[1:], len(x)]
    for start, stop in zip(starts, stops, strict=True):
        ranks[order[start:stop]] = (start + 1 + stop) / 2.0
    return ranks


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rank correlation of ``x`` and ``y`` (Spearman 1904) over the positions where
    both are finite: the Pearson correlation of their average ranks. NaN with fewer than three
    such positions, or when either side is constant (no order to agree on)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.shape != y.shape:
        raise RecsysCoreError(f"spearman needs two sequences of one length, got {x.shape} and {y.shape}.")  # fmt: skip
    keep = np.isfinite(x) & np.isfinite(y)
    if keep.sum() < 3:
        return float("nan")
    rx, ry = average_ranks(x[keep]), average_ranks(y[keep])
    rx, ry = rx - rx.mean(), ry - ry.mean()
    denom = float(np.sqrt((rx**2).sum() * (ry**2).sum()))
    return float("nan") if denom == 0 else float((rx * ry).sum() / denom)


def _check_same_fields(matrices: Sequence[InteractionMatrix], names: Sequence[str]) -> None:
    if len(matrices) != len(names):
        raise RecsysCoreError(f"{len(names)} names for {len(matrices)} maps.")
    if len(matrices) < 2:
        raise RecsysCoreError(f"comparing maps needs at least two of them, got {len(matrices)}.")
    first = list(matrices[0].fields)
    for name, m in zip(names, matrices, strict=True):
        if list(m.fields) != first:
            raise RecsysCoreError(
                f"map of {name} has other fields than the first map; match them by name first "
                "(analysis.compare.match_fields)."
            )


def _table_csv(rows: list[list[Any]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


@dataclass
class RankAgreement:
    """Pairwise Spearman rank correlation of the maps' pair values; ``rho[i, j]`` for runs i, j."""

    names: list[str]
    rho: np.ndarray
    n_pairs: np.ndarray  # how many pairs each correlation is over (finite in both maps)

    @property
    def mean(self) -> float:
        """The mean of the correlations of every two different runs (NaN ones left out)."""
        iu = np.triu_indices(len(self.names), k=1)
        values = self.rho[iu]
        values = values[np.isfinite(values)]
        return float(values.mean()) if values.size else float("nan")

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rho, index=self.names, columns=self.names)

    def to_csv(self) -> str:
        names = [spreadsheet_text(n) for n in self.names]
        table = pd.DataFrame(self.rho, index=names, columns=names).to_csv(index_label="run")
        return table + _table_csv(
            [
                ["# values", "Spearman rank correlation (Spearman 1904) of the runs' pair values"],
                ["# mean of every two different runs", self.mean],
            ]
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "statistic": "Spearman rank correlation of pair values (Spearman 1904)",
            "runs": list(self.names),
            "rho": json_values(self.rho),
            "n_pairs": self.n_pairs.astype(int).tolist(),
            "mean": None if np.isnan(self.mean) else self.mean,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1)


def rank_agreement(matrices: Sequence[InteractionMatrix], names: Sequence[str]) -> RankAgreement:
    """Spearman's rank correlation of the pair values (:func:`pair_values`) of every two of
    ``matrices``, which must have the same fields in the same order."""
    _check_same_fields(matrices, names)
    pairs = [pair_values(m) for m in matrices]
    if len({p.size for p in pairs}) > 1:  # one map symmetric, another directed: use all cells
        pairs = [m.values[~np.eye(len(m.fields), dtype=bool)] for m in matrices]
    r = len(matrices)
    rho, count = np.eye(r), np.zeros((r, r))
    for i in range(r):
        count[i, i] = np.isfinite(pairs[i]).sum()
        for j in range(i + 1, r):
            rho[i, j] = rho[j, i] = spearman(pairs[i], pairs[j])
            count[i, j] = count[j, i] = (np.isfinite(pairs[i]) & np.isfinite(pairs[j])).sum()
    return RankAgreement(list(names), rho, count)


@dataclass
class Stability:
    """Every cell's mean and standard deviation across seeds of one configuration, and its mark.

    ``unstable[i, j]`` follows :data:`UNSTABLE_RULE`; ``sign_flip[i, j]`` says a cell is positive
    in one seed and negative in another. ``agreement`` ranks the seeds' pairs against each other.
    """

    names: list[str]
    fields: list[str]
    mean: np.ndarray
    std: np.ndarray
    low: np.ndarray
    high: np.ndarray
    unstable: np.ndarray
    sign_flip: np.ndarray
    agreement: RankAgreement
    template: InteractionMatrix  # the first seed's map: method, kind, groups, unit
    rule: str = UNSTABLE_RULE
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def unit(self) -> str:
        return str(self.template.extra.get("unit") or "")

    @property
    def quantity(self) -> str:
        return str(self.template.extra.get("quantity") or self.template.title)

    def cells(self) -> list[tuple[int, int]]:
        """The cells a reader judges: each pair once for a symmetric map, else every cell."""
        n = len(self.fields)
        if _is_symmetric(self.mean):
            return list(zip(*np.triu_indices(n, k=1), strict=True))
        return [(i, j) for i in range(n) for j in range(n) if i != j]

    def unstable_cells(self) -> list[tuple[str, str]]:
        """The unstable cells as (row field, column field), each pair once for a symmetric map."""
        return [(self.fields[i], self.fields[j]) for i, j in self.cells() if self.unstable[i, j]]

    def summary(self) -> str:
        """One line: how many seeds, how many cells unstable, how alike the seeds rank the pairs."""
        cells = self.cells()
        n_bad = sum(bool(self.unstable[i, j]) for i, j in cells)
        noun = "pairs" if _is_symmetric(self.mean) else "cells"
        rho = self.agreement.mean
        agree = f"mean Spearman rank agreement of the seeds {rho:.2f}" if np.isfinite(rho) else (
            "rank agreement undefined (too few pairs)"
        )  # fmt: skip
        return f"{len(self.names)} seeds: {n_bad} of {len(cells)} {noun} unstable; {agree}."

    def as_matrix(self) -> InteractionMatrix:
        """The mean map, with std, range and marks in ``extra`` (they follow ``ordered``)."""
        t = self.template
        unit = f", {self.unit}" if self.unit else ""
        return InteractionMatrix(
            values=self.mean,
            fields=list(self.fields),
            method=t.method,
            title=f"Mean over {len(self.names)} seeds: {self.quantity}",
            description=(
                f"Each cell is the mean of {t.title} over the seeds {', '.join(self.names)} "
                f"(runs of one configuration apart from the seed); crossed cells are unstable: "
                f"{self.rule}."
            ),
            kind=t.kind,
            n_rows=t.n_rows,
            signed=t.signed or bool(self.sign_flip.any()),
            groups=dict(t.groups),
            extra={
                "quantity": f"mean of {self.quantity}",
                **({"unit": self.unit} if self.unit else {}),
                "std": json_values(self.std),
                "low": json_values(self.low),
                "high": json_values(self.high),
                "unstable": self.unstable.astype(bool).tolist(),
                "sign_flip": self.sign_flip.astype(bool).tolist(),
                "seeds": list(self.names),
                "rule": self.rule,
                "scales": {
                    "matrix": f"mean over seeds of {self.quantity}{unit}",
                    "std": f"standard deviation over seeds (ddof=0){unit}",
                    "low": f"smallest value over seeds{unit}",
                    "high": f"largest value over seeds{unit}",
                },
                **({"health": t.extra["health"]} if "health" in t.extra else {}),
            },
        )

    def to_frame(self) -> pd.DataFrame:
        """One row per judged cell: its fields, mean, std, range and marks."""
        rows = [
            {
                "field_i": self.fields[i],
                "field_j": self.fields[j],
                "mean": self.mean[i, j],
                "std": self.std[i, j],
                "min": self.low[i, j],
                "max": self.high[i, j],
                "sign_flip": bool(self.sign_flip[i, j]),
                "unstable": bool(self.unstable[i, j]),
            }
            for i, j in self.cells()
        ]
        return pd.DataFrame(rows)

    def to_csv(self) -> str:
        frame = self.to_frame()
        for col in ("field_i", "field_j"):
            frame[col] = frame[col].map(spreadsheet_text)
        unit = f", {self.unit}" if self.unit else ""
        return frame.to_csv(index=False) + _table_csv(
            [
                [
                    "# values",
                    f"{self.quantity}{unit}: mean and std over the seeds {', '.join(self.names)}",
                ],  # fmt: skip
                ["# unstable", self.rule],
                ["# summary", self.summary()],
            ]
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "seeds": list(self.names),
            "fields": list(self.fields),
            "quantity": self.quantity,
            "unit": self.unit,
            "mean": json_values(self.mean),
            "std": json_values(self.std),
            "min": json_values(self.low),
            "max": json_values(self.high),
            "unstable": self.unstable.astype(bool).tolist(),
            "sign_flip": self.sign_flip.astype(bool).tolist(),
            "rule": self.rule,
            "summary": self.summary(),
            "agreement": self.agreement.to_dict(),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1)


def seed_stability(matrices: Sequence[InteractionMatrix], names: Sequence[str]) -> Stability:
    """Mean, std and the unstable marks (:data:`UNSTABLE_RULE`) of maps of one method from runs
    that differ only in their seed, which must share fields in one order; ``names`` name the runs."""
    _check_same_fields(matrices, names)
    stack = np.stack([np.asarray(m.values, dtype=float) for m in matrices])
    with warnings.catch_warnings():  # cells NaN in every seed (a diagonal) stay NaN, silently
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(stack, axis=0)
        std = np.nanstd(stack, axis=0)
        low = np.nanmin(stack, axis=0)
        high = np.nanmax(stack, axis=0)
    finite = np.isfinite(mean)
    scale = float(np.abs(mean[finite]).max()) if finite.any() else 0.0
    flip = finite & (low < 0) & (high > 0)
    judged = finite & (np.maximum(np.abs(low), np.abs(high)) >= WEAK_SHARE * scale) & (scale > 0)
    unstable = judged & ((std > CV_LIMIT * np.abs(mean)) | flip)
    return Stability(
        names=list(names),
        fields=list(matrices[0].fields),
        mean=mean,
        std=std,
        low=low,
        high=high,
        unstable=unstable,
        sign_flip=flip,
        agreement=rank_agreement(matrices, names),
        template=matrices[0],
    )
