"""LinearTerms: hand-computed values, field_terms, pooling, zero start, .keras round trip, jit/grad."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import keras
import numpy as np
import pytest

from recsys_core.layers.linear_terms import LinearTerms

TABLES = [{"name": "a", "vocab_size": 4}, {"name": "g", "vocab_size": 5}]
INPUTS = {
    "a": np.array([1, 3], "int32"),
    "g": np.array([[1, 2, 0], [4, 0, 0]], "int32"),  # a bag per row, 0 = padding
    "continuous": np.array([[2.0, 1.0], [0.0, 4.0]], "float32"),
}


def _layer(pooling: str = "mean", l2: float = 0.0) -> LinearTerms:
    layer = LinearTerms(TABLES, num_continuous=2, pooling=pooling, l2=l2)
    layer.build()
    values = {
        "embedding_a": np.array([[0.0], [1.0], [2.0], [3.0]], "float32"),
        "embedding_g": np.array([[0.0], [10.0], [20.0], [30.0], [40.0]], "float32"),
        "continuous": np.array([[0.5], [-1.0]], "float32"),
    }
    for v in layer.weights:
        v.assign(next(val for key, val in values.items() if key in v.path))
    return layer


def test_hand_computed_mean_pooling() -> None:
    layer = _layer()
    # row 0: w_a[1] = 1, mean(w_g[1], w_g[2]) = 15, 2 * 0.5 + 1 * -1 = 0 -> 16
    # row 1: w_a[3] = 3, w_g[4] = 40, 0 * 0.5 + 4 * -1 = -4 -> 39
    np.testing.assert_allclose(
        np.asarray(layer.field_terms(INPUTS)), [[1.0, 15.0, 0.0], [3.0, 40.0, -4.0]]
    )
    np.testing.assert_allclose(np.asarray(layer(INPUTS)), [[16.0], [39.0]])


def test_hand_computed_sum_pooling() -> None:
    layer = _layer("sum")
    np.testing.assert_allclose(np.asarray(layer(INPUTS)), [[31.0], [39.0]])


def test_field_terms_sum_to_the_output() -> None:
    layer = _layer()
    rng = np.random.default_rng(0)
    for v in layer.weights:
        v.assign(rng.normal(size=v.shape).astype("float32"))
    x = {
        "a": rng.integers(0, 4, size=7).astype("int32"),
        "g": rng.integers(0, 5, size=(7, 3)).astype("int32"),
        "continuous": rng.normal(size=(7, 2)).astype("float32"),
    }
    terms = np.asarray(layer.field_terms(x))
    assert terms.shape == (7, 3)
    np.testing.assert_allclose(terms.sum(axis=1, keepdims=True), np.asarray(layer(x)), rtol=1e-5)


def test_starts_at_zero_for_sparse_values_and_without_continuous() -> None:
    layer = LinearTerms(TABLES[:1])
    layer.build()
    assert layer.continuous_weights is None
    np.testing.assert_array_equal(np.asarray(layer({"a": np.array([0, 1, 3])})), np.zeros((3, 1)))


def test_l2_penalty() -> None:
    layer = _layer(l2=0.1)
    layer(INPUTS)
    # 0.1 * (sum of squared weights of both tables and the continuous kernel)
    expected = 0.1 * ((1 + 4 + 9) + (100 + 400 + 900 + 1600) + (0.25 + 1.0))
    np.testing.assert_allclose(float(sum(layer.losses)), expected, rtol=1e-5)


def test_keras_round_trip(tmp_path: Path) -> None:
    layer = _layer()
    cfg = layer.get_config()
    assert cfg["tables"] == TABLES and cfg["num_continuous"] == 2 and cfg["pooling"] == "mean"
    inputs = {
        "a": keras.Input((), dtype="int32", name="a"),
        "g": keras.Input((3,), dtype="int32", name="g"),
        "continuous": keras.Input((2,), name="continuous"),
    }
    clone = LinearTerms.from_config(cfg)
    model = keras.Model(inputs, clone(inputs))
    clone.set_weights(layer.get_weights())
    model.save(tmp_path / "linear.keras")
    loaded = keras.saving.load_model(tmp_path / "linear.keras", safe_mode=True)
    np.testing.assert_array_equal(np.asarray(loaded(INPUTS)), [[16.0], [39.0]])


def test_jit_and_grad() -> None:
    layer = _layer()
    tv = [v.value for v in layer.trainable_variables]

    def loss(tv):
        out, _ = layer.stateless_call(tv, [], INPUTS)
        return jnp.sum(out)

    grads = jax.jit(jax.grad(loss))(tv)
    by_path = {v.path: np.asarray(g) for v, g in zip(layer.trainable_variables, grads, strict=True)}
    grad_a = next(g for p, g in by_path.items() if "embedding_a" in p)
    grad_g = next(g for p, g in by_path.items() if "embedding_g" in p)
    np.testing.assert_allclose(grad_a[:, 0], [0, 1, 0, 1])
    np.testing.assert_allclose(grad_g[:, 0], [0, 0.5, 0.5, 0, 1])  # padding row 0 gets nothing


def test_bad_pooling() -> None:
    with pytest.raises(ValueError, match="pooling"):
        LinearTerms(TABLES, pooling="max")
