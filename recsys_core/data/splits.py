"""Train/test splits: seeded random by default, time-ordered on request."""

from __future__ import annotations

import numpy as np
import pandas as pd

from recsys_core.errors import DataError

SPLIT_METHODS = ("random", "time")


def split_table(
    df: pd.DataFrame,
    test_fraction: float = 0.2,
    seed: int = 42,
    method: str = "random",
    time_column: str = "timestamp",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split rows into (train, test).

    ``random``: a seeded permutation, the first ``1 - test_fraction`` of it trains (default 80/20, seed
    42). ``time``: rows sorted by ``time_column`` (ties broken by position), the latest ones test.
    """
    if method not in SPLIT_METHODS:
        raise DataError(f"split method must be one of {SPLIT_METHODS}, got {method!r}.")
    if not 0.0 < test_fraction < 1.0:
        raise DataError(f"test_fraction must be between 0 and 1 (exclusive), got {test_fraction}.")
    if len(df) < 2:
        raise DataError(f"cannot split a table of {len(df)} rows into train and test parts.")
    n_test = max(1, int(round(len(df) * test_fraction)))
    if n_test >= len(df):
        raise DataError(f"test_fraction={test_fraction} leaves no training rows out of {len(df)}.")
    if method == "random":
        order = np.random.default_rng(seed).permutation(len(df))
    else:
        if time_column not in df.columns:
            raise DataError(
                f"time split needs a {time_column!r} column; the table has {list(df.columns)}."
            )
        order = np.argsort(df[time_column].to_numpy(), kind="stable")
    cut = len(df) - n_test
    return df.iloc[order[:cut]].reset_index(drop=True), df.iloc[order[cut:]].reset_index(drop=True)
