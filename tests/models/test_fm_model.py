"""FM model: forward equals bias + linear + FM pairwise term in NumPy; hyper-parameter errors."""

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


def _fm(v):
    return 0.5 * np.sum(np.sum(v, axis=1) ** 2 - np.sum(v**2, axis=1), axis=1)


def test_forward_equals_numpy(pre):
    model, w0, w = _randomised("fm", pre, embedding_dim=4)
    x = _inputs(pre)
    expected = w["fm/bias"] + _linear(w, "fm", pre, x) + _fm(_fields(w, "fm", pre, x))
    np.testing.assert_allclose(np.asarray(model(x))[:, 0], expected, rtol=1e-4, atol=1e-4)
    assert w0["fm/bias"] == 2.5
    assert not np.any(w0["fm/linear/values/embedding_movie_id/embeddings"])
    vocab = sum(t["vocab_size"] for t in pre.tables())
    n_cont = len(pre.spec.continuous)
    assert model.count_params() == 1 + vocab * 4 + (n_cont * 4 + 4) + vocab + n_cont


def test_hyper_parameter_errors():
    with pytest.raises(RecsysCoreError, match="linear_l2"):
        resolve_hparams("fm", {"linear_l2": -1})
    with pytest.raises(RecsysCoreError, match="no hyper-parameter 'dnn'"):
        resolve_hparams("fm", {"dnn": [8]})
