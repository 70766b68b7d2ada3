"""FM model: forward equals bias + linear + FM pairwise term in NumPy; hyper-parameter errors."""

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
