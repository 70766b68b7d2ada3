import zipfile

import numpy as np
import pandas as pd
import pytest

from recsys_core.data import COLUMNS, split_table, synthetic_ratings
from recsys_core.data.movielens import (
    _from_path,
    bucketize_age,
    load_movielens_100k,
    verify_movielens_100k,
)
from recsys_core.errors import DataError


@pytest.mark.movielens
def test_real_movielens_matches_published_counts(movielens):
    df = movielens
    assert list(df.columns) == COLUMNS
    assert len(df) == 100_000
    assert df["user_id"].nunique() == 943 and df["movie_id"].nunique() == 1682
    assert df["user_rating"].value_counts().sort_index().tolist() == [
        6110,
        11370,
        27145,
        34174,
        21201,
    ]
    first = df.iloc[0]
    assert (first.user_id, first.movie_id, first.user_rating, first.timestamp) == (
        "196",
        "242",
        3.0,
        881250949,
    )
    users = df.drop_duplicates("user_id")
    assert users["user_gender"].sum() == 670 and (~users["user_gender"]).sum() == 273
    assert users["user_occupation_text"].nunique() == 21 and users["user_zip_code"].nunique() == 795
    toy = df[df.movie_id == "1"].iloc[0]
    assert toy.movie_title == "Toy Story (1995)"
    assert toy.movie_genres == ["Animation", "Children's", "Comedy"]
    assert "cache" in df.attrs["source"]


def test_bucketized_age_follows_tfds_buckets():
    ages = pd.Series([7.0, 18.0, 24.0, 25.0, 44.0, 49.0, 50.0, 73.0])
    assert bucketize_age(ages).tolist() == [1, 18, 18, 25, 35, 45, 50, 56]


def _grouplens_zip(tmp_path, n_users=3):
    """A tiny archive in the original GroupLens format (u.data, u.user, u.item)."""
    data = "1\t1\t5\t881250949\n2\t2\t3\t881250950\n3\t1\t1\t881250951\n"
    users = "1|24|M|technician|85711\n2|53|F|other|94043\n3|23|M|writer|32067\n"
    flags = ["0"] * 19
    item1 = "|".join(
        [
            "1",
            "Toy Story (1995)",
            "01-Jan-1995",
            "",
            "http://x",
            *["0", "0", "0", "1", "1", "1"],
            *flags[6:],
        ]
    )
    item2 = "|".join(["2", "GoldenEye (1995)", "01-Jan-1995", "", "http://x", "0", "1", *flags[2:]])
    path = tmp_path / "ml-100k.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("ml-100k/u.data", data)
        zf.writestr("ml-100k/u.user", users)
        zf.writestr("ml-100k/u.item", (item1 + "\n" + item2 + "\n").encode("latin-1"))
    return path


def test_grouplens_archive_is_parsed_into_tfds_columns(tmp_path):
    df = _from_path(_grouplens_zip(tmp_path))
    assert list(df.columns) == COLUMNS and len(df) == 3
    assert df.loc[0, "movie_genres"] == ["Animation", "Children's", "Comedy"]
    assert df.loc[1, "movie_genres"] == ["Action"]
    assert df["user_gender"].tolist() == [True, False, True]
    assert df.loc[0, "bucketized_user_age"] == 18.0


def test_incomplete_data_fails_verification_with_the_reason(tmp_path):
    df = _from_path(_grouplens_zip(tmp_path))
    with pytest.raises(DataError, match="3 ratings instead of 100000"):
        verify_movielens_100k(df)
    with pytest.raises(DataError, match="lacks columns"):
        verify_movielens_100k(df.drop(columns=["movie_title"]))


def test_user_path_that_is_not_movielens_is_rejected(tmp_path):
    bad = tmp_path / "other.zip"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("readme.txt", "nothing here")
    with pytest.raises(DataError, match="neither u.data nor ml-100k.inter"):
        _from_path(bad)
    with pytest.raises(DataError, match="could not load MovieLens 100K"):
        load_movielens_100k(source="path", path=bad, cache_dir=tmp_path / "cache")


def test_cache_source_without_cache_says_so(tmp_path):
    with pytest.raises(DataError, match="nothing is cached yet"):
        load_movielens_100k(source="cache", cache_dir=tmp_path)
    with pytest.raises(DataError, match="unknown MovieLens source"):
        load_movielens_100k(source="hub")


def test_random_split_is_80_20_and_reproducible():
    df = synthetic_ratings(1000)
    a_train, a_test = split_table(df)
    b_train, b_test = split_table(df)
    assert (len(a_train), len(a_test)) == (800, 200)
    pd.testing.assert_frame_equal(a_test, b_test)
    c_train, _ = split_table(df, seed=7)
    assert not a_train.equals(c_train)
    # Together the parts hold every row exactly once.
    both = pd.concat([a_train, a_test])
    assert sorted(both["timestamp"].tolist()) == sorted(df["timestamp"].tolist())


def test_time_split_puts_latest_rows_in_test():
    df = synthetic_ratings(500)
    train, test = split_table(df, method="time")
    assert train["timestamp"].max() <= test["timestamp"].min()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"test_fraction": 0.0}, "between 0 and 1"),
        ({"method": "kfold"}, "split method"),
        ({"test_fraction": 1.5}, "between 0 and 1"),
    ],
)
def test_bad_split_settings_are_errors(kwargs, message):
    with pytest.raises(DataError, match=message):
        split_table(synthetic_ratings(50), **kwargs)


def test_empty_table_cannot_be_split():
    with pytest.raises(DataError, match="cannot split a table of 0 rows"):
        split_table(synthetic_ratings(10).iloc[:0])


def test_synthetic_table_has_movielens_columns_and_valid_ratings():
    df = synthetic_ratings(200, seed=3)
    assert list(df.columns) == COLUMNS
    assert df["user_rating"].between(1, 5).all()
    assert np.array_equal(df["user_rating"], df["user_rating"].round())
    # user attributes are functions of user_id, as in MovieLens
    assert (df.groupby("user_id")["user_occupation_text"].nunique() == 1).all()
