import jax
import keras
import numpy as np
import pytest

from recsys_core.layers import MLP, EmbeddingBagCollection

TABLES = [{"name": "user", "vocab_size": 5}, {"name": "genres", "vocab_size": 4}]


def _layer(pooling="mean"):
    layer = EmbeddingBagCollection(TABLES, 3, pooling=pooling)
    layer.build()
    rng = np.random.default_rng(0)
    layer.set_weights([rng.normal(size=(t["vocab_size"], 3)).astype("float32") for t in TABLES])
    return layer


@pytest.mark.parametrize("pooling", ["mean", "sum"])
def test_single_values_look_up_and_bags_pool_without_padding(pooling):
    layer = _layer(pooling)
    users, genres = layer.get_weights()
    ids = {"user": np.array([1, 4]), "genres": np.array([[1, 2, 0], [3, 0, 0]])}
    out = [np.asarray(o) for o in layer(ids)]
    np.testing.assert_allclose(out[0], users[[1, 4]], rtol=1e-6)
    first = genres[1] + genres[2]
    expected = (
        np.stack([first / 2, genres[3]]) if pooling == "mean" else np.stack([first, genres[3]])
    )
    np.testing.assert_allclose(out[1], expected, rtol=1e-6)


def test_empty_bag_pools_to_zero():
    out = _layer()({"user": np.array([0]), "genres": np.array([[0, 0]])})
    np.testing.assert_array_equal(np.asarray(out[1]), np.zeros((1, 3)))


def test_round_trip_and_grad(tmp_path):
    layer = _layer()
    config = layer.get_config()
    again = EmbeddingBagCollection.from_config(config)
    again.build()
    again.set_weights(layer.get_weights())
    ids = {"user": np.array([2, 3]), "genres": np.array([[1, 0], [2, 3]])}
    for a, b in zip(layer(ids), again(ids), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    table = layer.embeddings["user"].embeddings

    def loss(values):
        with keras.StatelessScope(state_mapping=[(table, values)]):
            return layer(ids)[0].sum()

    grad = np.asarray(jax.grad(loss)(table.value))
    np.testing.assert_array_equal(grad.sum(axis=1), [0, 0, 3, 3, 0])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tables": TABLES, "embedding_dim": 3, "pooling": "max"}, "pooling must be one of"),
        ({"tables": TABLES, "embedding_dim": 0}, "embedding_dim must be a positive"),
        ({"tables": [TABLES[0], TABLES[0]], "embedding_dim": 3}, "distinct names"),
        (
            {"tables": [{"name": "a", "vocab_size": 0}], "embedding_dim": 3},
            "vocab_size must be >= 1",
        ),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        EmbeddingBagCollection(**kwargs)


def test_missing_field_is_named():
    with pytest.raises(ValueError, match=r"missing inputs for fields \['genres'\]"):
        _layer()({"user": np.array([1])})


def test_mlp_matches_numpy_and_validates():
    mlp = MLP([4, 2], output_activation=None)
    x = np.random.default_rng(1).normal(size=(3, 5)).astype("float32")
    out = np.asarray(mlp(x))
    (k0, b0, k1, b1) = mlp.get_weights()
    np.testing.assert_allclose(out, np.maximum(x @ k0 + b0, 0) @ k1 + b1, rtol=1e-5, atol=1e-6)
    assert MLP.from_config(mlp.get_config()).units == [4, 2]
    with pytest.raises(ValueError, match="positive integers"):
        MLP([4, 0])
    with pytest.raises(ValueError, match="dropout"):
        MLP([4], dropout=1.5)


def _penalty(layer, ids, calls=1):
    """The losses ``layer`` adds when called ``calls`` times in one stateless forward pass."""
    values = [v.value for v in layer.trainable_variables]
    with keras.StatelessScope(
        state_mapping=list(zip(layer.trainable_variables, values, strict=True)),
        collect_losses=True,
    ):
        for _ in range(calls):
            layer(ids)
        return [float(x) for x in layer.losses]


@pytest.mark.parametrize("pooling", ["mean", "sum"])
def test_batch_l2_is_lambda_times_the_mean_squared_norm_of_looked_up_rows(pooling):
    layer = EmbeddingBagCollection(TABLES, 3, pooling=pooling, batch_l2=0.3)
    layer.build()
    rng = np.random.default_rng(0)
    layer.set_weights([rng.normal(size=(t["vocab_size"], 3)).astype("float32") for t in TABLES])
    users, genres = layer.get_weights()
    ids = {"user": np.array([1, 4, 4]), "genres": np.array([[1, 2, 0], [3, 0, 0], [0, 0, 0]])}
    user_sq = (users[ids["user"]] ** 2).sum(axis=1)  # every occurrence counts
    row_sq = (genres[ids["genres"]] ** 2).sum(axis=2) * (ids["genres"] != 0)
    bag_sq = row_sq.sum(axis=1)
    if pooling == "mean":
        bag_sq = bag_sq / np.maximum((ids["genres"] != 0).sum(axis=1), 1)
    expected = 0.3 * (user_sq.mean() + bag_sq.mean())
    (loss,) = _penalty(layer, ids)
    assert loss == pytest.approx(expected, rel=1e-5)
    # Looking the same ids up twice in one forward pass penalises them once.
    assert _penalty(layer, ids, calls=2) == pytest.approx([expected], rel=1e-5)


def test_batch_l2_zero_adds_no_loss_and_round_trips():
    assert _penalty(_layer(), {"user": np.array([1]), "genres": np.array([[1, 0]])}) == []
    layer = EmbeddingBagCollection(TABLES, 3, batch_l2=0.25)
    assert EmbeddingBagCollection.from_config(layer.get_config()).batch_l2 == 0.25
    with pytest.raises(ValueError, match="batch_l2 must be >= 0"):
        EmbeddingBagCollection(TABLES, 3, batch_l2=-1.0)
