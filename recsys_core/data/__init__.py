"""Data sources (MovieLens 100K, generated tables) and splits."""

from recsys_core.data.movielens import COLUMNS, load_movielens_100k, verify_movielens_100k
from recsys_core.data.planted import planted_table
from recsys_core.data.splits import split_table
from recsys_core.data.synthetic import synthetic_ratings

__all__ = [
    "COLUMNS",
    "load_movielens_100k",
    "planted_table",
    "split_table",
    "synthetic_ratings",
    "verify_movielens_100k",
]
