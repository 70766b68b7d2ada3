"""FM: NumPy formula, DeepCTR golden values, shapes, serialisation, jit/grad, pair_terms, errors."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import keras
import numpy as np
import pytest

from recsys_core.layers.fm import FM

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def fm_numpy(x: np.ndarray) -> np.ndarray:
    """sum_{i<j} <v_i, v_j> by explicit loops."""
    b, f, _ = x.shape
    out = np.zeros((b, 1))
    for i in range(f):
        for j in range(i + 1, f):
            out[:, 0] += np.sum(x[:, i] * x[:, j], axis=-1)
    return out


def test_hand_computed() -> None:
    x = np.array([[[1.0, 2.0], [3.0, -1.0], [0.5, 4.0]]], dtype="float32")
    # <v0,v1> = 1, <v0,v2> = 8.5, <v1,v2> = -2.5 -> 7
    np.testing.assert_allclose(np.asarray(FM()(x)), [[7.0]], rtol=1e-6)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 6, 4)).astype("float32")
    np.testing.assert_allclose(
        np.asarray(FM()(x)), fm_numpy(x.astype("float64")), rtol=1e-5, atol=1e-5
    )


def test_deepctr_golden() -> None:
    d = np.load(FIXTURES / "deepctr_fm.npz")
    layer = FM()
    layer.build(d["x"].shape)
    layer.set_weights([])
    np.testing.assert_allclose(np.asarray(layer(d["x"])), d["y"], rtol=1e-5, atol=1e-5)


def test_shapes() -> None:
    assert FM().compute_output_shape((None, 7, 5)) == (None, 1)
    assert FM()(keras.Input((7, 5))).shape == (None, 1)


def test_config_and_save(tmp_path: Path) -> None:
    layer = FM(name="fm_x")
    clone = FM.from_config(layer.get_config())
    assert clone.name == "fm_x"
    inp = keras.Input((4, 3))
    model = keras.Model(inp, FM()(inp))
    x = np.random.default_rng(1).normal(size=(3, 4, 3)).astype("float32")
    model.save(tmp_path / "fm.keras")
    loaded = keras.saving.load_model(tmp_path / "fm.keras")
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), rtol=1e-6)


def test_jit_and_grad() -> None:
    x = np.random.default_rng(2).normal(size=(3, 5, 4)).astype("float32")
    layer = FM()
    np.testing.assert_allclose(np.asarray(jax.jit(layer)(x)), fm_numpy(x), rtol=1e-5, atol=1e-5)
    grad = jax.grad(lambda t: jnp.sum(layer(t)))(jnp.asarray(x))
    # d/dv_i sum_{i<j} <v_i, v_j> = sum_{j != i} v_j
    expected = x.sum(axis=1, keepdims=True) - x
    np.testing.assert_allclose(np.asarray(grad), expected, rtol=1e-5, atol=1e-5)


def test_pair_terms() -> None:
    x = np.random.default_rng(3).normal(size=(2, 4, 3)).astype("float32")
    layer = FM()
    terms = np.asarray(layer.pair_terms(x))
    assert terms.shape == (2, 4, 4)
    for i in range(4):
        for j in range(4):
            want = 0.0 if i == j else np.dot(x[:, i], x[:, j].T).diagonal()
            np.testing.assert_allclose(terms[:, i, j], want, rtol=1e-5, atol=1e-6)
    upper = np.triu(terms, k=1).sum(axis=(1, 2))
    np.testing.assert_allclose(upper, np.asarray(layer(x))[:, 0], rtol=1e-5, atol=1e-5)


def test_errors() -> None:
    with pytest.raises(ValueError, match="rank 3"):
        FM()(np.zeros((2, 3), dtype="float32"))
    with pytest.raises(ValueError, match="got a list of 2 tensors"):
        FM()([np.zeros((2, 1, 3), "float32"), np.zeros((2, 1, 3), "float32")])
    with pytest.raises(ValueError, match="rank 3"):
        FM().pair_terms(np.zeros((2, 3, 4, 5), dtype="float32"))
