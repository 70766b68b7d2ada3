"""CrossNet (vector and matrix) against NumPy, DeepCTR golden values, serialization, jit/grad."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from recsys_core.layers.cross_net import CrossNet

# isort: split
import jax
import jax.numpy as jnp
import keras

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def cross_net_numpy(x, weights, layer_num, parameterization):
    x0 = np.asarray(x, np.float64)
    xl = x0.copy()
    kernels, biases = weights[:layer_num], weights[layer_num:]
    for k, b in zip(kernels, biases, strict=True):
        k, b = np.asarray(k, np.float64), np.asarray(b, np.float64)[:, 0]
        if parameterization == "vector":
            xl = x0 * (xl @ k[:, 0])[:, None] + b + xl
        else:
            xl = x0 * (np.einsum("ij,bj->bi", k, xl) + b) + xl
    return xl


def _load(name):
    data = np.load(FIXTURES / f"deepctr_{name}.npz")
    weights = [data[k] for k in sorted(data.files) if k[0] == "w" and k[1:].isdigit()]
    return json.loads(str(data["config"])), data["x"], weights, data["y"]


def _built(config, x, weights):
    layer = CrossNet(**config)
    layer(x)
    layer.set_weights(weights)
    return layer


def test_hand_computed():
    x = np.array([[1.0, 2.0]], np.float32)
    vec = CrossNet(layer_num=1, parameterization="vector")
    vec(x)
    vec.set_weights([np.array([[1.0], [1.0]], np.float32), np.array([[0.5], [-0.5]], np.float32)])
    # x.w = 3 -> x0 * 3 + b + x
    np.testing.assert_allclose(np.asarray(vec(x)), [[4.5, 7.5]])
    mat = CrossNet(layer_num=1, parameterization="matrix")
    mat(x)
    mat.set_weights([np.array([[1.0, 0.0], [1.0, 1.0]], np.float32), np.zeros((2, 1), np.float32)])
    # W x = [1, 3] -> x0 * (W x) + x
    np.testing.assert_allclose(np.asarray(mat(x)), [[2.0, 8.0]])


@pytest.mark.parametrize("name", ["cross_net_vector", "cross_net_matrix"])
def test_deepctr_golden(name):
    config, x, weights, y = _load(name)
    layer = _built(config, x, weights)
    assert [tuple(w.shape) for w in layer.weights] == [w.shape for w in weights]
    np.testing.assert_allclose(np.asarray(layer(x)), y, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        cross_net_numpy(x, weights, config["layer_num"], config["parameterization"]),
        y,
        rtol=1e-4,
        atol=1e-4,
    )


def test_shape_inference_and_no_print(capsys):
    layer = CrossNet(layer_num=2, parameterization="matrix")
    assert capsys.readouterr().out == ""  # DeepCTR prints the parameterization
    assert layer.compute_output_shape((None, 7)) == (None, 7)
    assert tuple(layer(keras.Input((7,))).shape) == (None, 7)


@pytest.mark.parametrize("name", ["cross_net_vector", "cross_net_matrix"])
def test_config_round_trip_and_save(name, tmp_path):
    config, x, weights, y = _load(name)
    layer = _built(config, x, weights)
    cfg = layer.get_config()
    assert {k: cfg[k] for k in config} == config
    inputs = keras.Input(x.shape[1:])
    model = keras.Model(inputs, CrossNet.from_config(cfg)(inputs))
    model.layers[-1].set_weights(weights)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(model(x)))
    np.testing.assert_allclose(np.asarray(loaded(x)), y, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["cross_net_vector", "cross_net_matrix"])
def test_jit_and_grad(name):
    config, x, weights, _ = _load(name)
    layer = _built(config, x, weights)
    params = [v.value for v in layer.trainable_variables]

    def loss(p, inputs):
        return jnp.sum(layer.stateless_call(p, [], inputs)[0])

    grad_x = jax.jit(jax.grad(loss, argnums=1))(params, jnp.asarray(x))
    grad_w = jax.jit(jax.grad(loss))(params, jnp.asarray(x))
    assert all(np.all(np.isfinite(np.asarray(g))) for g in grad_w)
    # d(sum out)/d(bias_last): the batch size (vector: b is added) or sum_b x0 (matrix: x0 * b)
    expected_bias_grad = np.full(6, x.shape[0]) if name.endswith("vector") else x.sum(0)
    np.testing.assert_allclose(np.asarray(grad_w[-1])[:, 0], expected_bias_grad, rtol=1e-5)
    x64 = x.astype(np.float64)
    fd = np.zeros_like(x64)
    for idx in np.ndindex(x64.shape):
        step = np.zeros_like(x64)
        step[idx] = 1e-6
        f = [
            cross_net_numpy(z, weights, config["layer_num"], config["parameterization"]).sum()
            for z in (x64 + step, x64 - step)
        ]
        fd[idx] = (f[0] - f[1]) / 2e-6
    np.testing.assert_allclose(np.asarray(grad_x), fd, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("parameterization", ["vector", "matrix"])
def test_effective_kernels(parameterization):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(4, 5)).astype(np.float32)
    layer = CrossNet(layer_num=2, parameterization=parameterization)
    layer(x)
    weights = [rng.normal(size=w.shape).astype(np.float32) for w in layer.get_weights()]
    layer.set_weights(weights)
    kernels = [np.asarray(k) for k in layer.effective_kernels()]
    assert len(kernels) == 2
    expected_shape = (5,) if parameterization == "vector" else (5, 5)
    assert all(k.shape == expected_shape for k in kernels)
    # first cross layer rebuilt from the explained kernel
    one = CrossNet(layer_num=1, parameterization=parameterization)
    one(x)
    one.set_weights([weights[0], weights[2]])
    k0, b0 = kernels[0], weights[2][:, 0]
    pre = x @ k0 if parameterization == "vector" else x @ k0.T
    expected = x * (pre[:, None] if parameterization == "vector" else pre + b0) + x
    if parameterization == "vector":
        expected = expected + b0
    np.testing.assert_allclose(np.asarray(one(x)), expected, rtol=1e-5, atol=1e-5)


def test_bad_arguments_and_inputs():
    with pytest.raises(ValueError, match="parameterization must be one of"):
        CrossNet(parameterization="diag")
    with pytest.raises(ValueError, match="rank 2"):
        CrossNet()(np.zeros((2, 3, 4), np.float32))
    layer = CrossNet()
    layer(np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError, match=r"shape \(batch, 4\)"):
        layer(np.zeros((2, 5), np.float32))
