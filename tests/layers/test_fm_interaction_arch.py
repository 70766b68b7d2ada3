"""FMInteractionArch (torchrec DeepFM): cat(dense, relu(flat W + b), FM over all flattened scalars)."""

from __future__ import annotations

import numpy as np
import pytest

from recsys_core.layers.fm_interaction_arch import FMInteractionArch

# isort: split
import jax
import jax.numpy as jnp
import keras


def fm_arch_numpy(dense, sparse, w, b):
    flat = np.concatenate([dense, *sparse], axis=1).astype(np.float64)
    deep = np.maximum(flat @ w + b, 0)
    pairs = sum(
        flat[:, k] * flat[:, m] for k in range(flat.shape[1]) for m in range(k + 1, flat.shape[1])
    )
    return np.concatenate([dense, deep, pairs[:, None]], axis=1)


def _layer():
    layer = FMInteractionArch(
        fm_in_features=9, sparse_feature_names=["a", "b"], deep_fm_dimension=4
    )
    layer.build()
    rng = np.random.default_rng(0)
    weights = [rng.normal(size=w.shape).astype(np.float32) for w in layer.get_weights()]
    layer.set_weights(weights)
    dense = rng.normal(size=(5, 3)).astype(np.float32)
    sparse = [rng.normal(size=(5, 3)).astype(np.float32) for _ in range(2)]
    return layer, weights, dense, sparse


def test_hand_computed_fm_column():
    layer = FMInteractionArch(
        fm_in_features=6, sparse_feature_names=["a", "b"], deep_fm_dimension=1
    )
    layer.build()
    layer.set_weights([np.zeros((6, 1), np.float32), np.zeros((1,), np.float32)])
    dense = np.array([[1.0, 2.0]], np.float32)
    out = np.asarray(layer(dense, [np.array([[3.0, 0.0]]), np.array([[-1.0, 1.0]])]))
    # flat = [1, 2, 3, 0, -1, 1]: sum 6, sum of squares 16 -> 0.5 * (36 - 16) = 10
    np.testing.assert_allclose(out, [[1.0, 2.0, 0.0, 10.0]])


def test_matches_numpy_for_every_input_form():
    layer, (w, b), dense, sparse = _layer()
    expected = fm_arch_numpy(dense, sparse, w, b)
    for form in (sparse, np.stack(sparse, axis=1), {"b": sparse[1], "a": sparse[0]}):
        np.testing.assert_allclose(np.asarray(layer(dense, form)), expected, rtol=1e-5, atol=1e-4)
    # no sparse features: the dense features come back unchanged, as in torchrec
    np.testing.assert_array_equal(np.asarray(FMInteractionArch(3, [], 4)(dense, [])), dense)


def test_fm_pair_terms():
    layer, _, dense, sparse = _layer()
    terms = np.asarray(layer.fm_pair_terms(dense, sparse))
    assert terms.shape == (5, 3, 3)
    np.testing.assert_allclose(
        terms.sum(axis=(1, 2)), np.asarray(layer(dense, sparse))[:, -1], rtol=1e-5, atol=1e-4
    )
    s = [t.sum(1) for t in (dense, *sparse)]
    np.testing.assert_allclose(terms[:, 0, 1], 0.5 * s[0] * s[1], rtol=1e-5)
    np.testing.assert_allclose(
        terms[:, 2, 2], 0.5 * (s[2] ** 2 - (sparse[1] ** 2).sum(1)), rtol=1e-4, atol=1e-5
    )


def test_shape_inference():
    layer = FMInteractionArch(9, ["a", "b"], 4)
    assert layer.compute_output_shape((None, 3), [(None, 3), (None, 3)]) == (None, 8)
    out = layer(keras.Input((3,)), [keras.Input((3,)), keras.Input((3,))])
    assert tuple(out.shape) == (None, 8)


def test_config_round_trip_and_save(tmp_path):
    layer, weights, dense, sparse = _layer()
    cfg = layer.get_config()
    assert (cfg["fm_in_features"], cfg["sparse_feature_names"], cfg["deep_fm_dimension"]) == (
        9,
        ["a", "b"],
        4,
    )
    d_in, s_in = keras.Input((3,)), [keras.Input((3,)), keras.Input((3,))]
    model = keras.Model([d_in, *s_in], FMInteractionArch.from_config(cfg)(d_in, s_in))
    model.layers[-1].set_weights(weights)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(
        np.asarray(loaded([dense, *sparse])), np.asarray(model([dense, *sparse]))
    )


def test_jit_and_grad():
    layer, (w, b), dense, sparse = _layer()
    params = [v.value for v in layer.trainable_variables]

    def fm_only(p, d, s):
        return jnp.sum(layer.stateless_call(p, [], d, s)[0][:, -1])

    grad_d, grad_s = jax.jit(jax.grad(fm_only, argnums=(1, 2)))(
        params, jnp.asarray(dense), [jnp.asarray(t) for t in sparse]
    )
    # d FM / d z_k = (sum of all entries) - z_k
    total = (dense.sum(1) + sparse[0].sum(1) + sparse[1].sum(1))[:, None]
    np.testing.assert_allclose(np.asarray(grad_d), total - dense, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(grad_s[1]), total - sparse[1], rtol=1e-5, atol=1e-5)

    def deep_sum(p, d, s):
        return jnp.sum(layer.stateless_call(p, [], d, s)[0][:, 3:7])

    grad_w = jax.jit(jax.grad(deep_sum))(
        params, jnp.asarray(dense), [jnp.asarray(t) for t in sparse]
    )
    flat = np.concatenate([dense, *sparse], 1)
    np.testing.assert_allclose(
        np.asarray(grad_w[0]), flat.T @ ((flat @ w + b) > 0), rtol=1e-5, atol=1e-5
    )


def test_bad_arguments_and_inputs():
    layer, _, dense, sparse = _layer()
    with pytest.raises(ValueError, match="expects 2 sparse features"):
        layer(dense, sparse[:1])
    with pytest.raises(ValueError, match="missing features"):
        layer(dense, {"a": sparse[0]})
    with pytest.raises(ValueError, match="fm_in_features=9 does not match"):
        layer(dense, [sparse[0], sparse[1][:, :2]])
    with pytest.raises(ValueError, match="dense_features of rank 2"):
        layer(dense[:, :, None], sparse)
    with pytest.raises(ValueError, match="distinct strings"):
        FMInteractionArch(9, ["a", "a"], 4)
