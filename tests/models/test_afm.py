"""AFM model: forward equals bias + linear + attention-pooled pair products in NumPy; errors."""

import numpy as np
import pytest

from recsys_core.data import synthetic_ratings
from recsys_core.errors import RecsysCoreError
from recsys_core.features import Preprocessor, movielens_spec
from recsys_core.models import resolve_hparams
from tests.models.numpy_reference import fields as _fields
from tests.models.numpy_reference import inputs as _inputs
from tests.models.numpy_reference import linear as _linear
from tests.models.numpy_reference import randomised as _randomised


@pytest.fixture(scope="module")
def pre():
    return Preprocessor(movielens_spec("tutorial")).fit(synthetic_ratings(300, seed=3))


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
