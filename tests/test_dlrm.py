import jax
import jax.numpy as jnp
import keras
import numpy as np
import pytest

from recsys_core.data import synthetic_ratings
from recsys_core.features import Preprocessor, movielens_spec
from recsys_core.models import DLRM, build_model
from recsys_core.training import predict


@pytest.fixture(scope="module")
def pre():
    return Preprocessor(movielens_spec("tutorial")).fit(synthetic_ratings(500, seed=2))


def _mlp_params(widths, fan_in):
    total = 0
    for w in widths:
        total += fan_in * w + w
        fan_in = w
    return total


@pytest.mark.parametrize("variant", ["tutorial", "canonical"])
def test_parameter_count_matches_the_architecture(pre, variant):
    keras.utils.set_random_seed(0)
    model = build_model(
        "dlrm",
        pre,
        {
            "variant": variant,
            "embedding_dim": 8,
            "bottom_mlp": [8],
            "top_mlp": [192, 192, 192],
            "linear": 0,
        },
    )
    d, n_fields = 8, len(pre.spec.sparse_fields) + 1
    pairs = n_fields * (n_fields - 1) // 2
    emb = sum(t["vocab_size"] for t in pre.tables()) * d
    bottom = _mlp_params([8, d], len(pre.spec.continuous))
    top_in = pairs + (d if variant == "canonical" else 0)
    top = _mlp_params([192, 192, 192, 1], top_in)
    assert model.count_params() == emb + bottom + top


def test_forward_equals_a_numpy_reimplementation(pre):
    keras.utils.set_random_seed(1)
    model = build_model("dlrm", pre, {"variant": "canonical", "top_mlp": [4], "linear": 0})
    rows = synthetic_ratings(20, seed=9)
    x = pre.transform(rows)
    w = {v.path: np.asarray(v.value) for v in model.weights}
    emb = [w[f"dlrm/embedding/embedding_{n}/embeddings"][x[n]] for n in pre.spec.categorical]
    relu = lambda a: np.maximum(a, 0)  # noqa: E731
    h = relu(
        x["continuous"] @ w["dlrm/bottom_mlp/dense_0/kernel"] + w["dlrm/bottom_mlp/dense_0/bias"]
    )
    dense = h @ w["dlrm/bottom_mlp/dense_1/kernel"] + w["dlrm/bottom_mlp/dense_1/bias"]
    vecs = np.stack([*emb, dense], axis=1)
    gram = np.einsum("nid,njd->nij", vecs, vecs)
    rows_i, cols_j = np.tril_indices(vecs.shape[1], -1)
    inter = gram[:, rows_i, cols_j]
    top_in = np.concatenate([dense, inter], axis=1)
    h = relu(top_in @ w["dlrm/top_mlp/dense_0/kernel"] + w["dlrm/top_mlp/dense_0/bias"])
    expected = h @ w["dlrm/top_mlp/dense_1/kernel"] + w["dlrm/top_mlp/dense_1/bias"]
    np.testing.assert_allclose(np.asarray(model(x))[:, 0], expected[:, 0], rtol=1e-5, atol=1e-5)


def test_linear_adds_first_order_terms_to_the_top_mlp_output(pre):
    x = pre.transform(synthetic_ratings(20, seed=9))
    keras.utils.set_random_seed(1)
    with_linear = build_model("dlrm", pre, {"top_mlp": [4], "linear": 1, "linear_l2": 0.5})
    keras.utils.set_random_seed(1)
    without = build_model("dlrm", pre, {"top_mlp": [4], "linear": 0})
    # Same initial weights for the shared layers, then first-order weights that are not all zero.
    without.set_weights([v.numpy() for v in with_linear.weights if "/linear/" not in v.path])
    rng = np.random.default_rng(0)
    for v in with_linear.linear.weights:
        v.assign(rng.normal(size=v.shape).astype("float32"))
    expected = np.asarray(without(x)) + np.asarray(with_linear.linear(x))
    np.testing.assert_allclose(np.asarray(with_linear(x)), expected, rtol=1e-5, atol=1e-5)
    terms = with_linear.linear.weights_per_value.embeddings["user_id"].embeddings.numpy()
    assert terms.shape == (pre.vocab_size("user_id"), 1)  # a bias per user
    config = with_linear.get_config()
    assert config["linear"] == 1 and config["linear_l2"] == 0.5
    assert DLRM.from_config(config).linear is not None


def test_output_starts_at_the_training_mean(pre):
    keras.utils.set_random_seed(0)
    model = build_model("dlrm", pre)
    assert model.top.dense_layers[-1].bias.numpy()[0] == pytest.approx(pre.target_mean, rel=1e-6)


def test_keras_save_and_load_give_identical_predictions(pre, tmp_path):
    keras.utils.set_random_seed(3)
    model = build_model("dlrm", pre, {"variant": "tutorial"})
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert isinstance(loaded, DLRM) and loaded.variant == "tutorial"
    x = pre.transform(synthetic_ratings(64, seed=4))
    np.testing.assert_array_equal(predict(model, x, "regression"), predict(loaded, x, "regression"))
    assert loaded.get_config() == model.get_config()


def test_works_under_jit_and_grad(pre):
    keras.utils.set_random_seed(0)
    model = build_model("dlrm", pre)
    x = pre.transform(synthetic_ratings(32, seed=5))
    tv = [v.value for v in model.trainable_variables]
    ntv = [v.value for v in model.non_trainable_variables]

    def loss(tv):
        out, _ = model.stateless_call(tv, ntv, x)
        return jnp.mean(out**2)

    value, grads = jax.jit(jax.value_and_grad(loss))(tv)
    assert np.isfinite(float(value))
    assert all(g.shape == t.shape for g, t in zip(grads, tv, strict=True))
    assert any(float(jnp.abs(g).sum()) > 0 for g in grads)
    # the out-of-vocabulary rows never appear in these inputs, so they get no gradient
    table = [
        i
        for i, v in enumerate(model.trainable_variables)
        if v.path.endswith("embedding_user_id/embeddings")
    ][0]
    assert float(jnp.abs(grads[table][0]).sum()) == 0.0


def test_bad_variant_is_an_error(pre):
    with pytest.raises(ValueError, match="variant must be one of"):
        DLRM(pre.tables(), list(pre.spec.continuous), variant="fancy")
