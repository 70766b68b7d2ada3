"""AFM model: forward equals bias + linear + attention-pooled pair products in NumPy; errors."""

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


def test_forward_equals_numpy(pre):
    model, w0, w = _randomised("afm", pre, embedding_dim=4, attention_factor=3)
    x = _inputs(pre)
    v = _fields(w, "afm", pre, x)
    f = v.shape[1]
    bi = np.stack([v[:, i] * v[:, j] for i in range(f) for j in range(i + 1, f)], axis=1)
    hidden = np.maximum(bi @ w["afm/afm/attention_W"] + w["afm/afm/attention_b"], 0.0)
    logits = (hidden @ w["afm/afm/projection_h"])[..., 0]
    att = np.exp(logits - logits.max(axis=1, keepdims=True))
    att /= att.sum(axis=1, keepdims=True)
    pooled = np.sum(att[..., None] * bi, axis=1)
    expected = (
        w["afm/bias"] + _linear(w, "afm", pre, x) + (pooled @ w["afm/afm/projection_p"])[:, 0]
    )
    np.testing.assert_allclose(np.asarray(model(x))[:, 0], expected, rtol=1e-4, atol=1e-4)
    assert w0["afm/bias"] == 2.5 and model.afm.attention_factor == 3


def test_hyper_parameter_errors():
    with pytest.raises(RecsysCoreError, match="attention_factor"):
        resolve_hparams("afm", {"attention_factor": 0})
    with pytest.raises(RecsysCoreError, match="afm_dropout"):
        resolve_hparams("afm", {"afm_dropout": "x"})
