"""Field specification and fit-on-train preprocessing."""

from recsys_core.features.preprocessing import Preprocessor
from recsys_core.features.spec import CONTINUOUS_FIELD, FeatureSpec, movielens_spec

__all__ = ["CONTINUOUS_FIELD", "FeatureSpec", "Preprocessor", "movielens_spec"]
