"""AFMLayer: NumPy formula, DeepCTR golden, shapes, save, jit/grad, attention/pair terms, errors."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import keras
import numpy as np
import pytest

from recsys_core.layers.afm_layer import AFMLayer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def afm_numpy(xs: list[np.ndarray], ws: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(output (batch, 1), attention (batch, P)) without dropout."""
    w, b, h, p = (np.asarray(a, "float64") for a in ws)
    f = len(xs)
    bi = np.stack(
        [xs[i][:, 0] * xs[j][:, 0] for i in range(f) for j in range(i + 1, f)], axis=1
    ).astype("float64")
    logits = (np.maximum(bi @ w + b, 0.0) @ h)[..., 0]
    att = np.exp(logits - logits.max(axis=1, keepdims=True))
    att /= att.sum(axis=1, keepdims=True)
    return (att[..., None] * bi).sum(axis=1) @ p, att


def fields(seed: int, f: int = 4, e: int = 3, b: int = 3) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(b, 1, e)).astype("float32") for _ in range(f)]


def built(xs: list[np.ndarray], seed: int, **kwargs: float) -> tuple[AFMLayer, list[np.ndarray]]:
    layer = AFMLayer(attention_factor=5, **kwargs)
    layer.build([x.shape for x in xs])
    rng = np.random.default_rng(seed)
    ws = [rng.normal(size=w.shape).astype("float32") for w in layer.get_weights()]
    layer.set_weights(ws)
    return layer, ws


def test_hand_computed() -> None:
    # two fields -> one pair, attention 1: y = <v0 * v1, p>
    xs = [np.array([[[1.0, 2.0]]], "float32"), np.array([[[3.0, -1.0]]], "float32")]
    layer = AFMLayer(attention_factor=2)
    layer.build([x.shape for x in xs])
    w, b, h, _ = layer.get_weights()
    layer.set_weights([w, b, h, np.array([[2.0], [0.5]], "float32")])
    np.testing.assert_allclose(np.asarray(layer(xs)), [[2.0 * 3.0 + 0.5 * -2.0]], rtol=1e-6)
    xs = fields(0)
    layer, ws = built(xs, 1)
    want, _ = afm_numpy(xs, ws)
    np.testing.assert_allclose(np.asarray(layer(xs)), want, rtol=1e-5, atol=1e-5)


def test_deepctr_golden() -> None:
    d = np.load(FIXTURES / "deepctr_afm_layer.npz")
    xs = [d[f"x{k:03d}"] for k in range(4)]
    layer = AFMLayer(attention_factor=5, l2_reg_w=0.0, dropout_rate=0.5, seed=1024)
    layer.build([x.shape for x in xs])
    layer.set_weights([d[f"w{k:03d}"] for k in range(4)])
    np.testing.assert_allclose(np.asarray(layer(xs, training=False)), d["y"], rtol=1e-5, atol=1e-5)


def test_shapes_weights_dropout() -> None:
    shapes = [(None, 1, 3)] * 4
    layer = AFMLayer(attention_factor=6, l2_reg_w=0.1, dropout_rate=0.5)
    assert layer.compute_output_shape(shapes) == (None, 1)
    assert layer([keras.Input((1, 3)) for _ in range(4)]).shape == (None, 1)
    assert [(w.name, tuple(w.shape)) for w in layer.weights] == [
        ("attention_W", (3, 6)),
        ("attention_b", (6,)),
        ("projection_h", (6, 1)),
        ("projection_p", (3, 1)),
    ]
    w = layer.get_weights()[0]
    np.testing.assert_allclose(float(sum(layer.losses)), 0.1 * np.sum(w**2), rtol=1e-5)
    xs = fields(1)
    train = np.asarray(layer(xs, training=True))
    infer = np.asarray(layer(xs, training=False))
    assert not np.allclose(train, infer)
    np.testing.assert_allclose(np.asarray(layer(xs)), infer, rtol=1e-6)


def test_config_and_save(tmp_path: Path) -> None:
    config = AFMLayer(attention_factor=3, l2_reg_w=0.01, dropout_rate=0.2, seed=5).get_config()
    for key, value in [
        ("attention_factor", 3),
        ("l2_reg_w", 0.01),
        ("dropout_rate", 0.2),
        ("seed", 5),
    ]:
        assert config[key] == value
    assert AFMLayer.from_config(config).dropout_rate == 0.2
    inputs = [keras.Input((1, 3)) for _ in range(4)]
    layer = AFMLayer(dropout_rate=0.3)
    model = keras.Model(inputs, layer(inputs))
    rng = np.random.default_rng(2)
    layer.set_weights([rng.normal(size=w.shape).astype("float32") for w in layer.weights])
    xs = fields(2)
    model.save(tmp_path / "afm.keras")
    loaded = keras.saving.load_model(tmp_path / "afm.keras")
    np.testing.assert_allclose(np.asarray(loaded(xs)), np.asarray(model(xs)), rtol=1e-6)


def test_jit_and_grad() -> None:
    xs = fields(3)
    layer, ws = built(xs, 4)
    want, _ = afm_numpy(xs, ws)
    np.testing.assert_allclose(np.asarray(jax.jit(layer)(xs)), want, rtol=1e-5, atol=1e-5)
    grads = jax.grad(lambda ts: jnp.sum(layer(ts)))([jnp.asarray(x) for x in xs])
    eps = 1e-6
    x64 = [x.astype("float64") for x in xs]
    for n, g in enumerate(grads):
        numeric = np.zeros_like(x64[n])
        for idx in np.ndindex(x64[n].shape):
            up = [x.copy() for x in x64]
            down = [x.copy() for x in x64]
            up[n][idx] += eps
            down[n][idx] -= eps
            numeric[idx] = (afm_numpy(up, ws)[0].sum() - afm_numpy(down, ws)[0].sum()) / (2 * eps)
        np.testing.assert_allclose(np.asarray(g), numeric, rtol=1e-3, atol=1e-4)


def test_attention_scores_and_pair_terms() -> None:
    xs = fields(5)
    layer, ws = built(xs, 6, dropout_rate=0.5)
    want_out, want_att = afm_numpy(xs, ws)
    att = np.asarray(layer.attention_scores(xs))
    assert att.shape == (3, 6)
    np.testing.assert_allclose(att, want_att, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(att.sum(axis=1), 1.0, rtol=1e-5)
    terms = np.asarray(layer.pair_terms(xs))
    p = ws[3][:, 0]
    for k, (i, j) in enumerate(layer.pair_index(4)):
        want = want_att[:, k] * np.sum(xs[i][:, 0] * xs[j][:, 0] * p, axis=-1)
        np.testing.assert_allclose(terms[:, i, j], want, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(terms[:, j, i], want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.diagonal(terms, axis1=1, axis2=2), 0.0)
    np.testing.assert_allclose(
        np.triu(terms, 1).sum(axis=(1, 2)), np.asarray(layer(xs))[:, 0], rtol=1e-5, atol=1e-5
    )


def test_errors() -> None:
    with pytest.raises(ValueError, match="attention_factor must be a positive integer, got 0"):
        AFMLayer(attention_factor=0)
    with pytest.raises(ValueError, match=r"dropout_rate must be in \[0, 1\), got 1.5"):
        AFMLayer(dropout_rate=1.5)
    with pytest.raises(ValueError, match="l2_reg_w must be a float >= 0"):
        AFMLayer(l2_reg_w=-1.0)
    with pytest.raises(ValueError, match="at least 2 inputs, got 1"):
        AFMLayer()([np.zeros((2, 1, 3), "float32")])
    with pytest.raises(ValueError, match=r"shape \(2, 3\) for input 0"):
        AFMLayer()([np.zeros((2, 3), "float32")] * 2)
    with pytest.raises(ValueError, match="same shape"):
        AFMLayer()([np.zeros((2, 1, 3), "float32"), np.zeros((2, 1, 4), "float32")])
