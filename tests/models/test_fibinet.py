"""FiBiNET against a NumPy forward pass (SENET, bilinear pairs, DNN, linear); hyper-parameter errors."""

from __future__ import annotations

import numpy as np
import pytest

from recsys_core.errors import RecsysCoreError
from recsys_core.models import FiBiNET, resolve_hparams

# isort: split
import keras

TABLES = [
    {"name": "a", "vocab_size": 5},
    {"name": "b", "vocab_size": 4},
    {"name": "c", "vocab_size": 3},
]
CONT = ["x1", "x2"]


def _inputs(batch=6, seed=0):
    rng = np.random.default_rng(seed)
    x = {t["name"]: rng.integers(0, t["vocab_size"], batch).astype("int32") for t in TABLES}
    x["continuous"] = rng.normal(size=(batch, len(CONT))).astype("float32")
    return x


def _np(v):
    return np.asarray(keras.ops.convert_to_numpy(v), np.float64)


def _model(**kwargs):
    keras.utils.set_random_seed(1)
    model = FiBiNET(TABLES, CONT, embedding_dim=4, output_bias=0.5, **kwargs)
    model.build()
    rng = np.random.default_rng(2)
    for v in model.weights:
        v.assign(rng.normal(0, 0.4, v.shape).astype("float32"))
    return model


def bilinear_numpy(layer, v):
    """p_ij = (v_i W) * v_j for i < j, W by bilinear_type."""
    f = v.shape[1]
    ws = [_np(w) for w in layer.W_list]
    pairs = [(i, j) for i in range(f) for j in range(i + 1, f)]
    out = []
    for k, (i, j) in enumerate(pairs):
        w = {"all": 0, "each": i, "interaction": k}[layer.bilinear_type]
        w = ws[w]
        out.append((v[:, i] @ w) * v[:, j])
    return np.stack(out, axis=1)


@pytest.mark.parametrize("bilinear_type", ["interaction", "each", "all"])
def test_forward_matches_numpy(bilinear_type):
    model = _model(bilinear_type=bilinear_type, reduction_ratio=2, dnn=(5, 3))
    x = _inputs()
    e = [_np(model.embedding.embeddings[t["name"]].embeddings)[x[t["name"]]] for t in TABLES]
    proj = model.continuous_projection
    e.append(x["continuous"] @ _np(proj.kernel) + _np(proj.bias))
    e = np.stack(e, axis=1)  # (B, 4, D)
    w1, w2 = _np(model.senet.W_1), _np(model.senet.W_2)
    assert w1.shape == (4, 2)
    a = np.maximum(np.maximum(e.mean(-1) @ w1, 0) @ w2, 0)
    reweighted = e * a[..., None]
    pairs = np.concatenate(
        [bilinear_numpy(model.senet_bilinear, reweighted), bilinear_numpy(model.bilinear, e)], 1
    )
    h = pairs.reshape(6, -1)
    assert h.shape == (6, 2 * 6 * 4)
    for d in model.deep.dense_layers:
        h = np.maximum(h @ _np(d.kernel) + _np(d.bias), 0)
    lin = model.linear
    linear = sum(
        _np(lin.weights_per_value.embeddings[t["name"]].embeddings)[x[t["name"]], 0] for t in TABLES
    )
    linear = linear + x["continuous"] @ _np(lin.continuous_weights.kernel)[:, 0]
    expected = h @ _np(model.head.kernel) + _np(model.head.bias) + linear[:, None]
    np.testing.assert_allclose(_np(model(x)), expected, rtol=1e-4, atol=1e-4)


def test_starts_at_the_bias_and_config_round_trips():
    keras.utils.set_random_seed(0)
    model = FiBiNET(TABLES, CONT, embedding_dim=4, dnn=[4], output_bias=-1.5, bilinear_type="each")
    model.build()
    np.testing.assert_allclose(_np(model.head.bias), [-1.5])
    assert all(float(np.abs(_np(w)).max()) == 0 for w in model.linear.weights_per_value.weights)
    clone = FiBiNET.from_config(model.get_config())
    assert clone.get_config() == model.get_config()


def test_hyper_parameter_errors():
    with pytest.raises(ValueError, match="bilinear_type"):
        FiBiNET(TABLES, CONT, bilinear_type="outer")
    with pytest.raises(ValueError, match="reduction_ratio"):
        FiBiNET(TABLES, CONT, reduction_ratio=0)
    with pytest.raises(ValueError, match="dnn"):
        FiBiNET(TABLES, CONT, dnn=[])
    with pytest.raises(ValueError, match="at least two fields"):
        FiBiNET(TABLES[:1])
    with pytest.raises(RecsysCoreError, match="bilinear_type"):
        resolve_hparams("fibinet", {"bilinear_type": "outer"})
    with pytest.raises(RecsysCoreError, match="reduction_ratio"):
        resolve_hparams("fibinet", {"reduction_ratio": 0})
