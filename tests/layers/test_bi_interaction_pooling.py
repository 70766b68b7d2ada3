"""BiInteractionPooling: NumPy formula, DeepCTR golden, shapes, serialisation, jit/grad, explain, errors."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import keras
import numpy as np
import pytest

from recsys_core.layers.bi_interaction_pooling import BiInteractionPooling

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def bi_numpy(x: np.ndarray) -> np.ndarray:
    """sum_{i<j} v_i * v_j by explicit loops, shape (batch, 1, E)."""
    b, f, e = x.shape
    out = np.zeros((b, 1, e))
    for i in range(f):
        for j in range(i + 1, f):
            out[:, 0] += x[:, i] * x[:, j]
    return out


def test_hand_computed() -> None:
    x = np.array([[[1.0, 2.0], [3.0, -1.0], [0.5, 4.0]]], dtype="float32")
    # [1*3 + 1*0.5 + 3*0.5, 2*-1 + 2*4 + -1*4] = [5, 2]
    np.testing.assert_allclose(np.asarray(BiInteractionPooling()(x)), [[[5.0, 2.0]]], rtol=1e-6)
    x = np.random.default_rng(0).normal(size=(5, 6, 4)).astype("float32")
    np.testing.assert_allclose(
        np.asarray(BiInteractionPooling()(x)), bi_numpy(x.astype("float64")), rtol=1e-5, atol=1e-5
    )


def test_deepctr_golden() -> None:
    d = np.load(FIXTURES / "deepctr_bi_interaction_pooling.npz")
    layer = BiInteractionPooling()
    layer.build(d["x"].shape)
    layer.set_weights([])
    np.testing.assert_allclose(np.asarray(layer(d["x"])), d["y"], rtol=1e-5, atol=1e-5)


def test_shapes() -> None:
    assert BiInteractionPooling().compute_output_shape((None, 7, 5)) == (None, 1, 5)
    assert BiInteractionPooling()(keras.Input((7, 5))).shape == (None, 1, 5)


def test_config_and_save(tmp_path: Path) -> None:
    clone = BiInteractionPooling.from_config(BiInteractionPooling(name="bi").get_config())
    assert clone.name == "bi"
    inp = keras.Input((4, 3))
    model = keras.Model(inp, BiInteractionPooling()(inp))
    x = np.random.default_rng(1).normal(size=(3, 4, 3)).astype("float32")
    model.save(tmp_path / "bi.keras")
    loaded = keras.saving.load_model(tmp_path / "bi.keras")
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), rtol=1e-6)


def test_jit_and_grad() -> None:
    x = np.random.default_rng(2).normal(size=(3, 5, 4)).astype("float32")
    layer = BiInteractionPooling()
    np.testing.assert_allclose(np.asarray(jax.jit(layer)(x)), bi_numpy(x), rtol=1e-5, atol=1e-5)
    weights = np.random.default_rng(3).normal(size=(4,)).astype("float32")
    grad = jax.grad(lambda t: jnp.sum(layer(t) * weights))(jnp.asarray(x))
    # d/dv_i,e sum_e w_e sum_{i<j} v_ie v_je = w_e sum_{j != i} v_je
    expected = (x.sum(axis=1, keepdims=True) - x) * weights
    np.testing.assert_allclose(np.asarray(grad), expected, rtol=1e-5, atol=1e-5)


def test_explain() -> None:
    x = np.random.default_rng(4).normal(size=(2, 4, 3)).astype("float32")
    layer = BiInteractionPooling()
    terms = np.asarray(layer.pair_terms(x))
    vectors = np.asarray(layer.pair_vectors(x))
    assert terms.shape == (2, 4, 4) and vectors.shape == (2, 6, 3)
    assert layer.pair_index(4) == [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
    for k, (i, j) in enumerate(layer.pair_index(4)):
        np.testing.assert_allclose(vectors[:, k], x[:, i] * x[:, j], rtol=1e-6)
        np.testing.assert_allclose(terms[:, i, j], np.sum(x[:, i] * x[:, j], -1), rtol=1e-5)
        np.testing.assert_allclose(terms[:, j, i], terms[:, i, j])
    np.testing.assert_allclose(np.diagonal(terms, axis1=1, axis2=2), 0.0)
    out = np.asarray(layer(x))
    np.testing.assert_allclose(vectors.sum(axis=1), out[:, 0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        np.triu(terms, 1).sum(axis=(1, 2)), out.sum(axis=(1, 2)), rtol=1e-5, atol=1e-5
    )


def test_errors() -> None:
    with pytest.raises(ValueError, match="rank 3"):
        BiInteractionPooling()(np.zeros((2, 3), dtype="float32"))
    with pytest.raises(ValueError, match="got a list of 2 tensors"):
        BiInteractionPooling()([np.zeros((2, 1, 3), "float32")] * 2)
