"""The field specification every model shares: which columns are categorical, multi-hot, continuous."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from recsys_core.errors import DataError

TASKS = ("regression", "binary")
# The continuous block enters interaction layers as one field (DLRM's bottom-MLP output).
CONTINUOUS_FIELD = "continuous"


@dataclass(frozen=True)
class FeatureSpec:
    """Column roles and the label, shared by preprocessing, every model and the analysis.

    ``groups`` maps a field to a group name ("user", "movie", "context") used to order and outline
    heatmap axes. ``binary_threshold``: with ``task="binary"`` the label is ``target >= threshold``
    (MovieLens: a rating of 4 or 5 counts as a click); ``None`` means the target already is 0/1.
    """

    categorical: tuple[str, ...]
    continuous: tuple[str, ...] = ()
    multi_hot: tuple[str, ...] = ()
    target: str = "user_rating"
    task: str = "regression"
    binary_threshold: float | None = 4.0
    groups: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "categorical", tuple(self.categorical))
        object.__setattr__(self, "continuous", tuple(self.continuous))
        object.__setattr__(self, "multi_hot", tuple(self.multi_hot))
        if self.task not in TASKS:
            raise DataError(f"task must be one of {TASKS}, got {self.task!r}.")
        columns = [*self.categorical, *self.multi_hot, *self.continuous]
        if not columns:
            raise DataError("the feature specification names no feature columns.")
        dupes = sorted({c for c in columns if columns.count(c) > 1})
        if dupes:
            raise DataError(f"columns {dupes} are given more than one role.")
        if self.target in columns:
            raise DataError(f"the target {self.target!r} is also listed as a feature.")
        if CONTINUOUS_FIELD in columns:
            raise DataError(
                f"{CONTINUOUS_FIELD!r} is reserved for the continuous block; rename that column."
            )

    @property
    def sparse_fields(self) -> list[str]:
        """Fields with an embedding table, in model order: categorical, then multi-hot."""
        return [*self.categorical, *self.multi_hot]

    @property
    def fields(self) -> list[str]:
        """Interaction fields in model order; the continuous block is one field at the end."""
        return self.sparse_fields + ([CONTINUOUS_FIELD] if self.continuous else [])

    def group_of(self, name: str) -> str:
        return self.groups.get(name, "context")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for key in ("categorical", "continuous", "multi_hot"):
            d[key] = list(d[key])
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FeatureSpec:
        return cls(**d)


TUTORIAL_CONTINUOUS = (
    "raw_user_age",
    "hour_of_day_sin",
    "hour_of_day_cos",
    "hour_of_week_sin",
    "hour_of_week_cos",
)
TUTORIAL_CATEGORICAL = (
    "user_gender",
    "user_zip_code",
    "user_occupation_text",
    "movie_id",
    "user_id",
)
MOVIELENS_GROUPS = {
    "user_id": "user",
    "user_gender": "user",
    "user_zip_code": "user",
    "user_occupation_text": "user",
    "bucketized_user_age": "user",
    "movie_id": "movie",
    "movie_genres": "movie",
    CONTINUOUS_FIELD: "context",
}


def movielens_spec(preset: str = "default", task: str = "regression") -> FeatureSpec:
    """MovieLens 100K fields.

    ``tutorial``: exactly the keras-rs DLRM tutorial's features (5 categorical, 5 continuous).
    ``default``: those plus the movie's genres as a multi-hot field pooled by the model.
    ``keras_io_dcn``: exactly the keras-io DCN example's six categorical features, in its order
    (movie_id, user_id, user_gender, bucketized_user_age, user_zip_code, user_occupation_text),
    nothing continuous.
    """
    if preset == "keras_io_dcn":
        return FeatureSpec(
            categorical=(
                "movie_id",
                "user_id",
                "user_gender",
                "bucketized_user_age",
                "user_zip_code",
                "user_occupation_text",
            ),
            target="user_rating",
            task=task,
            binary_threshold=4.0,
            groups=dict(MOVIELENS_GROUPS),
        )
    if preset not in ("tutorial", "default"):
        raise DataError(
            f"unknown MovieLens feature preset {preset!r}; "
            "use 'tutorial', 'default' or 'keras_io_dcn'."
        )
    return FeatureSpec(
        categorical=TUTORIAL_CATEGORICAL,
        continuous=TUTORIAL_CONTINUOUS,
        multi_hot=("movie_genres",) if preset == "default" else (),
        target="user_rating",
        task=task,
        binary_threshold=4.0,
        groups=dict(MOVIELENS_GROUPS),
    )
