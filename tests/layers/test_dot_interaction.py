import jax
import keras
import keras_rs
import numpy as np
import pytest

from recsys_core.layers import DotInteraction


def _features(n=4, batch=3, dim=5, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(batch, dim)).astype("float32") for _ in range(n)]


@pytest.mark.parametrize("self_interaction", [False, True])
@pytest.mark.parametrize("skip_gather", [False, True])
def test_identical_to_keras_rs(self_interaction, skip_gather):
    feats = _features()
    ours = DotInteraction(self_interaction=self_interaction, skip_gather=skip_gather)(feats)
    ref = keras_rs.layers.DotInteraction(
        self_interaction=self_interaction, skip_gather=skip_gather
    )(feats)
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(ref))


def test_hand_computed_lower_triangle():
    a, b, c = (np.array([[1.0, 2.0]]), np.array([[3.0, -1.0]]), np.array([[0.5, 0.5]]))
    out = np.asarray(DotInteraction()([a, b, c]))
    # order: (1,0), (2,0), (2,1)
    np.testing.assert_allclose(out, [[1 * 3 - 2, 0.5 + 1.0, 1.5 - 0.5]])


def test_pair_terms_hold_every_dot_product_and_match_the_output():
    feats = _features(n=5)
    layer = DotInteraction()
    terms = np.asarray(layer.pair_terms(feats))
    stacked = np.stack(feats, axis=1)
    np.testing.assert_allclose(terms, np.einsum("bid,bjd->bij", stacked, stacked), rtol=1e-5)
    rows, cols = np.tril_indices(5, -1)
    np.testing.assert_allclose(np.asarray(layer(feats)), terms[:, rows, cols], rtol=1e-6)


def test_serialisation_jit_and_grad(tmp_path):
    feats = _features(n=3)
    inputs = [keras.Input((5,)) for _ in range(3)]
    model = keras.Model(inputs, DotInteraction()(inputs))
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    np.testing.assert_array_equal(np.asarray(model(feats)), np.asarray(loaded(feats)))
    layer = DotInteraction()
    out = jax.jit(lambda f: layer(f))(feats)
    np.testing.assert_allclose(np.asarray(out), np.asarray(layer(feats)), rtol=1e-6)
    # d/da sum_{pairs} <a, x_j> = sum of the other vectors
    grad = jax.grad(lambda f: layer(f).sum())(feats)
    np.testing.assert_allclose(np.asarray(grad[0]), feats[1] + feats[2], rtol=1e-5)


def test_pair_terms_rejects_a_single_feature():
    with pytest.raises(ValueError, match="at least 2 feature tensors"):
        DotInteraction().pair_terms([np.ones((2, 3))])
