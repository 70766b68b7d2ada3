"""Column-role inference for a user's table (recsys_core.features.infer)."""

import numpy as np
import pandas as pd
import pytest

from recsys_core.errors import DataError
from recsys_core.features.infer import (
    LIST_LITERAL,
    detect_delimiter,
    infer_schema,
    parse_groups,
    split_items,
    suggest_target,
)

N = 60


def _frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    genres = ["Action", "Comedy", "Drama", "Sci-Fi"]
    return pd.DataFrame(
        {
            "userId": rng.integers(1, 15, N),
            "item": rng.choice(["apple", "pear", "plum", "fig"], N),
            "genres": ["|".join(sorted(set(rng.choice(genres, 2)))) for _ in range(N)],
            "tags": [list(rng.choice(["x", "y", "z"], 2)) for _ in range(N)],
            "tag_literal": [str(list(rng.choice(["p", "q"], 2))) for _ in range(N)],
            "price": rng.normal(10, 3, N),
            "age": rng.integers(18, 80, N),
            "stars": rng.integers(1, 6, N),
            "place": rng.choice(["Paris, France", "Lyon, France", "Rome, Italy"], N),
            "flag": rng.random(N) < 0.5,
            "seen": pd.date_range("2024-01-01", periods=N, freq="h"),
            "constant": 7,
            "empty": np.nan,
            "row_key": [f"r{i}" for i in range(N)],
            "rating": rng.integers(1, 6, N).astype(float),
        }
    )


def test_inferred_roles_and_reasons():
    schema = infer_schema(_frame(), "rating")
    roles = schema.roles()
    assert roles == {
        "userId": "categorical",
        "item": "categorical",
        "genres": "multi-hot",
        "tags": "multi-hot",
        "tag_literal": "multi-hot",
        "price": "continuous",
        "age": "continuous",
        "stars": "categorical",
        "place": "categorical",  # "city, country": items do not recur, so not a list
        "flag": "categorical",
        "seen": "continuous",
        "constant": "ignore",
        "empty": "ignore",
        "row_key": "ignore",
    }
    reasons = schema.table.set_index("column")["reason"]
    assert "constant" in reasons["constant"] and "missing" in reasons["empty"]
    assert "id" in reasons["userId"] and "'|'" in reasons["genres"]
    assert schema.table["column"].iloc[0] == "rating" and schema.table["role"].iloc[0] == "target"
    assert schema.delimiters == {"genres": "|", "tag_literal": LIST_LITERAL}
    spec = schema.spec
    assert "rating" not in spec.fields
    assert spec.categorical == ("userId", "item", "stars", "place", "flag")
    assert spec.multi_hot == ("genres", "tags", "tag_literal")
    assert spec.continuous == ("price", "age", "seen")
    assert spec.binary_threshold is None and spec.groups == {}
    assert set(schema.table.columns) >= {"column", "role", "group", "reason", "distinct", "missing"}


def test_given_roles_and_groups_win():
    schema = infer_schema(
        _frame(),
        "rating",
        task="binary",
        binary_threshold=4,
        roles={"age": "categorical", "genres": "ignore", "constant": "continuous"},
        groups={"userId": "user", "item": "item"},
    )
    roles = schema.roles()
    assert roles["age"] == "categorical" and roles["genres"] == "ignore"
    assert roles["constant"] == "continuous"
    assert schema.table.set_index("column")["reason"]["age"].startswith("given")
    spec = schema.spec
    assert spec.groups == {"userId": "user", "item": "item"}
    assert spec.task == "binary" and spec.binary_threshold == 4


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"target": "nope"}, "'nope' is not in the table"),
        ({"target": "rating", "roles": {"colour": "categorical"}}, "['colour']"),
        ({"target": "rating", "roles": {"rating": "categorical"}}, "target 'rating' cannot"),
        ({"target": "rating", "roles": {"age": "fancy"}}, "unknown column role 'fancy'"),
        ({"target": "rating", "groups": {"zzz": "user"}}, "['zzz']"),
    ],
)
def test_bad_names_are_named(kwargs, message):
    with pytest.raises(DataError, match=None) as err:
        infer_schema(_frame(), **kwargs)
    assert message in str(err.value)
    if "is not in the table" in message:
        assert "userId" in str(err.value)  # the columns are listed


def test_no_feature_left_explains_why():
    df = pd.DataFrame({"y": [1.0, 2.0, 3.0], "c": [5, 5, 5]})
    schema = infer_schema(df, "y")
    with pytest.raises(DataError, match="no feature column is left.*'c': constant"):
        _ = schema.spec


def test_delimiters_and_items():
    assert detect_delimiter(pd.Series(["a|b", "c", "a|c"])) == "|"
    assert detect_delimiter(pd.Series(["a;b", "b;c", "a;c", "a;b;c"])) == ";"
    assert detect_delimiter(pd.Series(["hello world", "plain"])) is None
    assert detect_delimiter(pd.Series(["a b", "c"]), force=True) == " "
    assert split_items("a| b |", "|") == ["a", "b"]
    assert split_items("['x', 'y']", LIST_LITERAL) == ["x", "y"]
    assert split_items(np.array(["x", "y"]), None) == ["x", "y"]
    assert split_items(None, "|") == [] and split_items(float("nan"), "|") == []


def test_groups_and_target_helpers():
    assert parse_groups("user:a, b;item:c") == {"a": "user", "b": "user", "c": "item"}
    assert parse_groups(None) == {}
    with pytest.raises(DataError, match="GROUP:COL"):
        parse_groups("user=a")
    with pytest.raises(DataError, match="'a' is given two groups"):
        parse_groups("user:a;item:a")
    assert suggest_target(pd.DataFrame(columns=["x", "Label", "z"])) == "Label"
    assert suggest_target(pd.DataFrame(columns=["x", "z"])) == "z"
