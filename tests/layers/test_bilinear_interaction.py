"""BilinearInteraction ('all', 'each', 'interaction'): NumPy, DeepCTR golden, shapes, save, jit/grad, explain, errors."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import keras
import numpy as np
import pytest

from recsys_core.layers.bilinear_interaction import BilinearInteraction

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
MODES = ["all", "each", "interaction"]


def load(name: str) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray]:
    d = np.load(FIXTURES / f"deepctr_{name}.npz")
    xs = [d[k] for k in sorted(d.files) if k.startswith("x")]
    ws = [d[k] for k in sorted(d.files) if k[0] == "w" and k[1:].isdigit()]
    return xs, ws, d["y"]


def pick(ws: list[np.ndarray], mode: str, i: int, k: int) -> np.ndarray:
    """The matrix used for pair k = (i, j): shared, per left field i, or per pair k."""
    return ws[0] if mode == "all" else ws[i] if mode == "each" else ws[k]


def bilinear_numpy(xs: list[np.ndarray], ws: list[np.ndarray], mode: str) -> np.ndarray:
    """p_ij = (v_i W) * v_j with W shared ('all'), W_i ('each') or W_ij ('interaction')."""
    f = len(xs)
    pairs = [(i, j) for i in range(f) for j in range(i + 1, f)]
    out = []
    for k, (i, j) in enumerate(pairs):
        w = pick(ws, mode, i, k)
        out.append((xs[i][:, 0].astype("float64") @ w) * xs[j][:, 0])
    return np.stack(out, axis=1)


def fields(seed: int, f: int = 4, e: int = 3, b: int = 3) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(b, 1, e)).astype("float32") for _ in range(f)]


def built(mode: str, xs: list[np.ndarray], seed: int) -> tuple[BilinearInteraction, list]:
    layer = BilinearInteraction(bilinear_type=mode)
    layer.build([x.shape for x in xs])
    rng = np.random.default_rng(seed)
    ws = [rng.normal(size=w.shape).astype("float32") for w in layer.get_weights()]
    layer.set_weights(ws)
    return layer, ws


def test_hand_computed() -> None:
    xs = [np.array([[[1.0, 2.0]]], "float32"), np.array([[[3.0, -1.0]]], "float32")]
    layer = BilinearInteraction("all")
    layer.build([x.shape for x in xs])
    layer.set_weights([np.array([[1.0, 2.0], [0.0, -1.0]], "float32")])
    # v0 W = [1, 0]; * v1 = [3, -0]
    np.testing.assert_allclose(np.asarray(layer(xs)), [[[3.0, 0.0]]], rtol=1e-6, atol=1e-7)
    xs = fields(0)
    for mode in MODES:
        layer, ws = built(mode, xs, 1)
        np.testing.assert_allclose(
            np.asarray(layer(xs)), bilinear_numpy(xs, ws, mode), rtol=1e-5, atol=1e-5
        )


@pytest.mark.parametrize("mode", MODES)
def test_deepctr_golden(mode: str) -> None:
    xs, ws, y = load(f"bilinear_interaction_{mode}")
    layer = BilinearInteraction(bilinear_type=mode)
    layer.build([x.shape for x in xs])
    layer.set_weights(ws)
    np.testing.assert_allclose(np.asarray(layer(xs)), y, rtol=1e-5, atol=1e-5)


def test_shapes_and_weights() -> None:
    shapes = [(None, 1, 3)] * 4
    names = {
        "all": ["bilinear_weight"],
        "each": ["bilinear_weight0", "bilinear_weight1", "bilinear_weight2"],
        "interaction": [f"bilinear_weight{i}_{j}" for i, j in BilinearInteraction.pair_index(4)],
    }
    for mode in MODES:
        layer = BilinearInteraction(mode)
        assert layer.compute_output_shape(shapes) == (None, 6, 3)
        assert layer([keras.Input((1, 3)) for _ in range(4)]).shape == (None, 6, 3)
        assert [w.name for w in layer.weights] == names[mode]
        assert all(tuple(w.shape) == (3, 3) for w in layer.weights)


@pytest.mark.parametrize("mode", MODES)
def test_config_and_save(tmp_path: Path, mode: str) -> None:
    config = BilinearInteraction(bilinear_type=mode, seed=9).get_config()
    assert (config["bilinear_type"], config["seed"]) == (mode, 9)
    assert BilinearInteraction.from_config(config).bilinear_type == mode
    inputs = [keras.Input((1, 3)) for _ in range(4)]
    model = keras.Model(inputs, BilinearInteraction(mode)(inputs))
    xs = fields(1)
    model.save(tmp_path / "bil.keras")
    loaded = keras.saving.load_model(tmp_path / "bil.keras")
    np.testing.assert_allclose(np.asarray(loaded(xs)), np.asarray(model(xs)), rtol=1e-6)


@pytest.mark.parametrize("mode", MODES)
def test_jit_and_grad(mode: str) -> None:
    xs = fields(2)
    layer, ws = built(mode, xs, 3)
    np.testing.assert_allclose(
        np.asarray(jax.jit(layer)(xs)), bilinear_numpy(xs, ws, mode), rtol=1e-5, atol=1e-5
    )
    grads = jax.grad(lambda ts: jnp.sum(layer(ts)))([jnp.asarray(x) for x in xs])
    # d/dv_i sum_e ((v_i W) * v_j)_e = W v_j ; d/dv_j = v_i W
    expected = [np.zeros_like(x[:, 0]) for x in xs]
    for k, (i, j) in enumerate(layer.pair_index(4)):
        w = pick(ws, mode, i, k)
        expected[i] += xs[j][:, 0] @ w.T
        expected[j] += xs[i][:, 0] @ w
    for g, want in zip(grads, expected, strict=True):
        np.testing.assert_allclose(np.asarray(g)[:, 0], want, rtol=1e-4, atol=1e-4)


def test_explain() -> None:
    xs = fields(4)
    layer, ws = built("interaction", xs, 5)
    vectors = np.asarray(layer.pair_vectors(xs))
    want = bilinear_numpy(xs, ws, "interaction")
    np.testing.assert_allclose(vectors, want, rtol=1e-5, atol=1e-5)
    norms = np.asarray(layer.pair_terms(xs))
    assert norms.shape == (3, 4, 4)
    np.testing.assert_allclose(np.diagonal(norms, axis1=1, axis2=2), 0.0)
    for k, (i, j) in enumerate(layer.pair_index(4)):
        np.testing.assert_allclose(norms[:, i, j], np.linalg.norm(want[:, k], axis=-1), rtol=1e-5)
        np.testing.assert_allclose(norms[:, j, i], norms[:, i, j])


def test_errors() -> None:
    with pytest.raises(ValueError, match="bilinear_type must be one of .* got 'bogus'"):
        BilinearInteraction(bilinear_type="bogus")
    with pytest.raises(ValueError, match="at least 2 inputs, got 1"):
        BilinearInteraction()([np.zeros((2, 1, 3), "float32")])
    with pytest.raises(ValueError, match="got a single tensor"):
        BilinearInteraction()(np.zeros((2, 4, 3), "float32"))
    with pytest.raises(ValueError, match="same shape"):
        BilinearInteraction()([np.zeros((2, 1, 3), "float32"), np.zeros((2, 1, 4), "float32")])
