"""DenseArch (torchrec DeepFM): Linear -> ReLU -> Linear -> ReLU, checked by hand and with NumPy."""

from __future__ import annotations

import numpy as np
import pytest

from recsys_core.layers.dense_arch import DenseArch

# isort: split
import jax
import jax.numpy as jnp
import keras


def dense_arch_numpy(x, w1, b1, w2, b2):
    return np.maximum(np.maximum(x @ w1 + b1, 0) @ w2 + b2, 0)


def _layer(seed=0):
    layer = DenseArch(in_features=4, hidden_layer_size=5, embedding_dim=3)
    layer.build()
    rng = np.random.default_rng(seed)
    weights = [rng.normal(size=w.shape).astype(np.float32) for w in layer.get_weights()]
    layer.set_weights(weights)
    return layer, weights


def test_hand_computed():
    layer = DenseArch(in_features=2, hidden_layer_size=2, embedding_dim=1)
    layer.build()
    layer.set_weights(
        [
            np.array([[1.0, -1.0], [1.0, 1.0]]),
            np.array([0.0, -5.0]),
            np.array([[2.0], [3.0]]),
            np.array([-1.0]),
        ]
    )
    # hidden = relu([3, -5 + 1]) = [3, 0]; out = relu(6 - 1)
    np.testing.assert_allclose(np.asarray(layer(np.array([[1.0, 2.0]], np.float32))), [[5.0]])


def test_matches_numpy_and_shapes():
    layer, weights = _layer()
    assert [w.shape for w in weights] == [(4, 5), (5,), (5, 3), (3,)]
    x = np.random.default_rng(1).normal(size=(6, 4)).astype(np.float32)
    np.testing.assert_allclose(
        np.asarray(layer(x)), dense_arch_numpy(x, *weights), rtol=1e-5, atol=1e-5
    )
    assert layer.compute_output_shape((None, 4)) == (None, 3)
    assert tuple(DenseArch(4, 5, 3)(keras.Input((4,))).shape) == (None, 3)


def test_config_round_trip_and_save(tmp_path):
    layer, weights = _layer()
    cfg = layer.get_config()
    assert (cfg["in_features"], cfg["hidden_layer_size"], cfg["embedding_dim"]) == (4, 5, 3)
    inputs = keras.Input((4,))
    model = keras.Model(inputs, DenseArch.from_config(cfg)(inputs))
    model.layers[-1].set_weights(weights)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    x = np.random.default_rng(2).normal(size=(3, 4)).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(model(x)))


def test_jit_and_grad():
    layer, weights = _layer()
    x = np.random.default_rng(3).normal(size=(5, 4)).astype(np.float32)
    params = [v.value for v in layer.trainable_variables]

    def loss(p, inputs):
        return jnp.sum(layer.stateless_call(p, [], inputs)[0])

    grad_x = np.asarray(jax.jit(jax.grad(loss, argnums=1))(params, jnp.asarray(x)))
    w1, b1, w2, b2 = (w.astype(np.float64) for w in weights)
    h = x @ w1 + b1
    o = np.maximum(h, 0) @ w2 + b2
    expected = (((o > 0).astype(float) @ w2.T) * (h > 0)) @ w1.T  # analytic backprop
    np.testing.assert_allclose(grad_x, expected, rtol=1e-4, atol=1e-5)


def test_bad_arguments_and_inputs():
    with pytest.raises(ValueError, match="hidden_layer_size must be a positive integer"):
        DenseArch(4, 0, 3)
    layer, _ = _layer()
    with pytest.raises(ValueError, match=r"shape \(batch, 4\)"):
        layer(np.zeros((2, 5), np.float32))
