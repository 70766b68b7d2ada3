"""InteractingLayer against NumPy attention, DeepCTR golden values, serialization, jit/grad."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from recsys_core.layers.interacting_layer import InteractingLayer

# isort: split
import jax
import jax.numpy as jnp
import keras

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
MODES = ["interacting_layer_res", "interacting_layer_scaling", "interacting_layer_res_scaling"]


def attention_numpy(x, weights, att, heads, use_res, scaling):
    """Returns (output, scores (batch, heads, F, F)), loops over heads, float64."""
    x = np.asarray(x, np.float64)
    wq, wk, wv = (np.asarray(w, np.float64) for w in weights[:3])
    outs, scores = [], []
    for h in range(heads):
        cols = slice(h * att, (h + 1) * att)
        logits = (x @ wq[:, cols]) @ np.swapaxes(x @ wk[:, cols], 1, 2)
        if scaling:
            logits = logits / math.sqrt(att)
        a = np.exp(logits - logits.max(-1, keepdims=True))
        a /= a.sum(-1, keepdims=True)
        scores.append(a)
        outs.append(a @ (x @ wv[:, cols]))
    out = np.concatenate(outs, axis=-1)
    if use_res:
        out = out + x @ np.asarray(weights[3], np.float64)
    return np.maximum(out, 0), np.stack(scores, axis=1)


def _load(name):
    data = np.load(FIXTURES / f"deepctr_{name}.npz")
    weights = [data[k] for k in sorted(data.files) if k[0] == "w" and k[1:].isdigit()]
    return json.loads(str(data["config"])), data["x"], weights, data["y"]


def _built(config, x, weights):
    layer = InteractingLayer(**config)
    layer(x)
    layer.set_weights(weights)
    return layer


def _ref(config, x, weights):
    return attention_numpy(
        x,
        weights,
        config["att_embedding_size"],
        config["head_num"],
        config["use_res"],
        config["scaling"],
    )


def test_hand_computed():
    layer = InteractingLayer(att_embedding_size=1, head_num=1, use_res=False)
    x = np.array([[[1.0], [2.0]]], np.float32)
    layer(x)
    layer.set_weights([np.ones((1, 1), np.float32)] * 3)
    # scores row i = softmax(x_i * [1, 2]); out_i = relu(sum_j a_ij x_j)
    a0 = math.exp(1) / (math.exp(1) + math.exp(2))
    a1 = math.exp(2) / (math.exp(2) + math.exp(4))
    out, scores = layer(x, return_attention_scores=True)
    np.testing.assert_allclose(
        np.asarray(out)[0, :, 0], [a0 + 2 * (1 - a0), a1 + 2 * (1 - a1)], rtol=1e-6
    )
    np.testing.assert_allclose(np.asarray(scores)[0, 0, :, 0], [a0, a1], rtol=1e-6)


@pytest.mark.parametrize("name", MODES)
def test_deepctr_golden_and_numpy(name):
    config, x, weights, y = _load(name)
    layer = _built(config, x, weights)
    assert [tuple(w.shape) for w in layer.weights] == [w.shape for w in weights]
    np.testing.assert_allclose(np.asarray(layer(x)), y, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(_ref(config, x, weights)[0], y, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", MODES)
def test_attention_scores(name):
    config, x, weights, y = _load(name)
    layer = _built(config, x, weights)
    out, scores = layer(x, return_attention_scores=True)
    ref_out, ref_scores = _ref(config, x, weights)
    assert scores.shape == (x.shape[0], config["head_num"], x.shape[1], x.shape[1])
    np.testing.assert_allclose(np.asarray(scores), ref_scores, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(scores).sum(-1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(out), y, rtol=1e-5, atol=1e-5)
    # relation to the output: head h's slice = relu(A_h V_h [+ residual])
    att = config["att_embedding_size"]
    values = x @ weights[2]
    mixed = np.concatenate(
        [
            np.asarray(scores)[:, h] @ values[..., h * att : (h + 1) * att]
            for h in range(config["head_num"])
        ],
        -1,
    )
    res = x @ weights[3] if config["use_res"] else 0.0
    np.testing.assert_allclose(np.maximum(mixed + res, 0), y, rtol=1e-4, atol=1e-5)


def test_shape_inference():
    layer = InteractingLayer(att_embedding_size=3, head_num=4)
    assert layer.compute_output_shape((None, 5, 7)) == (None, 5, 12)
    out, scores = layer(keras.Input((5, 7)), return_attention_scores=True)
    assert tuple(out.shape) == (None, 5, 12) and tuple(scores.shape) == (None, 4, 5, 5)


def test_config_keeps_scaling_and_save(tmp_path):
    config, x, weights, y = _load("interacting_layer_scaling")
    cfg = _built(config, x, weights).get_config()
    assert {k: cfg[k] for k in config} == config  # DeepCTR drops scaling
    clone = InteractingLayer.from_config(cfg)
    assert clone.scaling is True
    inputs = keras.Input(x.shape[1:])
    out, scores = InteractingLayer(**config)(inputs, return_attention_scores=True)
    model = keras.Model(inputs, [out, scores])
    model.layers[-1].set_weights(weights)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    for a, b in zip(loaded(x), model(x), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    np.testing.assert_allclose(np.asarray(loaded(x)[0]), y, rtol=1e-5, atol=1e-5)


def test_jit_and_grad():
    config, x, weights, _ = _load("interacting_layer_res_scaling")
    layer = _built(config, x, weights)
    params = [v.value for v in layer.trainable_variables]

    def loss(p, inputs):
        return jnp.sum(layer.stateless_call(p, [], inputs)[0])

    grad_x = jax.jit(jax.grad(loss, argnums=1))(params, jnp.asarray(x))
    grad_w = jax.jit(jax.grad(loss))(params, jnp.asarray(x))
    assert len(grad_w) == 4 and all(np.all(np.isfinite(np.asarray(g))) for g in grad_w)
    x64 = x.astype(np.float64)
    fd = np.zeros_like(x64)
    for idx in np.ndindex(x64.shape):
        step = np.zeros_like(x64)
        step[idx] = 1e-6
        fd[idx] = (
            _ref(config, x64 + step, weights)[0].sum() - _ref(config, x64 - step, weights)[0].sum()
        ) / 2e-6
    np.testing.assert_allclose(np.asarray(grad_x), fd, rtol=1e-3, atol=1e-3)


def test_bad_arguments_and_inputs():
    with pytest.raises(ValueError, match="head_num must be an int > 0"):
        InteractingLayer(head_num=0)
    with pytest.raises(ValueError, match="rank 3"):
        InteractingLayer()(np.zeros((2, 4), np.float32))
    layer = InteractingLayer()
    layer(np.zeros((2, 3, 4), np.float32))
    with pytest.raises(ValueError, match=r"shape \(batch, field_size, 4\)"):
        layer(np.zeros((2, 3, 5), np.float32))
