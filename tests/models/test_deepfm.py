"""DeepFM model: forward equals linear + FM + DNN(flattened field vectors) in NumPy; errors."""

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


def _fields(w, name, pre, x):
    """(batch, F, D): one embedding row per sparse field, then the projected continuous block."""
    vecs = [w[f"{name}/embedding/embedding_{f}/embeddings"][x[f]] for f in pre.spec.categorical]
    proj = f"{name}/continuous_projection"
    vecs.append(x["continuous"] @ w[f"{proj}/kernel"] + w[f"{proj}/bias"])
    return np.stack(vecs, axis=1)


def _linear(w, name, pre, x):
    """(batch,): one weight per sparse value plus a linear map of the continuous columns."""
    out = sum(
        w[f"{name}/linear/values/embedding_{f}/embeddings"][x[f], 0] for f in pre.spec.categorical
    )
    return out + (x["continuous"] @ w[f"{name}/linear/continuous/kernel"])[:, 0]


def _mlp(w, prefix, h, n_layers):
    """NumPy MLP: ReLU hidden layers, a linear last layer."""
    for i in range(n_layers):
        h = h @ w[f"{prefix}/dense_{i}/kernel"] + w[f"{prefix}/dense_{i}/bias"]
        if i < n_layers - 1:
            h = np.maximum(h, 0.0)
    return h[:, 0]


def test_forward_equals_numpy(pre):
    model, w0, w = _randomised("deepfm", pre, embedding_dim=3, dnn=[5, 4])
    x = _inputs(pre)
    v = _fields(w, "deepfm", pre, x)
    fm = 0.5 * np.sum(np.sum(v, axis=1) ** 2 - np.sum(v**2, axis=1), axis=1)
    deep = _mlp(w, "deepfm/dnn", v.reshape(len(v), -1), 3)
    expected = _linear(w, "deepfm", pre, x) + fm + deep
    np.testing.assert_allclose(np.asarray(model(x))[:, 0], expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(w0["deepfm/dnn/dense_2/bias"], [2.5])


def test_hyper_parameter_errors():
    with pytest.raises(RecsysCoreError, match="dnn"):
        resolve_hparams("deepfm", {"dnn": "64,0"})
    with pytest.raises(RecsysCoreError, match="dropout"):
        resolve_hparams("deepfm", {"dropout": 0.95})
