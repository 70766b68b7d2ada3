"""FeatureCross against keras_rs.layers.FeatureCross (same weights), NumPy, serialization, jit/grad."""

from __future__ import annotations

import numpy as np
import pytest

from recsys_core.layers.feature_cross import FeatureCross

# isort: split
import jax
import jax.numpy as jnp
import keras
import keras_rs

CASES = [
    {},
    {"projection_dim": 2},
    {"diag_scale": 0.7},
    {"projection_dim": 3, "diag_scale": 0.5, "pre_activation": "tanh"},
    {"pre_activation": "relu", "use_bias": False},
]


def cross_numpy(x0, x, kernel, bias, diag_scale=0.0, act=None):
    pre = x @ kernel + (0 if bias is None else bias)
    if act is not None:
        pre = act(pre)
    return x0 * (pre + diag_scale * x) + x


def _pair(kwargs, x0):
    ours, ref = FeatureCross(**kwargs), keras_rs.layers.FeatureCross(**kwargs)
    ours(x0)
    ref(x0)
    rng = np.random.default_rng(5)
    weights = [rng.normal(scale=0.5, size=w.shape).astype(np.float32) for w in ref.get_weights()]
    ours.set_weights(weights)
    ref.set_weights(weights)
    return ours, ref, weights


@pytest.mark.parametrize("kwargs", CASES)
def test_identical_to_keras_rs(kwargs):
    rng = np.random.default_rng(0)
    x0 = rng.normal(size=(4, 6)).astype(np.float32)
    x = rng.normal(size=(4, 6)).astype(np.float32)
    ours, ref, _ = _pair(kwargs, x0)
    assert [w.shape for w in ours.weights] == [w.shape for w in ref.weights]
    np.testing.assert_array_equal(np.asarray(ours(x0)), np.asarray(ref(x0)))
    np.testing.assert_array_equal(np.asarray(ours(x0, x)), np.asarray(ref(x0, x)))
    x3 = rng.normal(size=(2, 3, 6)).astype(np.float32)  # (batch, ..., input_dim)
    np.testing.assert_array_equal(np.asarray(ours(x3)), np.asarray(ref(x3)))


def test_hand_computed_and_defaults():
    layer = FeatureCross()
    x = np.array([[1.0, 2.0]], np.float32)
    layer(x)
    assert layer.diag_scale == 0.0
    np.testing.assert_array_equal(np.asarray(layer.dense.bias), [0.0, 0.0])  # "zeros", not "ones"
    layer.set_weights(
        [np.array([[1.0, 0.0], [2.0, 1.0]], np.float32), np.array([0.5, 0.0], np.float32)]
    )
    # x W = [5, 2]; + b = [5.5, 2]; x0 * that + x
    np.testing.assert_allclose(np.asarray(layer(x)), [[6.5, 6.0]])


@pytest.mark.parametrize("kwargs", CASES)
def test_effective_kernel(kwargs):
    rng = np.random.default_rng(1)
    x0 = rng.normal(size=(4, 6)).astype(np.float32)
    x = rng.normal(size=(4, 6)).astype(np.float32)
    ours, _, weights = _pair(kwargs, x0)
    kernel = np.asarray(ours.effective_kernel())
    assert kernel.shape == (6, 6)
    expected = weights[0] @ weights[1] if kwargs.get("projection_dim") else weights[0]
    np.testing.assert_allclose(kernel, expected, rtol=1e-6)
    diag = kwargs.get("diag_scale", 0.0)
    np.testing.assert_allclose(
        np.asarray(ours.effective_kernel(include_diag=True)), expected + diag * np.eye(6), rtol=1e-6
    )
    bias = weights[-1] if kwargs.get("use_bias", True) else None
    act = {"tanh": np.tanh, "relu": lambda z: np.maximum(z, 0)}.get(kwargs.get("pre_activation"))
    np.testing.assert_allclose(
        np.asarray(ours(x0, x)), cross_numpy(x0, x, kernel, bias, diag, act), rtol=1e-5, atol=1e-5
    )
    if act is None:  # then W + diag_scale * I is the whole linear map
        full = np.asarray(ours.effective_kernel(include_diag=True))
        np.testing.assert_allclose(
            np.asarray(ours(x0, x)), x0 * (x @ full + bias) + x, rtol=1e-5, atol=1e-5
        )


def test_shape_inference():
    layer = FeatureCross(projection_dim=2)
    assert tuple(layer(keras.Input((6,))).shape) == (None, 6)
    assert tuple(FeatureCross()(keras.Input((3, 6)), keras.Input((3, 6))).shape) == (None, 3, 6)


def test_config_round_trip_and_save(tmp_path):
    kwargs = CASES[3]
    x0 = np.random.default_rng(2).normal(size=(3, 6)).astype(np.float32)
    ours, _, weights = _pair(kwargs, x0)
    cfg = ours.get_config()
    assert (
        cfg["projection_dim"] == 3 and cfg["diag_scale"] == 0.5 and cfg["pre_activation"] == "tanh"
    )
    assert isinstance(FeatureCross.from_config(cfg), FeatureCross)
    inputs = keras.Input((6,))
    first = FeatureCross(**kwargs)
    model = keras.Model(inputs, FeatureCross(**kwargs)(inputs, first(inputs)))
    first.set_weights(weights)
    model.layers[-1].set_weights(weights)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert type(loaded.layers[-1]) is FeatureCross
    np.testing.assert_array_equal(np.asarray(loaded(x0)), np.asarray(model(x0)))


def test_jit_and_grad():
    x0 = np.random.default_rng(3).normal(size=(3, 5)).astype(np.float32)
    layer = FeatureCross(diag_scale=0.3)
    layer(x0)
    params = [v.value for v in layer.trainable_variables]

    def loss(p, inputs):
        return jnp.sum(layer.stateless_call(p, [], inputs)[0])

    grad_x = np.asarray(jax.jit(jax.grad(loss, argnums=1))(params, jnp.asarray(x0)))
    grad_w = jax.jit(jax.grad(loss))(params, jnp.asarray(x0))
    # analytic: out_j = x_j * (sum_i x_i W_ij + b_j + d x_j) + x_j
    w = np.asarray(layer.dense.kernel, np.float64)
    b = np.asarray(layer.dense.bias, np.float64)
    x = x0.astype(np.float64)
    expected = (x @ w + b + 2 * 0.3 * x + 1) + x @ w.T
    np.testing.assert_allclose(grad_x, expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.asarray(grad_w[0]), x.T @ x, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.asarray(grad_w[1]), x.sum(0), rtol=1e-5, atol=1e-5)


def test_bad_arguments_and_inputs():
    with pytest.raises(ValueError, match="diag_scale must be non-negative"):
        FeatureCross(diag_scale=-1.0)
    with pytest.raises(ValueError, match="projection_dim must be None or a positive integer"):
        FeatureCross(projection_dim=0)
    with pytest.raises(ValueError, match="rank >= 2"):
        FeatureCross()(np.zeros((4,), np.float32))
    layer = FeatureCross()
    with pytest.raises(ValueError, match="same shape"):
        layer(np.zeros((2, 4), np.float32), np.zeros((3, 4), np.float32))
