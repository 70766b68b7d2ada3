"""Wide & Deep model: forward equals linear terms + DNN(embeddings, raw continuous) in NumPy."""

import numpy as np
import pytest

from recsys_core.data import synthetic_ratings
from recsys_core.errors import RecsysCoreError
from recsys_core.features import Preprocessor, movielens_spec
from recsys_core.models import resolve_hparams
from tests.models.numpy_reference import inputs as _inputs
from tests.models.numpy_reference import linear as _linear
from tests.models.numpy_reference import mlp as _mlp
from tests.models.numpy_reference import randomised as _randomised


@pytest.fixture(scope="module")
def pre():
    return Preprocessor(movielens_spec("tutorial")).fit(synthetic_ratings(300, seed=3))


def _flat(w, name, pre, x):
    """(batch, S * D + C): the sparse embeddings concatenated with the raw continuous columns."""
    vecs = [w[f"{name}/embedding/embedding_{f}/embeddings"][x[f]] for f in pre.spec.categorical]
    return np.concatenate([*vecs, x["continuous"]], axis=1)


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
