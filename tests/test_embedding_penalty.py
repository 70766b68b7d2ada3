"""Per-example embedding L2 (``embedding_batch_l2``): its value in a model and its use in training."""

import keras
import numpy as np
import pytest

from recsys_core.data import split_table, synthetic_ratings
from recsys_core.features import Preprocessor, movielens_spec
from recsys_core.models import build_model
from recsys_core.training import TrainConfig, Trainer


@pytest.fixture(scope="module")
def data():
    train, _ = split_table(synthetic_ratings(600, seed=3))
    return Preprocessor(movielens_spec()).fit(train), train


def _losses(model, x):
    tv = [v.value for v in model.trainable_variables]
    ntv = [v.value for v in model.non_trainable_variables]
    _, _, losses = model.stateless_call(tv, ntv, x, training=True, return_losses=True)
    return [float(v) for v in losses]


def test_model_penalty_is_lambda_times_mean_squared_norms_of_its_field_vectors(data):
    pre, train = data
    lam = 0.2
    model = build_model("fm", pre, {"embedding_batch_l2": lam, "embedding_l2": 0.0})
    x = pre.transform(train.iloc[:64])
    # The looked-up rows (bags: mean of their rows' squared norms) and the continuous field vector.
    expected = 0.0
    for name, emb in model.embedding.embeddings.items():
        table, ids = np.asarray(emb.embeddings.value), x[name]
        sq = (table[ids] ** 2).sum(axis=-1)
        if ids.ndim == 2:
            mask = ids != 0
            sq = (sq * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1)
        expected += sq.mean()
    kernel, bias = (np.asarray(w) for w in model.continuous_projection.get_weights())
    expected += ((x["continuous"] @ kernel + bias) ** 2).sum(axis=1).mean()
    linear_l2 = model.linear.l2 * sum(
        (np.asarray(v.value) ** 2).sum() for v in model.linear.trainable_variables
    )  # the first-order weights keep their whole-table L2
    assert sum(_losses(model, x)) == pytest.approx(lam * expected + linear_l2, rel=1e-4)
    assert model.get_config()["embedding_batch_l2"] == lam


def test_training_with_the_batch_penalty_shrinks_the_embeddings(data):
    pre, train = data
    norms = []
    for lam in (0.0, 5.0):
        keras.utils.set_random_seed(0)
        model = build_model("fm", pre, {"embedding_batch_l2": lam, "embedding_l2": 0.0})
        config = TrainConfig(epochs=5, batch_size=64, patience=0, learning_rate=0.01)
        Trainer(model, "regression", config).fit(pre.transform(train), pre.target(train))
        user = np.asarray(model.embedding.embeddings["user_id"].embeddings.value)
        norms.append(float(np.linalg.norm(user)))
    assert norms[1] < 0.5 * norms[0]
