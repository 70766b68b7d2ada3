"""OutterProductLayer ('mat', 'vec', 'num'): NumPy, DeepCTR golden, shapes, save, jit/grad, explain, errors."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import keras
import numpy as np
import pytest

from recsys_core.layers.outter_product_layer import OutterProductLayer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
MODES = ["mat", "vec", "num"]


def load(name: str) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray]:
    d = np.load(FIXTURES / f"deepctr_{name}.npz")
    xs = [d[k] for k in sorted(d.files) if k.startswith("x")]
    ws = [d[k] for k in sorted(d.files) if k[0] == "w" and k[1:].isdigit()]
    return xs, ws, d["y"]


def outer_numpy(xs: list[np.ndarray], kernel: np.ndarray, mode: str) -> np.ndarray:
    """Pair k = (i, j): 'mat' q^T K[:, k, :] p, 'vec' sum p q K[k], 'num' K[k] <p, q>."""
    f = len(xs)
    pairs = [(i, j) for i in range(f) for j in range(i + 1, f)]
    out = np.zeros((xs[0].shape[0], len(pairs)))
    for k, (i, j) in enumerate(pairs):
        p, q = xs[i][:, 0].astype("float64"), xs[j][:, 0].astype("float64")
        if mode == "mat":
            out[:, k] = np.einsum("ba,al,bl->b", q, kernel[:, k, :], p)
        elif mode == "vec":
            out[:, k] = np.sum(p * q * kernel[k], axis=-1)
        else:
            out[:, k] = kernel[k, 0] * np.sum(p * q, axis=-1)
    return out


def fields(seed: int, f: int = 4, e: int = 3, b: int = 3) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(b, 1, e)).astype("float32") for _ in range(f)]


def built(mode: str, xs: list[np.ndarray], seed: int) -> OutterProductLayer:
    layer = OutterProductLayer(kernel_type=mode)
    layer.build([x.shape for x in xs])
    kernel = np.random.default_rng(seed).normal(size=layer.kernel.shape).astype("float32")
    layer.set_weights([kernel])
    return layer


def test_hand_computed() -> None:
    xs = [np.array([[[1.0, 2.0]]], "float32"), np.array([[[3.0, -1.0]]], "float32")]
    layer = OutterProductLayer("mat")
    layer.build([x.shape for x in xs])
    layer.set_weights([np.array([[[1.0, 2.0]], [[0.0, -1.0]]], "float32")])  # K[a, 0, b]
    # q^T K p = 3 * (1*1 + 2*2) + (-1) * (0*1 - 1*2) = 15 + 2 = 17
    np.testing.assert_allclose(np.asarray(layer(xs)), [[17.0]], rtol=1e-6)
    layer = OutterProductLayer("num")
    layer.build([x.shape for x in xs])
    layer.set_weights([np.array([[2.0]], "float32")])
    np.testing.assert_allclose(np.asarray(layer(xs)), [[2.0]], rtol=1e-6)  # 2 * (3 - 2)
    xs = fields(0)
    for mode in MODES:
        layer = built(mode, xs, 1)
        want = outer_numpy(xs, layer.get_weights()[0], mode)
        np.testing.assert_allclose(np.asarray(layer(xs)), want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("mode", MODES)
def test_deepctr_golden(mode: str) -> None:
    xs, ws, y = load(f"outter_product_layer_{mode}")
    layer = OutterProductLayer(kernel_type=mode)
    layer.build([x.shape for x in xs])
    layer.set_weights(ws)
    np.testing.assert_allclose(np.asarray(layer(xs)), y, rtol=1e-5, atol=1e-5)


def test_shapes_and_weights() -> None:
    shapes = [(None, 1, 5)] * 4
    for mode, kernel in [("mat", (5, 6, 5)), ("vec", (6, 5)), ("num", (6, 1))]:
        layer = OutterProductLayer(mode)
        assert layer.compute_output_shape(shapes) == (None, 6)
        assert layer([keras.Input((1, 5)) for _ in range(4)]).shape == (None, 6)
        assert tuple(layer.kernel.shape) == kernel


@pytest.mark.parametrize("mode", MODES)
def test_config_and_save(tmp_path: Path, mode: str) -> None:
    config = OutterProductLayer(kernel_type=mode, seed=7).get_config()
    assert (config["kernel_type"], config["seed"]) == (mode, 7)
    assert OutterProductLayer.from_config(config).kernel_type == mode
    inputs = [keras.Input((1, 3)) for _ in range(4)]
    model = keras.Model(inputs, OutterProductLayer(mode)(inputs))
    xs = fields(1)
    model.save(tmp_path / "op.keras")
    loaded = keras.saving.load_model(tmp_path / "op.keras")
    np.testing.assert_allclose(np.asarray(loaded(xs)), np.asarray(model(xs)), rtol=1e-6)


@pytest.mark.parametrize("mode", MODES)
def test_jit_and_grad(mode: str) -> None:
    xs = fields(2)
    layer = built(mode, xs, 3)
    kernel = layer.get_weights()[0].astype("float64")
    np.testing.assert_allclose(
        np.asarray(jax.jit(layer)(xs)), outer_numpy(xs, kernel, mode), rtol=1e-5, atol=1e-5
    )
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
            diff = outer_numpy(up, kernel, mode).sum() - outer_numpy(down, kernel, mode).sum()
            numeric[idx] = diff / (2 * eps)
        np.testing.assert_allclose(np.asarray(g), numeric, rtol=1e-4, atol=1e-4)


def test_pair_terms() -> None:
    xs = fields(4, f=5)
    for mode in MODES:
        layer = built(mode, xs, 5)
        terms = np.asarray(layer.pair_terms(xs))
        out = np.asarray(layer(xs))
        want = outer_numpy(xs, layer.get_weights()[0], mode)
        assert terms.shape == (3, 5, 5)
        np.testing.assert_allclose(np.diagonal(terms, axis1=1, axis2=2), 0.0)
        for k, (i, j) in enumerate(layer.pair_index(5)):
            np.testing.assert_allclose(terms[:, i, j], want[:, k], rtol=1e-5, atol=1e-5)
            np.testing.assert_allclose(terms[:, j, i], want[:, k], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(terms[:, *np.triu_indices(5, 1)], out, rtol=1e-6)


def test_errors() -> None:
    with pytest.raises(ValueError, match="kernel_type must be one of .* got 'matrix'"):
        OutterProductLayer(kernel_type="matrix")
    with pytest.raises(ValueError, match="at least 2 inputs, got 1"):
        OutterProductLayer()([np.zeros((2, 1, 3), "float32")])
    with pytest.raises(ValueError, match="got a single tensor"):
        OutterProductLayer()(np.zeros((2, 4, 3), "float32"))
    with pytest.raises(ValueError, match="same shape"):
        OutterProductLayer()([np.zeros((2, 1, 3), "float32"), np.zeros((2, 1, 4), "float32")])
    layer = OutterProductLayer()
    layer(fields(0, f=3))
    with pytest.raises(ValueError, match="built for 3 fields, got 4"):
        layer.pair_terms(fields(0, f=4))
