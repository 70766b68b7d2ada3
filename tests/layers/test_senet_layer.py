"""SENETLayer (reduction_ratio 2, 3): NumPy, DeepCTR golden, shapes, save, jit/grad, field_weights, errors."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import keras
import numpy as np
import pytest

from recsys_core.layers.senet_layer import SENETLayer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def senet_numpy(xs: list[np.ndarray], w1: np.ndarray, w2: np.ndarray) -> tuple[list, np.ndarray]:
    """(outputs v_f * a_f, weights a = relu(relu(z W1) W2)), z_f = mean_e v_fe."""
    z = np.stack([x[:, 0].astype("float64").mean(axis=-1) for x in xs], axis=1)
    a = np.maximum(np.maximum(z @ w1, 0.0) @ w2, 0.0)
    return [x * a[:, f, None, None] for f, x in enumerate(xs)], a


def fields(seed: int, f: int = 4, e: int = 3, b: int = 3) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [(rng.normal(size=(b, 1, e)) + 0.5).astype("float32") for _ in range(f)]


def built(ratio: int, xs: list[np.ndarray], seed: int) -> tuple[SENETLayer, np.ndarray, np.ndarray]:
    layer = SENETLayer(reduction_ratio=ratio)
    layer.build([x.shape for x in xs])
    rng = np.random.default_rng(seed)
    w1, w2 = ((rng.normal(size=w.shape) + 0.5).astype("float32") for w in layer.get_weights())
    layer.set_weights([w1, w2])
    return layer, w1, w2


def test_hand_computed() -> None:
    xs = [np.array([[[1.0, 3.0]]], "float32"), np.array([[[4.0, 0.0]]], "float32")]
    layer = SENETLayer(reduction_ratio=2)  # R = 1
    layer.build([x.shape for x in xs])
    layer.set_weights([np.array([[1.0], [0.5]], "float32"), np.array([[2.0, -1.0]], "float32")])
    # z = [2, 2]; z W1 = 3; a = relu([6, -3]) = [6, 0]
    np.testing.assert_allclose(np.asarray(layer.field_weights(xs)), [[6.0, 0.0]], rtol=1e-6)
    out = layer(xs)
    np.testing.assert_allclose(np.asarray(out[0]), [[[6.0, 18.0]]], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(out[1]), [[[0.0, 0.0]]], atol=1e-7)
    xs = fields(0)
    layer, w1, w2 = built(2, xs, 1)
    want, _ = senet_numpy(xs, w1, w2)
    for got, y in zip(layer(xs), want, strict=True):
        np.testing.assert_allclose(np.asarray(got), y, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("ratio", [2, 3])
def test_deepctr_golden(ratio: int) -> None:
    d = np.load(FIXTURES / f"deepctr_senet_layer_ratio{ratio}.npz")
    xs = [d[f"x{k:03d}"] for k in range(4)]
    layer = SENETLayer(reduction_ratio=ratio, seed=1024)
    layer.build([x.shape for x in xs])
    layer.set_weights([d["w000"], d["w001"]])
    out = layer(xs)
    assert len(out) == 4
    for k, got in enumerate(out):
        np.testing.assert_allclose(np.asarray(got), d[f"y{k:03d}"], rtol=1e-5, atol=1e-5)


def test_shapes_and_weights() -> None:
    shapes = [(None, 1, 3)] * 7
    assert SENETLayer(3).compute_output_shape(shapes) == shapes
    layer = SENETLayer(reduction_ratio=3)
    out = layer([keras.Input((1, 3)) for _ in range(7)])
    assert [o.shape for o in out] == shapes
    assert [(w.name, tuple(w.shape)) for w in layer.weights] == [("W_1", (7, 2)), ("W_2", (2, 7))]
    layer = SENETLayer(reduction_ratio=10)
    layer.build([(None, 1, 3)] * 4)
    assert tuple(layer.W_1.shape) == (4, 1)  # max(1, 4 // 10)


def test_config_and_save(tmp_path: Path) -> None:
    config = SENETLayer(reduction_ratio=2, seed=3).get_config()
    assert (config["reduction_ratio"], config["seed"]) == (2, 3)
    assert SENETLayer.from_config(config).reduction_ratio == 2
    inputs = [keras.Input((1, 3)) for _ in range(4)]
    layer = SENETLayer(reduction_ratio=2)
    model = keras.Model(inputs, layer(inputs))
    rng = np.random.default_rng(2)
    layer.set_weights([(rng.normal(size=w.shape) + 0.5).astype("float32") for w in layer.weights])
    xs = fields(1)
    model.save(tmp_path / "senet.keras")
    loaded = keras.saving.load_model(tmp_path / "senet.keras")
    for a, b in zip(loaded(xs), model(xs), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6)


def test_jit_and_grad() -> None:
    xs = fields(3)
    layer, w1, w2 = built(2, xs, 4)
    want, _ = senet_numpy(xs, w1, w2)
    for got, y in zip(jax.jit(layer)(xs), want, strict=True):
        np.testing.assert_allclose(np.asarray(got), y, rtol=1e-5, atol=1e-5)

    def total(ts: list) -> jnp.ndarray:
        return sum(jnp.sum(o) for o in layer(ts))

    grads = jax.grad(total)([jnp.asarray(x) for x in xs])
    eps = 1e-6
    x64 = [x.astype("float64") for x in xs]
    for n, g in enumerate(grads):
        numeric = np.zeros_like(x64[n])
        for idx in np.ndindex(x64[n].shape):
            up = [x.copy() for x in x64]
            down = [x.copy() for x in x64]
            up[n][idx] += eps
            down[n][idx] -= eps
            diff = sum(o.sum() for o in senet_numpy(up, w1, w2)[0]) - sum(
                o.sum() for o in senet_numpy(down, w1, w2)[0]
            )
            numeric[idx] = diff / (2 * eps)
        np.testing.assert_allclose(np.asarray(g), numeric, rtol=1e-4, atol=1e-4)


def test_field_weights() -> None:
    xs = fields(5)
    layer, w1, w2 = built(2, xs, 6)
    _, want = senet_numpy(xs, w1, w2)
    a = np.asarray(layer.field_weights(xs))
    assert a.shape == (3, 4)
    np.testing.assert_allclose(a, want, rtol=1e-5, atol=1e-6)
    for f, (x, y) in enumerate(zip(xs, layer(xs), strict=True)):
        np.testing.assert_allclose(np.asarray(y), x * a[:, f, None, None], rtol=1e-6)


def test_errors() -> None:
    with pytest.raises(ValueError, match="reduction_ratio must be a positive integer, got 0"):
        SENETLayer(reduction_ratio=0)
    with pytest.raises(ValueError, match="SENETLayer expects a list of at least 2 inputs, got 1"):
        SENETLayer()([np.zeros((2, 1, 3), "float32")])
    with pytest.raises(ValueError, match="got a single tensor"):
        SENETLayer()(np.zeros((2, 4, 3), "float32"))
    with pytest.raises(ValueError, match=r"shape \(2, 2, 3\) for input 1"):
        SENETLayer()([np.zeros((2, 1, 3), "float32"), np.zeros((2, 2, 3), "float32")])
