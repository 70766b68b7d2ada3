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
