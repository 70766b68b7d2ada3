"""CIN against a loop-based NumPy formula, DeepCTR golden values, serialization, jit/grad."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from recsys_core.layers.cin import CIN

# isort: split
import jax
import jax.numpy as jnp
import keras

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
ACTS = {"relu": lambda z: np.maximum(z, 0), "tanh": np.tanh, "linear": lambda z: z}


def cin_numpy(x, weights, layer_size, split_half, activation):
    """Independent formula: explicit loops over fields and feature maps, float64."""
    x = np.asarray(x, np.float64)
    batch, f0, dim = x.shape
    hidden, outs = x, []
    for k, size in enumerate(layer_size):
        w = np.asarray(weights[2 * k], np.float64)[0]
        b = np.asarray(weights[2 * k + 1], np.float64)
        fk = hidden.shape[1]
        pre = np.zeros((batch, size, dim))
        for h in range(size):
            for i in range(f0):
                for j in range(fk):
                    pre[:, h, :] += w[i * fk + j, h] * x[:, i, :] * hidden[:, j, :]
            pre[:, h, :] += b[h]
        maps = ACTS[activation](pre)
        if split_half and k != len(layer_size) - 1:
            hidden, direct = maps[:, : size // 2], maps[:, size // 2 :]
        else:
            hidden, direct = maps, maps
        outs.append(direct.sum(-1))
    return np.concatenate(outs, axis=1)


def _load(name):
    data = np.load(FIXTURES / f"deepctr_{name}.npz")
    weights = [data[k] for k in sorted(data.files) if k[0] == "w" and k[1:].isdigit()]
    return json.loads(str(data["config"])), data["x"], weights, data["y"]


def _built(config, x, weights):
    layer = CIN(**config)
    layer(x)
    layer.set_weights(weights)
    return layer


def test_hand_computed_single_map():
    # F = 2 fields of dim 1, one linear feature map: sum_{i,j} W[i,j] x_i x_j + b
    layer = CIN(layer_size=[1], activation="linear", split_half=False)
    x = np.array([[[1.0], [2.0]]], np.float32)
    layer(x)
    layer.set_weights(
        [np.array([[[1.0], [2.0], [3.0], [4.0]]], np.float32), np.array([0.5], np.float32)]
    )
    # 1*1*1 + 2*1*2 + 3*2*1 + 4*2*2 + 0.5
    np.testing.assert_allclose(np.asarray(layer(x)), [[27.5]], rtol=1e-6)


@pytest.mark.parametrize(
    "layer_size, split_half, activation",
    [([4, 6, 3], True, "relu"), ([3, 2], False, "tanh"), ([2, 2], True, "linear")],
)
def test_matches_numpy_formula(layer_size, split_half, activation):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 4, 5)).astype(np.float32)
    layer = CIN(layer_size=layer_size, split_half=split_half, activation=activation)
    layer(x)
    weights = [rng.normal(scale=0.5, size=w.shape).astype(np.float32) for w in layer.get_weights()]
    layer.set_weights(weights)
    expected = cin_numpy(x, weights, layer_size, split_half, activation)
    np.testing.assert_allclose(np.asarray(layer(x)), expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", ["cin_split_half", "cin_no_split", "cin_linear"])
def test_deepctr_golden(name):
    config, x, weights, y = _load(name)
    layer = _built(config, x, weights)
    assert [tuple(w.shape) for w in layer.weights] == [w.shape for w in weights]
    np.testing.assert_allclose(np.asarray(layer(x)), y, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        cin_numpy(x, weights, config["layer_size"], config["split_half"], config["activation"]),
        y,
        rtol=1e-4,
        atol=1e-4,
    )


def test_shape_inference():
    assert CIN([4, 6, 3]).compute_output_shape((None, 5, 4)) == (None, 8)
    assert CIN([4, 6, 3], split_half=False).compute_output_shape((None, 5, 4)) == (None, 13)
    symbolic = CIN([4, 3])(keras.Input((5, 4)))
    assert tuple(symbolic.shape) == (None, 5)


def test_config_round_trip_and_save(tmp_path):
    config, x, weights, y = _load("cin_split_half")
    layer = _built(config, x, weights)
    cfg = layer.get_config()
    for key in ("layer_size", "activation", "split_half", "l2_reg", "seed"):
        assert cfg[key] == config[key], key  # DeepCTR drops l2_reg
    clone = CIN.from_config(cfg)
    assert clone.l2_reg == 1e-5
    inputs = keras.Input(x.shape[1:])
    model = keras.Model(inputs, CIN(**config)(inputs))
    model.layers[-1].set_weights(weights)
    model.save(tmp_path / "cin.keras")
    loaded = keras.models.load_model(tmp_path / "cin.keras")
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(model(x)))
    np.testing.assert_allclose(np.asarray(loaded(x)), y, rtol=1e-5, atol=1e-5)


def test_jit_and_grad():
    config, x, weights, _ = _load("cin_no_split")
    layer = _built(config, x, weights)
    trainable = [v.value for v in layer.trainable_variables]

    def loss(params, inputs):
        out, _ = layer.stateless_call(params, [], inputs)
        return jnp.sum(out)

    grad_x = jax.jit(jax.grad(loss, argnums=1))(trainable, jnp.asarray(x))
    grad_w = jax.jit(jax.grad(loss))(trainable, jnp.asarray(x))
    assert all(np.all(np.isfinite(np.asarray(g))) for g in grad_w)
    assert np.abs(np.asarray(grad_w[0])).sum() > 0

    def ref(z):
        return cin_numpy(
            z, weights, config["layer_size"], config["split_half"], config["activation"]
        ).sum()

    x64 = x.astype(np.float64)
    fd = np.zeros_like(x64)
    for idx in np.ndindex(x64.shape):
        step = np.zeros_like(x64)
        step[idx] = 1e-6
        fd[idx] = (ref(x64 + step) - ref(x64 - step)) / 2e-6
    np.testing.assert_allclose(np.asarray(grad_x), fd, rtol=1e-3, atol=1e-3)


def test_first_layer_explanation():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 3, 4)).astype(np.float32)
    layer = CIN(layer_size=[5], activation="linear", split_half=False)
    layer(x)
    filt = rng.normal(size=(1, 9, 5)).astype(np.float32)
    bias = rng.normal(size=(5,)).astype(np.float32)
    layer.set_weights([filt, bias])
    w = np.asarray(layer.first_layer_field_weights())
    assert w.shape == (3, 3, 5)
    for i in range(3):
        for j in range(3):
            np.testing.assert_array_equal(w[i, j], filt[0, i * 3 + j])
    contrib = np.asarray(layer.first_layer_pair_contributions(x))
    assert contrib.shape == (2, 3, 3, 5)
    gram = np.einsum("bid,bjd->bij", x, x)
    np.testing.assert_allclose(contrib, gram[..., None] * w[None], rtol=1e-5, atol=1e-6)
    # one linear layer: output = sum over pairs + embedding_size * bias
    np.testing.assert_allclose(
        contrib.sum(axis=(1, 2)) + 4 * bias, np.asarray(layer(x)), rtol=1e-5, atol=1e-5
    )


def test_bad_arguments_and_inputs():
    with pytest.raises(ValueError, match="layer_size must hold at least one"):
        CIN(layer_size=[])
    with pytest.raises(ValueError, match="must be even except for the last layer"):
        CIN(layer_size=[3, 2], split_half=True)
    with pytest.raises(ValueError, match="rank 3"):
        CIN([2])(np.zeros((2, 4), np.float32))
    layer = CIN([2])
    layer(np.zeros((2, 3, 4), np.float32))
    with pytest.raises(ValueError, match="field_size=3"):
        layer(np.zeros((2, 5, 4), np.float32))
