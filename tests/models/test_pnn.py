"""PNN model: forward equals DNN([embeddings, inner/outer products]) in NumPy; product_type errors."""

import numpy as np
import pytest

from recsys_core.data import synthetic_ratings
from recsys_core.errors import RecsysCoreError
from recsys_core.features import Preprocessor, movielens_spec
from recsys_core.models import PNN, resolve_hparams
from tests.models.numpy_reference import fields as _fields
from tests.models.numpy_reference import inputs as _inputs
from tests.models.numpy_reference import mlp as _mlp
from tests.models.numpy_reference import randomised as _randomised


@pytest.fixture(scope="module")
def pre():
    return Preprocessor(movielens_spec("tutorial")).fit(synthetic_ratings(300, seed=3))


def _flat(w, name, pre, x):
    """(batch, S * D + C): the sparse embeddings concatenated with the raw continuous columns."""
    vecs = [w[f"{name}/embedding/embedding_{f}/embeddings"][x[f]] for f in pre.spec.categorical]
    return np.concatenate([*vecs, x["continuous"]], axis=1)


def _products(w, v, product_type, kernel_type):
    f = v.shape[1]
    p = np.stack([v[:, i] for i in range(f) for j in range(i + 1, f)], axis=1)
    q = np.stack([v[:, j] for i in range(f) for j in range(i + 1, f)], axis=1)
    parts = []
    if product_type in ("inner", "both"):
        parts.append(np.sum(p * q, axis=-1))
    if product_type in ("outer", "both"):
        k = w["pnn/outer_product/kernel"]
        if kernel_type == "mat":
            parts.append(np.einsum("bkl,akl,bka->bk", p, k, q))
        else:
            parts.append(np.sum(p * q * k[None], axis=-1))
    return parts


@pytest.mark.parametrize(
    ("product_type", "kernel_type"),
    [("inner", "mat"), ("outer", "vec"), ("both", "mat")],
)
def test_forward_equals_numpy(pre, product_type, kernel_type):
    model, w0, w = _randomised(
        "pnn", pre, embedding_dim=3, dnn=[4], product_type=product_type, kernel_type=kernel_type
    )
    x = _inputs(pre)
    v = _fields(w, "pnn", pre, x)
    deep_in = np.concatenate(
        [_flat(w, "pnn", pre, x), *_products(w, v, product_type, kernel_type)], 1
    )
    expected = _mlp(w, "pnn/dnn", deep_in, 2)
    np.testing.assert_allclose(np.asarray(model(x))[:, 0], expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(w0["pnn/dnn/dense_1/bias"], [2.5])


def test_hyper_parameter_errors(pre):
    with pytest.raises(RecsysCoreError, match="product_type"):
        resolve_hparams("pnn", {"product_type": "cross"})
    with pytest.raises(RecsysCoreError, match="kernel_type"):
        resolve_hparams("pnn", {"kernel_type": "tensor"})
    with pytest.raises(ValueError, match="product_type must be one of"):
        PNN(pre.tables(), product_type="cross")
    with pytest.raises(ValueError, match="kernel_type must be one of"):
        PNN(pre.tables(), kernel_type="tensor")
