"""A user's own table: reading CSV / Parquet, limits, bad tables, preparation and Parquet round trip."""

import numpy as np
import pandas as pd
import pytest

from recsys_core.data import synthetic_ratings
from recsys_core.data.user_table import (
    MAX_UPLOAD_ENV,
    MISSING,
    load_user_table,
    prepare_table,
    read_table,
    table_from_run_data,
)
from recsys_core.errors import DataError, SettingError
from recsys_core.features import Preprocessor
from recsys_core.training import RunConfig, TrainConfig, train_run


def _table(n=120, seed=0) -> pd.DataFrame:
    df = synthetic_ratings(n_rows=n, n_users=12, n_movies=15, seed=seed)
    df["click"] = (df["user_rating"] >= 4).astype(int)
    return df


def _csv(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    out["movie_genres"] = out["movie_genres"].map("|".join)
    return out


@pytest.fixture()
def csv_path(tmp_path):
    path = tmp_path / "ratings.csv"
    _csv(_table()).to_csv(path, index=False)
    return path


def test_csv_and_parquet_read_the_same_roles(tmp_path, csv_path):
    pq = tmp_path / "ratings.parquet"
    _table().to_parquet(pq, index=False)
    from_csv = load_user_table(csv_path, "user_rating", roles={"click": "ignore"})
    from_pq = load_user_table(pq, "user_rating", roles={"click": "ignore"})
    from_bytes = load_user_table(csv_path.read_bytes(), "user_rating", name="r.csv")
    assert from_csv.schema.roles()["movie_genres"] == "multi-hot"
    assert from_pq.schema.roles()["movie_genres"] == "multi-hot"
    assert from_csv.spec.multi_hot == from_pq.spec.multi_hot == ("movie_genres",)
    assert from_csv.table["movie_genres"].iloc[0] == sorted(_table()["movie_genres"].iloc[0])
    assert from_bytes.info["name"] == "r.csv" and len(from_bytes.info["sha256"]) == 64
    data = from_csv.run_data()
    assert data["name"] == "ratings.csv" and data["rows"] == 120 and data["target"] == "user_rating"
    assert data["path"] == str(csv_path.resolve())
    assert {r["column"] for r in data["schema"]} == set(_table().columns)


def test_utf8_with_bom_and_odd_column_names(tmp_path):
    df = pd.DataFrame({"a/b": list("xyzxyzxyzxyz"), "continuous": range(12), "y": range(12)})
    path = tmp_path / "odd.csv"
    path.write_bytes(b"\xef\xbb\xbf" + df.to_csv(index=False).encode("utf-8"))
    read = read_table(path)
    assert list(read.columns) == ["a_b", "continuous_", "y"]
    assert read.attrs["renamed"] == {"a/b": "a_b", "continuous": "continuous_"}
    user = load_user_table(path, "y", roles={"a/b": "categorical"})
    assert "a_b" in user.spec.categorical and user.info["renamed"]["a/b"] == "a_b"


def _bad(tmp_path, name: str, content) -> str:
    path = tmp_path / name
    if isinstance(content, pd.DataFrame):
        if name.endswith(".parquet"):
            content.to_parquet(path, index=False)
        else:
            content.to_csv(path, index=False)
    else:
        path.write_bytes(content)
    return str(path)


def _with(**changes) -> pd.DataFrame:
    df = _csv(_table(40))
    for col, values in changes.items():
        df[col] = values
    return df


def _nan_at(values, row) -> list:
    out = list(values)
    out[row] = np.nan
    return out


@pytest.mark.parametrize(
    ("name", "content", "kwargs", "expected"),
    [
        ("t.csv", _with(), {"target": "score"}, ["'score'", "user_id", "movie_genres"]),
        ("t.csv", _with(empty=np.nan), {"roles": {"empty": "categorical"}}, ["'empty'", "missing"]),
        (
            "t.csv",
            _with(price=["1.5"] * 7 + ["twelve"] + ["2"] * 32),
            {"roles": {"price": "continuous"}},
            ["'price'", "'twelve'", "row 8"],
        ),
        ("t.csv", _with(), {"task": "binary"}, ["'user_rating'", "not binary", "row 1"]),
        ("t.csv", _with(click=0), {"target": "click", "task": "binary"}, ["'click'", "one class"]),
        ("t.csv", b"user_id,rating\n", {"target": "rating"}, ["'t.csv'", "no rows"]),
        ("t.csv", b"", {}, ["'t.csv'", "empty"]),
        ("t.csv", b"a,b\n1,2\n3,4,5,6\n", {"target": "b"}, ["'t.csv'", "well-formed", "line 3"]),
        ("t.parquet", b"this is not parquet", {}, ["'t.parquet'", "Parquet"]),
        ("t.xlsx", b"PK\x03\x04", {}, ["'t.xlsx'", "unsupported", ".xlsx"]),
        ("t.csv", "name,y\nJosé,1\n".encode("latin-1"), {"target": "y"}, ["'t.csv'", "not UTF-8"]),
        (
            "t.csv",
            _with(user_rating=_nan_at(_table(40)["user_rating"], 4)),
            {},
            ["'user_rating'", "1 missing value ", "row 5"],
        ),
        (
            "t.parquet",
            _table(40)[["user_rating", "raw_user_age"]],
            {"roles": {"raw_user_age": "continuous"}},
            ["categorical or multi-hot", "raw_user_age"],
        ),
        ("t.csv", _with().head(5), {}, ["5 rows", "at least 10"]),
    ],
    ids=[
        "missing-target",
        "all-nan-column",
        "non-numeric-continuous",
        "non-binary-target",
        "single-class",
        "header-only",
        "zero-bytes",
        "malformed-csv",
        "malformed-parquet",
        "unsupported-type",
        "latin-1",
        "nan-target",
        "only-continuous",
        "too-few-rows",
    ],  # fmt: skip
)
def test_bad_tables_raise_a_data_error_naming_the_problem(
    tmp_path, name, content, kwargs, expected
):
    path = _bad(tmp_path, name, content)
    kwargs = {"target": "user_rating", **kwargs}
    with pytest.raises(DataError) as err:
        load_user_table(path, **kwargs)
    for part in expected:
        assert part in str(err.value), (part, str(err.value))


def test_size_limit_is_checked_before_reading(tmp_path, csv_path, monkeypatch):
    monkeypatch.setenv(MAX_UPLOAD_ENV, "0.001")  # ~1 KB

    def boom(*args, **kwargs):
        raise AssertionError("the file was read")

    monkeypatch.setattr(pd, "read_csv", boom)
    with pytest.raises(DataError, match=f"over the 0 MB limit.*{MAX_UPLOAD_ENV}"):
        read_table(csv_path)
    with pytest.raises(DataError, match="over the"):
        read_table(csv_path.read_bytes(), name="big.csv")
    monkeypatch.setenv(MAX_UPLOAD_ENV, "lots")
    with pytest.raises(SettingError, match=MAX_UPLOAD_ENV):  # a setting, not the table, is wrong
        read_table(csv_path)


def test_missing_categories_and_held_out_rows_round_trip_through_parquet(tmp_path):
    df = _csv(_table(60))
    df.loc[3, "user_occupation_text"] = np.nan
    df.loc[5, "movie_genres"] = np.nan
    user = load_user_table(_bad(tmp_path, "m.csv", df), "user_rating", roles={"click": "ignore"})
    table = user.table
    assert table.loc[3, "user_occupation_text"] == MISSING and table.loc[5, "movie_genres"] == []
    assert list(table.columns)[0] == "user_rating" and "click" not in table
    table.to_parquet(tmp_path / "holdout.parquet", index=False)
    back = pd.read_parquet(tmp_path / "holdout.parquet")
    pre = Preprocessor(user.spec).fit(table)
    for field, ids in pre.transform(table).items():
        np.testing.assert_array_equal(pre.transform(back)[field], ids, err_msg=field)
    again, spec = table_from_run_data(user.run_data())
    assert spec == user.spec
    pd.testing.assert_frame_equal(again, table)


def test_prepare_table_checks_a_given_spec():
    user = load_user_table(_csv(_table()).to_csv(index=False).encode(), "user_rating", name="t.csv")
    with pytest.raises(
        DataError, match="feature columns \\['movie_genres'\\] are not in the table"
    ):
        prepare_table(user.table.drop(columns="movie_genres"), user.spec)


def test_a_model_that_cannot_use_the_fields_fails_before_training(tmp_path):
    df = _table(60)[["user_id", "user_rating"]]
    user = load_user_table(_bad(tmp_path, "one.parquet", df), "user_rating")
    config = RunConfig(
        model="dlrm", dataset="table", data=user.run_data(), train=TrainConfig(epochs=1)
    )
    with pytest.raises(DataError, match="dlrm cannot be built on the fields \\['user_id'\\]"):
        train_run(config, user.table, user.spec)
