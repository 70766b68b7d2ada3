"""The engine's speed-ups change nothing: the host-side shuffle and the dot interaction's gradient."""

from __future__ import annotations

import jax
import keras_rs
import numpy as np
import pytest

from recsys_core.layers import DotInteraction
from recsys_core.training.engine import shuffle_order


@pytest.mark.parametrize("n", [1, 2, 3, 1000, 1629, 1631, 5000, 80_000])
def test_shuffle_order_is_jax_random_permutation_bit_for_bit(n):
    for seed in range(3):
        key = jax.random.split(jax.random.PRNGKey(seed))[1]
        expected = np.asarray(jax.random.permutation(key, n))
        np.testing.assert_array_equal(shuffle_order(key, n), expected)


@pytest.mark.parametrize("self_interaction", [False, True])
@pytest.mark.parametrize("skip_gather", [False, True])
def test_dot_interaction_gradient_equals_keras_rs_autodiff(self_interaction, skip_gather):
    rng = np.random.default_rng(0)
    feats = [rng.normal(size=(64, 8)).astype("float32") for _ in range(6)]
    weights = rng.normal(size=(64, 36 if skip_gather else (21 if self_interaction else 15)))
    kwargs = {"self_interaction": self_interaction, "skip_gather": skip_gather}
    ours, ref = DotInteraction(**kwargs), keras_rs.layers.DotInteraction(**kwargs)

    def loss(layer):
        return lambda f: (layer(f) * weights.astype("float32")).sum()

    np.testing.assert_array_equal(np.asarray(ours(feats)), np.asarray(ref(feats)))
    for g_ours, g_ref in zip(jax.grad(loss(ours))(feats), jax.grad(loss(ref))(feats), strict=True):
        np.testing.assert_allclose(np.asarray(g_ours), np.asarray(g_ref), rtol=1e-5, atol=1e-5)
