"""DeepFEFM model: forward equals linear + FEFM + DNN(embeddings, FEFM interactions) in NumPy."""

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


def _flat(w, name, pre, x):
    """(batch, S * D + C): the sparse embeddings concatenated with the raw continuous columns."""
    vecs = [w[f"{name}/embedding/embedding_{f}/embeddings"][x[f]] for f in pre.spec.categorical]
    return np.concatenate([*vecs, x["continuous"]], axis=1)


def test_forward_equals_numpy(pre):
    model, w0, w = _randomised("deepfefm", pre, embedding_dim=3, dnn=[4])
    x = _inputs(pre)
    v = _fields(w, "deepfefm", pre, x)
    f = v.shape[1]
    inter = []
    for i in range(f):
        for j in range(i + 1, f):
            m = w[f"deepfefm/fefm/field_embeddings{i}-{j}"]
            inter.append(np.einsum("be,eg,bg->b", v[:, i], m + m.T, v[:, j]))
    inter = np.stack(inter, axis=1)
    deep_in = np.concatenate([_flat(w, "deepfefm", pre, x), inter], axis=1)
    expected = (
        _linear(w, "deepfefm", pre, x) + inter.sum(axis=1) + _mlp(w, "deepfefm/dnn", deep_in, 2)
    )
    np.testing.assert_allclose(np.asarray(model(x))[:, 0], expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(w0["deepfefm/dnn/dense_1/bias"], [2.5])


def test_hyper_parameter_errors():
    with pytest.raises(RecsysCoreError, match="field_embedding_l2"):
        resolve_hparams("deepfefm", {"field_embedding_l2": -0.1})
