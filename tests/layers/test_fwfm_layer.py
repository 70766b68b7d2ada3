"""FwFMLayer: NumPy formula, DeepCTR golden, shapes, save, jit/grad, pair_terms, errors."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import keras
import numpy as np
import pytest

from recsys_core.layers.fwfm_layer import FwFMLayer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def fwfm_numpy(x: np.ndarray, r: np.ndarray) -> np.ndarray:
    """sum_{i<j} r[i, j] <v_i, v_j>, shape (batch, 1)."""
    f = x.shape[1]
    out = np.zeros((x.shape[0], 1))
    for i in range(f):
        for j in range(i + 1, f):
            out[:, 0] += r[i, j] * np.sum(x[:, i] * x[:, j], axis=-1)
    return out


def built(num_fields: int, seed: int) -> tuple[FwFMLayer, np.ndarray]:
    layer = FwFMLayer(num_fields=num_fields)
    layer.build((None, num_fields, 3))
    r = np.random.default_rng(seed).normal(size=(num_fields, num_fields)).astype("float32")
    layer.set_weights([r])
    return layer, r


def test_hand_computed() -> None:
    x = np.array([[[1.0, 2.0], [3.0, -1.0], [0.5, 4.0]]], dtype="float32")
    layer = FwFMLayer(num_fields=3)
    layer.build(x.shape)
    # only r01 = 2, r02 = -1, r12 = 0.5 count (diagonal and lower triangle ignored)
    r = np.array([[9.0, 2.0, -1.0], [9.0, 9.0, 0.5], [9.0, 9.0, 9.0]], dtype="float32")
    layer.set_weights([r])
    # 2 * 1 - 1 * 8.5 + 0.5 * (-2.5) = -7.75
    np.testing.assert_allclose(np.asarray(layer(x)), [[-7.75]], rtol=1e-6)
    x = np.random.default_rng(0).normal(size=(3, 4, 3)).astype("float32")
    layer, r = built(4, 1)
    np.testing.assert_allclose(np.asarray(layer(x)), fwfm_numpy(x, r), rtol=1e-5, atol=1e-5)


def test_deepctr_golden() -> None:
    d = np.load(FIXTURES / "deepctr_fwfm_layer.npz")
    layer = FwFMLayer(num_fields=4, regularizer=1e-6)
    layer.build(d["x"].shape)
    layer.set_weights([d["w000"]])
    np.testing.assert_allclose(np.asarray(layer(d["x"])), d["y"], rtol=1e-5, atol=1e-5)


def test_shapes_and_regularizer() -> None:
    layer = FwFMLayer(num_fields=5, regularizer=0.1)
    assert layer.compute_output_shape((None, 5, 3)) == (None, 1)
    assert layer(keras.Input((5, 3))).shape == (None, 1)
    assert tuple(layer.field_strengths.shape) == (5, 5)
    r = layer.get_weights()[0]
    np.testing.assert_allclose(float(sum(layer.losses)), 0.1 * np.sum(r**2), rtol=1e-5)


def test_config_and_save(tmp_path: Path) -> None:
    config = FwFMLayer(num_fields=4, regularizer=0.01).get_config()
    assert (config["num_fields"], config["regularizer"]) == (4, 0.01)
    assert FwFMLayer.from_config(config).num_fields == 4
    inp = keras.Input((4, 3))
    model = keras.Model(inp, FwFMLayer(num_fields=4)(inp))
    x = np.random.default_rng(1).normal(size=(3, 4, 3)).astype("float32")
    model.save(tmp_path / "fwfm.keras")
    loaded = keras.saving.load_model(tmp_path / "fwfm.keras")
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), rtol=1e-6)


def test_jit_and_grad() -> None:
    x = np.random.default_rng(2).normal(size=(3, 4, 3)).astype("float32")
    layer, r = built(4, 3)
    np.testing.assert_allclose(
        np.asarray(jax.jit(layer)(x)), fwfm_numpy(x, r), rtol=1e-5, atol=1e-5
    )
    grad = jax.grad(lambda t: jnp.sum(layer(t)))(jnp.asarray(x))
    sym = np.triu(r, 1) + np.triu(r, 1).T
    # d/dv_i sum_{i<j} r_ij <v_i, v_j> = sum_{j != i} R_ij v_j
    expected = np.einsum("ij,bje->bie", sym, x)
    np.testing.assert_allclose(np.asarray(grad), expected, rtol=1e-5, atol=1e-5)


def test_pair_terms() -> None:
    x = np.random.default_rng(4).normal(size=(2, 4, 3)).astype("float32")
    layer, r = built(4, 5)
    terms = np.asarray(layer.pair_terms(x))
    assert terms.shape == (2, 4, 4)
    np.testing.assert_allclose(np.diagonal(terms, axis1=1, axis2=2), 0.0)
    for i in range(4):
        for j in range(i + 1, 4):
            want = r[i, j] * np.sum(x[:, i] * x[:, j], axis=-1)
            np.testing.assert_allclose(terms[:, i, j], want, rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(terms[:, j, i], want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        np.triu(terms, 1).sum(axis=(1, 2)), np.asarray(layer(x))[:, 0], rtol=1e-5, atol=1e-5
    )


def test_errors() -> None:
    with pytest.raises(ValueError, match="num_fields must be an integer >= 2, got 1"):
        FwFMLayer(num_fields=1)
    with pytest.raises(ValueError, match="regularizer must be a float >= 0, got -1"):
        FwFMLayer(regularizer=-1)
    with pytest.raises(ValueError, match="num_fields=4, but the inputs have 3 fields"):
        FwFMLayer(num_fields=4)(np.zeros((2, 3, 5), "float32"))
    with pytest.raises(ValueError, match="rank 3"):
        FwFMLayer(num_fields=4)(np.zeros((2, 4), "float32"))
