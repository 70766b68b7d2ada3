"""DNN baseline: output against NumPy, field vectors of the flat-feature models, validation."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from recsys_core.models.dnn import DNNModel

TABLES = [{"name": "a", "vocab_size": 5}, {"name": "b", "vocab_size": 4}]


def tiny(continuous=("c1", "c2"), **kwargs):
    keras.utils.set_random_seed(0)
    model = DNNModel(TABLES, list(continuous), embedding_dim=3, output_bias=0.5, **kwargs)
    model.build()
    rng = np.random.default_rng(1)
    for v in model.weights:
        v.assign(rng.normal(scale=0.4, size=v.shape).astype("float32"))
    x = {"a": np.array([1, 2, 4, 0], "int32"), "b": np.array([3, 1, 0, 2], "int32")}
    if continuous:
        x["continuous"] = rng.normal(size=(4, len(continuous))).astype("float32")
    return model, x


def flat_numpy(model, x):
    parts = [
        np.asarray(model.embedding.embeddings[t["name"]].embeddings)[x[t["name"]]] for t in TABLES
    ]
    if "continuous" in x:
        parts.append(x["continuous"])
    return np.concatenate(parts, axis=1)


def mlp_numpy(dense_layers, h, last_linear=True):
    for i, layer in enumerate(dense_layers):
        h = h @ np.asarray(layer.kernel) + np.asarray(layer.bias)
        if not (last_linear and i == len(dense_layers) - 1):
            h = np.maximum(h, 0.0)
    return h


def test_output_matches_numpy():
    model, x = tiny(dnn=[6, 4])
    expected = mlp_numpy(model.deep.dense_layers, flat_numpy(model, x))
    np.testing.assert_allclose(np.asarray(model(x)), expected, rtol=1e-5, atol=1e-5)
    assert model.continuous_projection is None  # the raw columns are read, no unused weights
    assert model.count_params() == (5 + 4) * 3 + (8 * 6 + 6) + (6 * 4 + 4) + (4 + 1)


def test_output_starts_at_the_output_bias():
    model = DNNModel(TABLES, ["c1"], embedding_dim=3, dnn=[4], output_bias=3.5)
    model.build()
    assert float(np.asarray(model.deep.dense_layers[-1].bias)[0]) == 3.5


def test_field_vectors_pad_the_continuous_columns():
    model, x = tiny(dnn=[4])
    vectors = [np.asarray(v) for v in model.field_vectors(x)]
    assert len(vectors) == len(model.field_names) == 3
    np.testing.assert_array_equal(vectors[2][:, :2], x["continuous"])
    np.testing.assert_array_equal(vectors[2][:, 2], 0.0)


def test_field_vectors_fold_more_columns_than_the_width():
    model, x = tiny(continuous=("c1", "c2", "c3", "c4", "c5"), dnn=[4])
    cont = np.asarray(model.field_vectors(x)[2])
    padded = np.concatenate([x["continuous"], np.zeros((4, 1), "float32")], axis=1)
    np.testing.assert_allclose(cont, padded[:, :3] + padded[:, 3:], rtol=1e-6)


def test_without_continuous_columns():
    model, x = tiny(continuous=(), dnn=[4])
    assert model.field_names == ["a", "b"] and len(model.field_vectors(x)) == 2
    assert model(x).shape == (4, 1)


def test_validation():
    with pytest.raises(ValueError, match="at least one hidden layer"):
        DNNModel(TABLES, [], dnn=[])
    with pytest.raises(ValueError, match="dropout"):
        DNNModel(TABLES, [], dnn=[4], dropout=1.0)
