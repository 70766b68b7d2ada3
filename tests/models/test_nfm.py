"""NFM model: forward equals linear + DNN(Bi-Interaction pooling) in NumPy; hyper-parameter errors."""

import numpy as np
import pytest

from recsys_core.data import synthetic_ratings
from recsys_core.errors import RecsysCoreError
from recsys_core.features import Preprocessor, movielens_spec
from recsys_core.models import NFM, resolve_hparams
from tests.models.numpy_reference import fields as _fields
from tests.models.numpy_reference import inputs as _inputs
from tests.models.numpy_reference import linear as _linear
from tests.models.numpy_reference import mlp as _mlp
from tests.models.numpy_reference import randomised as _randomised


@pytest.fixture(scope="module")
def pre():
    return Preprocessor(movielens_spec("tutorial")).fit(synthetic_ratings(300, seed=3))


def test_forward_equals_numpy(pre):
    model, w0, w = _randomised("nfm", pre, embedding_dim=4, dnn=[5], bi_dropout=0.5, dropout=0.2)
    np.testing.assert_array_equal(w0["nfm/dnn/dense_1/bias"], [2.5])
    x = _inputs(pre)
    v = _fields(w, "nfm", pre, x)
    bi = 0.5 * (np.sum(v, axis=1) ** 2 - np.sum(v**2, axis=1))
    expected = _linear(w, "nfm", pre, x) + _mlp(w, "nfm/dnn", bi, 2)
    np.testing.assert_allclose(np.asarray(model(x))[:, 0], expected, rtol=1e-4, atol=1e-4)
    # dropout acts in training only
    assert not np.allclose(np.asarray(model(x, training=True))[:, 0], expected, atol=1e-3)


def test_hyper_parameter_errors(pre):
    with pytest.raises(RecsysCoreError, match="bi_dropout"):
        resolve_hparams("nfm", {"bi_dropout": 1.0})
    with pytest.raises(ValueError, match="bi_dropout"):
        NFM(pre.tables(), bi_dropout=-0.1)
