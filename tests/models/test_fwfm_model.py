"""FwFM model: forward equals bias + linear + sum_{i<j} r_ij <v_i, v_j> in NumPy; errors."""

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
    model, w0, w = _randomised("fwfm", pre, embedding_dim=3)
    x = _inputs(pre)
    v = _fields(w, "fwfm", pre, x)
    r = w["fwfm/fwfm/field_pair_strengths"]
    pair = sum(
        r[i, j] * np.sum(v[:, i] * v[:, j], axis=1)
        for i in range(v.shape[1])
        for j in range(i + 1, v.shape[1])
    )
    expected = w["fwfm/bias"] + _linear(w, "fwfm", pre, x) + pair
    np.testing.assert_allclose(np.asarray(model(x))[:, 0], expected, rtol=1e-4, atol=1e-4)
    assert w0["fwfm/bias"] == 2.5 and r.shape == (v.shape[1], v.shape[1])


def test_hyper_parameter_errors():
    with pytest.raises(RecsysCoreError, match="field_strength_l2"):
        resolve_hparams("fwfm", {"field_strength_l2": 2.0})
