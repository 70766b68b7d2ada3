"""OverArch (torchrec DeepFM): Linear(in_features, 1) -> Sigmoid."""

from __future__ import annotations

import math

import numpy as np
import pytest

from recsys_core.layers.over_arch import OverArch

# isort: split
import jax
import jax.numpy as jnp
import keras


def test_hand_computed_and_numpy():
    layer = OverArch(in_features=3)
    layer.build()
    layer.set_weights([np.array([[1.0], [-2.0], [0.5]]), np.array([0.25])])
    x = np.array([[1.0, 1.0, 2.0]], np.float32)
    np.testing.assert_allclose(np.asarray(layer(x)), [[1 / (1 + math.exp(-0.25))]], rtol=1e-6)
    xs = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    z = xs @ np.array([[1.0], [-2.0], [0.5]]) + 0.25
    np.testing.assert_allclose(np.asarray(layer(xs)), 1 / (1 + np.exp(-z)), rtol=1e-5)
    assert layer.compute_output_shape((None, 3)) == (None, 1)
    assert tuple(OverArch(3)(keras.Input((3,))).shape) == (None, 1)


def test_config_round_trip_and_save(tmp_path):
    inputs = keras.Input((5,))
    model = keras.Model(inputs, OverArch.from_config(OverArch(5).get_config())(inputs))
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    x = np.random.default_rng(1).normal(size=(3, 5)).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(model(x)))
    assert loaded.layers[-1].get_config()["in_features"] == 5


def test_jit_and_grad():
    layer = OverArch(4)
    layer.build()
    x = np.random.default_rng(2).normal(size=(3, 4)).astype(np.float32)
    params = [v.value for v in layer.trainable_variables]

    def loss(p, inputs):
        return jnp.sum(layer.stateless_call(p, [], inputs)[0])

    grad_x = np.asarray(jax.jit(jax.grad(loss, argnums=1))(params, jnp.asarray(x)))
    w, b = (np.asarray(v, np.float64) for v in layer.get_weights())
    s = 1 / (1 + np.exp(-(x @ w + b)))
    np.testing.assert_allclose(grad_x, (s * (1 - s)) @ w.T, rtol=1e-5, atol=1e-6)


def test_bad_arguments_and_inputs():
    with pytest.raises(ValueError, match="in_features must be a positive integer"):
        OverArch(0)
    with pytest.raises(ValueError, match=r"shape \(batch, 3\)"):
        OverArch(3)(np.zeros((2, 4), np.float32))
