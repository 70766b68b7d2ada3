"""FGCNNLayer against a NumPy convolution/pooling/dense formula, DeepCTR golden values, jit/grad."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from recsys_core.layers.fgcnn_layer import FGCNNLayer

# isort: split
import jax
import jax.numpy as jnp
import keras

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def fgcnn_numpy(x, weights, config):
    """'same' convolution along fields (TF padding: (w - 1) // 2 before), row max-pooling, tanh Dense."""
    n = len(config["filters"])
    convs, denses = weights[: 2 * n], weights[2 * n :]
    batch, _, emb = x.shape
    p = np.asarray(x, np.float64)[..., None]
    out = []
    for s in range(n):
        k, b = np.asarray(convs[2 * s], np.float64), np.asarray(convs[2 * s + 1], np.float64)
        width, rows = k.shape[0], p.shape[1]
        before = (width - 1) // 2
        padded = np.zeros((batch, rows + width - 1, emb, p.shape[3]))
        padded[:, before : before + rows] = p
        conv = np.tanh(
            sum(np.einsum("brec,cf->bref", padded[:, t : t + rows], k[t, 0]) for t in range(width))
            + b
        )
        pw = config["pooling_width"][s]
        pooled_rows = rows // pw
        p = conv[:, : pooled_rows * pw].reshape(batch, pooled_rows, pw, emb, -1).max(axis=2)
        w, c = np.asarray(denses[2 * s], np.float64), np.asarray(denses[2 * s + 1], np.float64)
        out.append(np.tanh(p.reshape(batch, -1) @ w + c).reshape(batch, -1, emb))
    return np.concatenate(out, axis=1)


def _load():
    data = np.load(FIXTURES / "deepctr_fgcnn_layer.npz")
    weights = [data[k] for k in sorted(data.files) if k[0] == "w" and k[1:].isdigit()]
    return json.loads(str(data["config"])), data["x"], weights, data["y"]


def _built(config, x, weights):
    layer = FGCNNLayer(**config)
    layer(x)
    layer.set_weights(weights)
    return layer


def test_hand_computed():
    layer = FGCNNLayer(filters=[1], kernel_width=[1], new_maps=[1], pooling_width=[2])
    x = np.array([[[0.3], [-0.6]]], np.float32)
    layer(x)
    layer.set_weights(
        [np.full((1, 1, 1, 1), 2.0), np.array([0.1]), np.array([[1.5]]), np.array([-0.2])]
    )
    pooled = max(math.tanh(0.7), math.tanh(-1.1))
    np.testing.assert_allclose(np.asarray(layer(x)), [[[math.tanh(1.5 * pooled - 0.2)]]], rtol=1e-6)


def test_deepctr_golden_and_numpy():
    config, x, weights, y = _load()
    layer = _built(config, x, weights)
    # DeepCTR order: every convolution weight, then every Dense weight
    assert [tuple(w.shape) for w in layer.weights] == [w.shape for w in weights]
    assert [w.path.split("/")[-2] for w in layer.weights][::2] == [
        "conv_0",
        "conv_1",
        "dense_0",
        "dense_1",
    ]
    np.testing.assert_allclose(np.asarray(layer(x)), y, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(fgcnn_numpy(x, weights, config), y, rtol=1e-4, atol=1e-4)


def test_shape_inference():
    layer = FGCNNLayer(filters=[3, 4], kernel_width=[3, 2], new_maps=[2, 3], pooling_width=[2, 2])
    # 7 fields -> 3 rows -> 1 row: 3 * 2 + 1 * 3 new features
    assert layer.compute_output_shape((None, 7, 4)) == (None, 9, 4)
    assert tuple(layer(keras.Input((7, 4))).shape) == (None, 9, 4)
    assert FGCNNLayer().compute_output_shape((None, 26, 16)) == (None, 13 * 3 + 6 * 3, 16)


def test_config_round_trip_and_save(tmp_path):
    config, x, weights, y = _load()
    cfg = _built(config, x, weights).get_config()
    assert {k: cfg[k] for k in config} == config
    inputs = keras.Input(x.shape[1:])
    model = keras.Model(inputs, FGCNNLayer.from_config(cfg)(inputs))
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
    assert len(grad_w) == 8 and all(np.all(np.isfinite(np.asarray(g))) for g in grad_w)
    x64 = x.astype(np.float64)
    fd = np.zeros_like(x64)
    for idx in np.ndindex(x64.shape):
        step = np.zeros_like(x64)
        step[idx] = 1e-6
        fd[idx] = (
            fgcnn_numpy(x64 + step, weights, config).sum()
            - fgcnn_numpy(x64 - step, weights, config).sum()
        ) / 2e-6
    np.testing.assert_allclose(np.asarray(grad_x), fd, rtol=1e-3, atol=1e-3)


def test_bad_arguments_and_inputs():
    with pytest.raises(ValueError, match="equal lengths"):
        FGCNNLayer(filters=[2], kernel_width=[3, 3], new_maps=[1], pooling_width=[2])
    with pytest.raises(ValueError, match="pooling_width must hold positive"):
        FGCNNLayer(filters=[2], kernel_width=[3], new_maps=[1], pooling_width=[0])
    with pytest.raises(ValueError, match="rank 3"):
        FGCNNLayer()(np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError, match="too small"):
        FGCNNLayer(filters=[2], kernel_width=[1], new_maps=[1], pooling_width=[4])(
            np.zeros((2, 3, 2), np.float32)
        )
    layer = FGCNNLayer(filters=[2], kernel_width=[1], new_maps=[1], pooling_width=[2])
    layer(np.zeros((2, 4, 3), np.float32))
    with pytest.raises(ValueError, match=r"shape \(batch, 4, 3\)"):
        layer(np.zeros((2, 5, 3), np.float32))
