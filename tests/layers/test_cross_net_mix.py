"""CrossNetMix against NumPy, DeepCTR golden values, serialization, jit/grad, explanations."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from recsys_core.layers.cross_net_mix import CrossNetMix

# isort: split
import jax
import jax.numpy as jnp
import keras

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def mix_numpy(x, weights, layer_num, num_experts):
    w = [np.asarray(a, np.float64) for a in weights]
    us, vs, cs = w[:layer_num], w[layer_num : 2 * layer_num], w[2 * layer_num : 3 * layer_num]
    bs, gates = w[3 * layer_num : 4 * layer_num], w[4 * layer_num :]
    x0 = np.asarray(x, np.float64)
    xl = x0.copy()
    for i in range(layer_num):
        logits = np.stack([xl @ gates[e][:, 0] for e in range(num_experts)], axis=1)
        g = np.exp(logits - logits.max(1, keepdims=True))
        g /= g.sum(1, keepdims=True)
        mixed = np.zeros_like(xl)
        for e in range(num_experts):
            v = np.tanh(xl @ vs[i][e])
            v = np.tanh(v @ cs[i][e].T)
            mixed += g[:, e : e + 1] * x0 * (v @ us[i][e].T + bs[i][:, 0])
        xl = mixed + xl
    return xl


def _load():
    data = np.load(FIXTURES / "deepctr_cross_net_mix.npz")
    weights = [data[k] for k in sorted(data.files) if k[0] == "w" and k[1:].isdigit()]
    return json.loads(str(data["config"])), data["x"], weights, data["y"]


def _built(config, x, weights):
    layer = CrossNetMix(**config)
    layer(x)
    layer.set_weights(weights)
    return layer


def test_hand_computed_single_expert():
    layer = CrossNetMix(low_rank=1, num_experts=1, layer_num=1)
    x = np.array([[0.5, -0.25]], np.float32)
    layer(x)
    u, v, c = np.array([[[1.0], [2.0]]]), np.array([[[1.0], [1.0]]]), np.array([[[1.0]]])
    layer.set_weights([a.astype(np.float32) for a in (u, v, c, np.zeros((2, 1)), np.ones((2, 1)))])
    t = math.tanh(math.tanh(0.25))  # V^T x = 0.25, C = 1; one expert -> gate 1
    np.testing.assert_allclose(
        np.asarray(layer(x)), [[0.5 * t + 0.5, -0.25 * 2 * t - 0.25]], rtol=1e-6
    )


def test_deepctr_golden_and_numpy():
    config, x, weights, y = _load()
    layer = _built(config, x, weights)
    assert [tuple(w.shape) for w in layer.weights] == [w.shape for w in weights]
    np.testing.assert_allclose(np.asarray(layer(x)), y, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(mix_numpy(x, weights, 2, 2), y, rtol=1e-4, atol=1e-4)


def test_shape_inference():
    layer = CrossNetMix(low_rank=2, num_experts=3)
    assert layer.compute_output_shape((None, 6)) == (None, 6)
    assert tuple(layer(keras.Input((6,))).shape) == (None, 6)


def test_config_round_trip_and_save(tmp_path):
    config, x, weights, y = _load()
    cfg = _built(config, x, weights).get_config()
    assert {k: cfg[k] for k in config} == config
    inputs = keras.Input(x.shape[1:])
    model = keras.Model(inputs, CrossNetMix.from_config(cfg)(inputs))
    model.layers[-1].set_weights(weights)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(model(x)))
    np.testing.assert_allclose(np.asarray(loaded(x)), y, rtol=1e-5, atol=1e-5)


def test_jit_and_grad():
    config, x, weights, _ = _load()
    layer = _built(config, x, weights)
    params = [v.value for v in layer.trainable_variables]

    def loss(p, inputs):
        return jnp.sum(layer.stateless_call(p, [], inputs)[0])

    grad_x = jax.jit(jax.grad(loss, argnums=1))(params, jnp.asarray(x))
    grad_w = jax.jit(jax.grad(loss))(params, jnp.asarray(x))
    assert len(grad_w) == len(weights) and all(np.all(np.isfinite(np.asarray(g))) for g in grad_w)
    assert np.abs(np.asarray(grad_w[-1])).sum() > 0  # the gates get gradient
    x64 = x.astype(np.float64)
    fd = np.zeros_like(x64)
    for idx in np.ndindex(x64.shape):
        step = np.zeros_like(x64)
        step[idx] = 1e-6
        fd[idx] = (
            mix_numpy(x64 + step, weights, 2, 2).sum() - mix_numpy(x64 - step, weights, 2, 2).sum()
        ) / 2e-6
    np.testing.assert_allclose(np.asarray(grad_x), fd, rtol=1e-3, atol=1e-3)


def test_effective_kernels_and_gates():
    config, x, weights, _ = _load()
    layer = _built(config, x, weights)
    kernels = [np.asarray(k) for k in layer.effective_kernels()]
    assert len(kernels) == 2 and kernels[0].shape == (2, 6, 6)
    u, v, c = weights[0], weights[2], weights[4]
    for e in range(2):
        np.testing.assert_allclose(kernels[0][e], u[e] @ c[e] @ v[e].T, rtol=1e-5, atol=1e-5)
    # relation to the output: one layer, one expert, zero bias, small x -> (out - x) / x ~ K x
    one = CrossNetMix(low_rank=3, num_experts=1, layer_num=1)
    one(x)
    one.set_weights([u[:1], v[:1], c[:1], np.zeros((6, 1), np.float32), weights[-1]])
    small = (1e-3 * x).astype(np.float32)
    ratio = (np.asarray(one(small)) - small) / small
    k = np.asarray(one.effective_kernels()[0][0])
    np.testing.assert_allclose(ratio, small @ k.T, rtol=2e-3, atol=1e-7)
    gates = np.asarray(layer.gating_scores(x))
    assert gates.shape == (x.shape[0], 2, 2)
    np.testing.assert_allclose(gates.sum(-1), 1.0, rtol=1e-6)
    logits = np.stack([x @ weights[-2][:, 0], x @ weights[-1][:, 0]], axis=1)
    np.testing.assert_allclose(
        gates[:, 0], np.exp(logits) / np.exp(logits).sum(1, keepdims=True), rtol=1e-5
    )


def test_bad_arguments_and_inputs():
    with pytest.raises(ValueError, match="num_experts must be >= 1"):
        CrossNetMix(num_experts=0)
    with pytest.raises(ValueError, match="low_rank must be >= 1"):
        CrossNetMix(low_rank=0)
    with pytest.raises(ValueError, match="rank 2"):
        CrossNetMix()(np.zeros((2, 3, 4), np.float32))
    layer = CrossNetMix(low_rank=2, num_experts=2)
    layer(np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError, match=r"shape \(batch, 4\)"):
        layer(np.zeros((2, 5), np.float32))
