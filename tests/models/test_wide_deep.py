"""Wide & Deep model: forward equals linear terms + DNN(embeddings, raw continuous) in NumPy."""

import keras
import numpy as np
import pytest

from recsys_core.data import synthetic_ratings
from recsys_core.errors import RecsysCoreError
from recsys_core.features import Preprocessor, movielens_spec
from recsys_core.models import build_model, resolve_hparams


@pytest.fixture(scope="module")
def pre():
    return Preprocessor(movielens_spec("tutorial")).fit(synthetic_ratings(300, seed=3))


def _randomised(name, pre, **hparams):
    """A model built with output_bias 2.5, its initial weights, then all its weights made random
    (the linear weights start at zero otherwise): (model, initial weights, random weights)."""
    keras.utils.set_random_seed(0)
    model = build_model(name, pre, hparams, output_bias=2.5)
    initial = {v.path: np.asarray(v.value, "float64") for v in model.weights}
    rng = np.random.default_rng(0)
    for v in model.weights:
        v.assign(rng.normal(scale=0.3, size=v.shape).astype("float32"))
    return model, initial, {v.path: np.asarray(v.value, "float64") for v in model.weights}


def _inputs(pre):
    return pre.transform(synthetic_ratings(12, seed=4))


def _linear(w, name, pre, x):
    """(batch,): one weight per sparse value plus a linear map of the continuous columns."""
    out = sum(
        w[f"{name}/linear/values/embedding_{f}/embeddings"][x[f], 0] for f in pre.spec.categorical
    )
    return out + (x["continuous"] @ w[f"{name}/linear/continuous/kernel"])[:, 0]


def _flat(w, name, pre, x):
    """(batch, S * D + C): the sparse embeddings concatenated with the raw continuous columns."""
    vecs = [w[f"{name}/embedding/embedding_{f}/embeddings"][x[f]] for f in pre.spec.categorical]
    return np.concatenate([*vecs, x["continuous"]], axis=1)


def _mlp(w, prefix, h, n_layers):
    """NumPy MLP: ReLU hidden layers, a linear last layer."""
    for i in range(n_layers):
        h = h @ w[f"{prefix}/dense_{i}/kernel"] + w[f"{prefix}/dense_{i}/bias"]
        if i < n_layers - 1:
            h = np.maximum(h, 0.0)
    return h[:, 0]


def test_forward_equals_numpy(pre):
    model, w0, w = _randomised("wide_deep", pre, embedding_dim=3, dnn=[6])
    x = _inputs(pre)
    deep = _mlp(w, "wide_deep/dnn", _flat(w, "wide_deep", pre, x), 2)
    expected = _linear(w, "wide_deep", pre, x) + deep
    np.testing.assert_allclose(np.asarray(model(x))[:, 0], expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(w0["wide_deep/dnn/dense_1/bias"], [2.5])


def test_hyper_parameter_errors():
    with pytest.raises(RecsysCoreError, match="embedding_dim"):
        resolve_hparams("wide_deep", {"embedding_dim": 0})
