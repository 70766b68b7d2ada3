"""FEFMLayer: NumPy formula, DeepCTR golden, shapes, save, jit/grad, pair_terms, errors."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import keras
import numpy as np
import pytest

from recsys_core.layers.fefm_layer import FEFMLayer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def fefm_numpy(x: np.ndarray, ws: list[np.ndarray]) -> np.ndarray:
    """Pair k = (i, j): v_i^T (W_k + W_k^T) v_j, shape (batch, P)."""
    f = x.shape[1]
    pairs = [(i, j) for i in range(f) for j in range(i + 1, f)]
    return np.stack(
        [
            np.einsum("be,eg,bg->b", x[:, i], w + w.T, x[:, j])
            for (i, j), w in zip(pairs, ws, strict=True)
        ],
        axis=1,
    )


def built(num_fields: int, embed: int, seed: int) -> tuple[FEFMLayer, list[np.ndarray]]:
    layer = FEFMLayer(regularizer=1e-4)
    layer.build((None, num_fields, embed))
    rng = np.random.default_rng(seed)
    ws = [rng.normal(size=w.shape).astype("float32") for w in layer.get_weights()]
    layer.set_weights(ws)
    return layer, ws


def test_hand_computed() -> None:
    x = np.array([[[1.0, 2.0], [3.0, -1.0]]], dtype="float32")
    layer = FEFMLayer(regularizer=0.0)
    layer.build(x.shape)
    layer.set_weights([np.array([[1.0, 2.0], [0.0, -1.0]], "float32")])
    # W + W^T = [[2, 2], [2, -2]]; v0 (W+W^T) = [6, -2]; . v1 = 18 + 2 = 20
    np.testing.assert_allclose(np.asarray(layer(x)), [[20.0]], rtol=1e-6)
    x = np.random.default_rng(0).normal(size=(3, 4, 3)).astype("float32")
    layer, ws = built(4, 3, 1)
    np.testing.assert_allclose(np.asarray(layer(x)), fefm_numpy(x, ws), rtol=1e-5, atol=1e-4)


def test_deepctr_golden() -> None:
    d = np.load(FIXTURES / "deepctr_fefm_layer.npz")
    layer = FEFMLayer(regularizer=1e-6)
    layer.build(d["x"].shape)
    layer.set_weights([d[f"w{k:03d}"] for k in range(6)])
    np.testing.assert_allclose(np.asarray(layer(d["x"])), d["y"], rtol=1e-5, atol=1e-5)


def test_shapes_and_weights() -> None:
    layer = FEFMLayer(regularizer=1e-6)
    shape = layer.compute_output_shape((None, 4, 3))
    assert shape == (None, 6) and isinstance(shape[1], int)
    assert layer(keras.Input((4, 3))).shape == (None, 6)
    names = [w.name for w in layer.weights]
    assert names == [f"field_embeddings{i}-{j}" for i, j in FEFMLayer.pair_index(4)]
    assert all(tuple(w.shape) == (3, 3) for w in layer.weights)
    assert len(layer.losses) == 6


def test_config_and_save(tmp_path: Path) -> None:
    config = FEFMLayer(regularizer=0.01).get_config()
    assert config["regularizer"] == 0.01
    assert FEFMLayer.from_config(config).regularizer == 0.01
    inp = keras.Input((4, 3))
    model = keras.Model(inp, FEFMLayer(regularizer=1e-6)(inp))
    x = np.random.default_rng(1).normal(size=(3, 4, 3)).astype("float32")
    model.save(tmp_path / "fefm.keras")
    loaded = keras.saving.load_model(tmp_path / "fefm.keras")
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), rtol=1e-6)


def test_jit_and_grad() -> None:
    x = np.random.default_rng(2).normal(size=(3, 4, 3)).astype("float32")
    layer, ws = built(4, 3, 3)
    np.testing.assert_allclose(
        np.asarray(jax.jit(layer)(x)), fefm_numpy(x, ws), rtol=1e-5, atol=1e-4
    )
    grad = jax.grad(lambda t: jnp.sum(layer(t)))(jnp.asarray(x))
    expected = np.zeros_like(x)
    for (i, j), w in zip(FEFMLayer.pair_index(4), ws, strict=True):
        s = w + w.T
        expected[:, i] += x[:, j] @ s.T
        expected[:, j] += x[:, i] @ s
    np.testing.assert_allclose(np.asarray(grad), expected, rtol=1e-4, atol=1e-4)


def test_pair_terms() -> None:
    x = np.random.default_rng(4).normal(size=(2, 4, 3)).astype("float32")
    layer, ws = built(4, 3, 5)
    terms = np.asarray(layer.pair_terms(x))
    want = fefm_numpy(x, ws)
    assert terms.shape == (2, 4, 4)
    np.testing.assert_allclose(np.diagonal(terms, axis1=1, axis2=2), 0.0)
    for k, (i, j) in enumerate(layer.pair_index(4)):
        np.testing.assert_allclose(terms[:, i, j], want[:, k], rtol=1e-5, atol=1e-4)
        np.testing.assert_allclose(terms[:, j, i], want[:, k], rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(terms[:, *np.triu_indices(4, 1)], np.asarray(layer(x)), rtol=1e-6)


def test_errors() -> None:
    with pytest.raises(ValueError, match="regularizer must be a float >= 0, got -0.5"):
        FEFMLayer(regularizer=-0.5)
    with pytest.raises(ValueError, match="rank 3"):
        FEFMLayer(regularizer=0.0)(np.zeros((2, 4), "float32"))
    with pytest.raises(ValueError, match="got a list of 2 tensors"):
        FEFMLayer(regularizer=0.0)([np.zeros((2, 1, 3), "float32")] * 2)
    layer = FEFMLayer(regularizer=0.0)
    layer(np.zeros((2, 4, 3), "float32"))
    with pytest.raises(ValueError, match="built for 4 fields"):
        layer(np.zeros((2, 5, 3), "float32"))
