"""Fit-on-train preprocessing: vocabularies with an out-of-vocabulary index, normalisation, time features."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from recsys_core.errors import DataError
from recsys_core.features.spec import CONTINUOUS_FIELD, FeatureSpec

SECONDS_PER_HOUR = 3600.0


def _hour_features(ts: pd.Series) -> dict[str, np.ndarray]:
    hours = ts.to_numpy(dtype="float64") / SECONDS_PER_HOUR
    day, week = 2 * np.pi * (hours % 24.0) / 24.0, 2 * np.pi * (hours % 168.0) / 168.0
    return {
        "hour_of_day_sin": np.sin(day),
        "hour_of_day_cos": np.cos(day),
        "hour_of_week_sin": np.sin(week),
        "hour_of_week_cos": np.cos(week),
    }


# Continuous columns computed from another column when the table lacks them (keras-rs DLRM tutorial).
DERIVED = dict.fromkeys(_hour_features(pd.Series([0])), "timestamp")


def _as_key(values: pd.Series) -> np.ndarray:
    """Categorical values as strings, so ints, bools and strings share one vocabulary format."""
    return values.astype(str).to_numpy()


class Preprocessor:
    """Turns a table into model inputs: ``{field: int32 ids}`` plus ``{"continuous": float32 (n, c)}``.

    Categorical ids: 0 is the out-of-vocabulary row (never seen in training, so never trained).
    Multi-hot ids: 0 pads a bag, 1 is out-of-vocabulary, known values start at 2. Continuous columns
    are standardised with the training mean and standard deviation.
    """

    def __init__(self, spec: FeatureSpec) -> None:
        self.spec = spec
        self.vocabularies: dict[str, list[str]] = {}
        self.bag_sizes: dict[str, int] = {}
        self.mean: list[float] = []
        self.std: list[float] = []
        self.target_mean: float = 0.0
        # regression: [min, max] of the training target (predicted ratings are clipped to it)
        self.target_range: list[float] | None = None
        self._index: dict[str, dict[str, int]] = {}

    @property
    def fitted(self) -> bool:
        return bool(self.vocabularies) or not self.spec.sparse_fields

    def _check_columns(self, df: pd.DataFrame, need_target: bool) -> None:
        if len(df) == 0:
            raise DataError("the table is empty: there are no rows to preprocess.")
        need = [*self.spec.sparse_fields]
        need += [
            c for c in self.spec.continuous if c not in DERIVED or DERIVED[c] not in df.columns
        ]
        need += [DERIVED[c] for c in self.spec.continuous if c in DERIVED and c not in df.columns]
        if need_target:
            need.append(self.spec.target)
        missing = sorted({c for c in need if c not in df.columns})
        if missing:
            raise DataError(f"the table lacks columns {missing}; it has {list(df.columns)}.")
        for col in self.spec.categorical:
            if df[col].isna().any():
                raise DataError(
                    f"column {col!r} has {int(df[col].isna().sum())} missing values (NaN)."
                )

    def _continuous_frame(self, df: pd.DataFrame) -> np.ndarray:
        derived: dict[str, np.ndarray] = {}
        cols = []
        for name in self.spec.continuous:
            if name in df.columns:
                values = pd.to_numeric(df[name], errors="coerce").to_numpy(dtype="float64")
                if np.isnan(values).sum() > df[name].isna().sum():
                    raise DataError(f"continuous column {name!r} holds non-numeric values.")
            else:
                if not derived:
                    derived = _hour_features(df[DERIVED[name]])
                values = derived[name]
            if not np.isfinite(values).all():
                bad = int((~np.isfinite(values)).sum())
                raise DataError(f"continuous column {name!r} has {bad} NaN or infinite values.")
            cols.append(values)
        return np.stack(cols, axis=1) if cols else np.zeros((len(df), 0))

    def fit(self, df: pd.DataFrame) -> Preprocessor:
        """Learn vocabularies, bag sizes and normalisation from the training rows only."""
        self._check_columns(df, need_target=True)
        for col in self.spec.categorical:
            self.vocabularies[col] = sorted(set(_as_key(df[col])))
        for col in self.spec.multi_hot:
            bags = df[col].map(lambda b: [] if b is None else [str(v) for v in b])
            self.vocabularies[col] = sorted({v for bag in bags for v in bag})
            self.bag_sizes[col] = max(1, int(bags.map(len).max()))
        if self.spec.continuous:
            cont = self._continuous_frame(df)
            self.mean = cont.mean(axis=0).tolist()
            self.std = np.where(cont.std(axis=0) > 0, cont.std(axis=0), 1.0).tolist()
        y = self.target(df)
        self.target_mean = float(np.mean(y))
        self.target_range = (
            [float(y.min()), float(y.max())] if self.spec.task == "regression" else None
        )
        self._index = {}
        return self

    def _lookup(self, col: str) -> dict[str, int]:
        if col not in self._index:
            offset = 2 if col in self.spec.multi_hot else 1
            self._index[col] = {v: i + offset for i, v in enumerate(self.vocabularies[col])}
        return self._index[col]

    def vocab_size(self, col: str) -> int:
        """Embedding rows for a field: the known values plus out-of-vocabulary (and padding)."""
        return len(self.vocabularies[col]) + (2 if col in self.spec.multi_hot else 1)

    def tables(self) -> list[dict[str, Any]]:
        return [{"name": c, "vocab_size": self.vocab_size(c)} for c in self.spec.sparse_fields]

    def transform(self, df: pd.DataFrame, on_unseen: str = "oov") -> dict[str, np.ndarray]:
        """Model inputs for ``df``. Unseen categories map to the OOV id, or raise with ``on_unseen="error"``."""
        if not self.fitted:
            raise DataError(
                "the preprocessor is not fitted yet: call fit() on the training rows first."
            )
        if on_unseen not in ("oov", "error"):
            raise DataError(f"on_unseen must be 'oov' or 'error', got {on_unseen!r}.")
        self._check_columns(df, need_target=False)
        out: dict[str, np.ndarray] = {}
        for col in self.spec.categorical:
            index = self._lookup(col)
            keys = _as_key(df[col])
            ids = np.fromiter((index.get(k, 0) for k in keys), dtype=np.int32, count=len(keys))
            if on_unseen == "error" and (ids == 0).any():
                unseen = sorted(set(keys[ids == 0]))[:5]
                raise DataError(f"column {col!r} has values never seen in training, e.g. {unseen}.")
            out[col] = ids
        for col in self.spec.multi_hot:
            index, size = self._lookup(col), self.bag_sizes[col]
            ids = np.zeros((len(df), size), dtype=np.int32)
            for r, bag in enumerate(df[col]):
                for k, v in enumerate(list(bag if bag is not None else [])[:size]):
                    ids[r, k] = index.get(str(v), 1)
            if on_unseen == "error" and (ids == 1).any():
                raise DataError(f"column {col!r} has values never seen in training.")
            out[col] = ids
        if self.spec.continuous:
            cont = (self._continuous_frame(df) - np.asarray(self.mean)) / np.asarray(self.std)
            out[CONTINUOUS_FIELD] = cont.astype(np.float32)
        return out

    def target(self, df: pd.DataFrame) -> np.ndarray:
        """The label as float32: the rating for regression, 0/1 for binary."""
        if self.spec.target not in df.columns:
            raise DataError(f"the table lacks the target column {self.spec.target!r}.")
        y = pd.to_numeric(df[self.spec.target], errors="coerce").to_numpy(dtype="float64")
        if not np.isfinite(y).all():
            raise DataError(
                f"target column {self.spec.target!r} has missing or non-numeric values."
            )
        if self.spec.task == "binary":
            if self.spec.binary_threshold is not None:
                y = (y >= self.spec.binary_threshold).astype("float64")
            elif not np.isin(y, (0.0, 1.0)).all():
                raise DataError(
                    f"target {self.spec.target!r} is not binary (0/1) for a binary task."
                )
        return y.astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        return {
            "spec": self.spec.to_dict(),
            "vocabularies": self.vocabularies,
            "bag_sizes": self.bag_sizes,
            "mean": self.mean,
            "std": self.std,
            "target_mean": self.target_mean,
            "target_range": self.target_range,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Preprocessor:
        try:
            pre = cls(FeatureSpec.from_dict(d["spec"]))
            pre.vocabularies = {k: list(v) for k, v in d["vocabularies"].items()}
            pre.bag_sizes = {k: int(v) for k, v in d["bag_sizes"].items()}
            pre.mean, pre.std = list(d["mean"]), list(d["std"])
            pre.target_mean = float(d["target_mean"])
            bounds = d.get("target_range")  # absent from runs saved before it existed
            pre.target_range = None if bounds is None else [float(b) for b in bounds]
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"saved preprocessing state is malformed: {exc!r}") from exc
        return pre
