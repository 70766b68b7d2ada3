"""DeepFM model: forward equals linear + FM + DNN(flattened field vectors) in NumPy; errors."""

import numpy as np
import pytest

from recsys_core.data import synthetic_ratings
from recsys_core.errors import RecsysCoreError
from recsys_core.features import Preprocessor, movielens_spec
from recsys_core.models import resolve_hparams
from tests.models.numpy_reference import fields as _fields
from tests.models.numpy_reference import inputs as _inputs
from tests.models.numpy_reference import linear as _linear
from tests.models.numpy_reference import mlp as _mlp
from tests.models.numpy_reference import randomised as _randomised


@pytest.fixture(scope="module")
def pre():
    return Preprocessor(movielens_spec("tutorial")).fit(synthetic_ratings(300, seed=3))


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
