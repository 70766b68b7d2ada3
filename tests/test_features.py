import numpy as np
import pandas as pd
import pytest

from recsys_core.data import split_table, synthetic_ratings
from recsys_core.errors import DataError
from recsys_core.features import CONTINUOUS_FIELD, FeatureSpec, Preprocessor, movielens_spec


@pytest.fixture()
def parts():
    return split_table(synthetic_ratings(1500, seed=1))


def test_vocabularies_come_from_training_rows_only(parts):
    train, test = parts
    pre = Preprocessor(movielens_spec()).fit(train)
    assert pre.vocabularies["user_id"] == sorted(set(train["user_id"]))
    x = pre.transform(test)
    unseen = ~test["user_id"].isin(set(train["user_id"]))
    # out-of-vocabulary values get id 0, known ones 1..V in sorted order
    assert (x["user_id"][unseen.to_numpy()] == 0).all()
    known = test.loc[~unseen, "user_id"].iloc[0]
    assert x["user_id"][(~unseen).to_numpy()][0] == pre.vocabularies["user_id"].index(known) + 1
    assert pre.vocab_size("user_id") == train["user_id"].nunique() + 1


def test_unseen_category_can_be_an_error(parts):
    train, _ = parts
    pre = Preprocessor(movielens_spec()).fit(train)
    row = train.iloc[:1].copy()
    row["user_occupation_text"] = "astronaut"
    with pytest.raises(DataError, match="user_occupation_text.*never seen in training.*astronaut"):
        pre.transform(row, on_unseen="error")
    assert pre.transform(row)["user_occupation_text"][0] == 0


def test_multi_hot_genres_are_padded_bags(parts):
    train, _ = parts
    pre = Preprocessor(movielens_spec()).fit(train)
    x = pre.transform(train.iloc[:50])
    bags = x["movie_genres"]
    assert bags.shape == (50, pre.bag_sizes["movie_genres"])
    for r, genres in enumerate(train["movie_genres"].iloc[:50]):
        ids = [i for i in bags[r] if i != 0]
        assert ids == [pre.vocabularies["movie_genres"].index(g) + 2 for g in genres]


def test_continuous_features_are_standardised_on_training_data(parts):
    train, _ = parts
    pre = Preprocessor(movielens_spec()).fit(train)
    cont = pre.transform(train)[CONTINUOUS_FIELD]
    np.testing.assert_allclose(cont.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(cont.std(axis=0), 1, atol=1e-4)


def test_cyclic_hour_features_match_the_tutorial_formula():
    ts = pd.Series([0, 3600 * 6, 3600 * 30])  # midnight Thursday 1970, 06:00, 06:00 next day
    df = synthetic_ratings(3).assign(timestamp=ts.to_numpy())
    spec = FeatureSpec(categorical=("user_id",), continuous=("hour_of_day_sin", "hour_of_week_cos"))
    pre = Preprocessor(spec)
    raw = pre._continuous_frame(df)
    np.testing.assert_allclose(raw[:, 0], [0.0, 1.0, 1.0], atol=1e-12)
    np.testing.assert_allclose(
        raw[:, 1], np.cos(2 * np.pi * np.array([0, 6, 30]) / 168), atol=1e-12
    )


def test_binary_target_is_rating_at_least_four():
    df = synthetic_ratings(300)
    pre = Preprocessor(movielens_spec(task="binary")).fit(df)
    np.testing.assert_array_equal(pre.target(df), (df["user_rating"] >= 4).astype("float32"))


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.drop(columns=["user_zip_code"]), r"lacks columns \['user_zip_code'\]"),
        (lambda d: d.iloc[:0], "table is empty"),
        (lambda d: d.assign(raw_user_age=np.nan), "raw_user_age.*NaN"),
        (lambda d: d.assign(raw_user_age="old"), "raw_user_age.*non-numeric"),
        (lambda d: d.assign(user_id=None), "user_id.*missing values"),
    ],
)
def test_bad_tables_get_errors_naming_the_column(mutate, message):
    df = synthetic_ratings(100)
    with pytest.raises(DataError, match=message):
        Preprocessor(movielens_spec()).fit(mutate(df))


def test_target_that_is_not_binary_is_rejected():
    spec = FeatureSpec(
        categorical=("user_id",), target="user_rating", task="binary", binary_threshold=None
    )
    with pytest.raises(DataError, match="not binary"):
        Preprocessor(spec).fit(synthetic_ratings(100))


def test_spec_rejects_conflicting_roles():
    with pytest.raises(DataError, match="more than one role"):
        FeatureSpec(categorical=("a",), continuous=("a",))
    with pytest.raises(DataError, match="also listed as a feature"):
        FeatureSpec(categorical=("y",), target="y")
    with pytest.raises(DataError, match="task must be one of"):
        FeatureSpec(categorical=("a",), task="ranking")


def test_preprocessor_state_round_trips(parts):
    train, test = parts
    pre = Preprocessor(movielens_spec()).fit(train)
    again = Preprocessor.from_dict(pre.to_dict())
    a, b = pre.transform(test), again.transform(test)
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    with pytest.raises(DataError, match="malformed"):
        Preprocessor.from_dict({"spec": {}})
