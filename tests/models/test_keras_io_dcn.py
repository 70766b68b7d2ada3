"""The keras-io DCN example's three MovieLens models, as registered presets: exact parameter counts.

The example ("Ranking with Deep and Cross Networks", keras-rs, MovieLens 100K) builds its
vocabularies on all 100,000 ratings and gives each embedding table len(vocabulary) + 1 rows, so the
models here are built from a Preprocessor fitted on the whole table (its tables also have one
out-of-vocabulary row per field). Fitted on a training split only, counts are slightly lower.
"""

from __future__ import annotations

import keras
import pytest

from recsys_core.features import Preprocessor, movielens_spec
from recsys_core.layers.feature_cross import FeatureCross
from recsys_core.models import build_model

EXPECTED = {
    "dcn_keras_io_cross": 76_657,
    "dcn_keras_io_lowrank": 75_121,
    "dcn_keras_io_deep": 111_361,
}


@pytest.fixture(scope="module")
def pre(movielens):
    return Preprocessor(movielens_spec("keras_io_dcn")).fit(movielens)


def test_feature_preset_is_the_examples_six_fields(pre):
    assert pre.spec.sparse_fields == [
        "movie_id",
        "user_id",
        "user_gender",
        "bucketized_user_age",
        "user_zip_code",
        "user_occupation_text",
    ]
    assert not pre.spec.continuous
    # 1682 movies, 943 users, 2 genders, 7 age buckets, 795 zip codes, 21 occupations, +1 each
    assert [t["vocab_size"] for t in pre.tables()] == [1683, 944, 3, 8, 796, 22]


@pytest.mark.movielens
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_parameter_counts_match_the_example(name, pre):
    keras.utils.set_random_seed(0)
    model = build_model(name, pre)
    assert model.count_params() == EXPECTED[name]
    if name != "dcn_keras_io_deep":
        assert [type(c) for c in model.cross_layers] == [FeatureCross]
        assert model.cross_layers[0].projection_dim == (8 if "lowrank" in name else None)
        assert [layer.units for layer in model.deep.dense_layers] == [192, 192]
    else:
        assert [layer.units for layer in model.deep.dense_layers] == [192, 192, 192, 1]
