"""AutoInt / AutoInt+ against a NumPy forward pass; attention maps; hyper-parameter errors."""

from __future__ import annotations

import numpy as np
import pytest

from recsys_core.errors import RecsysCoreError
from recsys_core.models import AutoInt, get_entry, resolve_hparams

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


def _model(**kwargs):
    keras.utils.set_random_seed(1)
    model = AutoInt(TABLES, CONT, embedding_dim=4, output_bias=0.5, **kwargs)
    model.build()
    rng = np.random.default_rng(2)
    for v in model.weights:  # every weight random, so no term hides behind a zero initializer
        v.assign(rng.normal(0, 0.4, v.shape).astype("float32"))
    return model


def _np(v):
    return np.asarray(keras.ops.convert_to_numpy(v), np.float64)


def field_matrix_numpy(model, x):
    cols = [_np(model.embedding.embeddings[t["name"]].embeddings)[x[t["name"]]] for t in TABLES]
    proj = model.continuous_projection
    cols.append(x["continuous"].astype(np.float64) @ _np(proj.kernel) + _np(proj.bias))
    return np.stack(cols, axis=1)


def softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def attention_numpy(layer, e):
    """One InteractingLayer (use_res, no scaling), head by head: (output, scores (B, H, F, F))."""
    att, heads = layer.att_embedding_size, layer.head_num
    wq, wk, wv, wr = (_np(w) for w in (layer.W_Query, layer.W_key, layer.W_Value, layer.W_Res))
    outs, scores = [], []
    for h in range(heads):
        c = slice(h * att, (h + 1) * att)
        a = softmax((e @ wq[:, c]) @ np.swapaxes(e @ wk[:, c], 1, 2))
        scores.append(a)
        outs.append(a @ (e @ wv[:, c]))
    return np.maximum(np.concatenate(outs, -1) + e @ wr, 0), np.stack(scores, 1)


def mlp_numpy(mlp, h):
    for d in mlp.dense_layers:
        h = np.maximum(h @ _np(d.kernel) + _np(d.bias), 0)
    return h


@pytest.mark.parametrize("dnn", [(), (5, 3)])
def test_forward_and_attention_maps_match_numpy(dnn):
    model = _model(att_layer_num=2, att_embedding_size=3, att_head_num=2, dnn=dnn)
    x = _inputs()
    e = field_matrix_numpy(model, x)
    np.testing.assert_allclose(_np(model.field_matrix(x)), e, rtol=1e-5, atol=1e-5)
    maps = model.attention_maps(x)
    assert len(maps) == 2
    h = e
    for layer, got in zip(model.attention, maps, strict=True):
        h_next, scores = attention_numpy(layer, h)
        got = _np(got)
        assert got.shape == (6, 2, 4, 4)
        np.testing.assert_allclose(got.sum(-1), 1.0, atol=1e-5)
        np.testing.assert_allclose(got, scores, rtol=1e-4, atol=1e-5)
        h = h_next
    out = h.reshape(6, -1)
    if dnn:
        flat = np.concatenate([e[:, :3].reshape(6, -1), x["continuous"]], axis=-1)
        out = np.concatenate([out, mlp_numpy(model.deep, flat)], axis=-1)
    else:
        assert model.deep is None
    expected = out @ _np(model.head.kernel) + _np(model.head.bias)
    np.testing.assert_allclose(_np(model(x)), expected, rtol=1e-4, atol=1e-4)


def test_output_starts_at_the_bias_and_config_round_trips():
    keras.utils.set_random_seed(0)
    model = AutoInt(TABLES, CONT, embedding_dim=4, dnn=[4], output_bias=2.5)
    model.build()
    np.testing.assert_allclose(_np(model.head.bias), [2.5])
    clone = AutoInt.from_config(model.get_config())
    assert clone.get_config() == model.get_config()
    assert clone.dnn_units == [4] and clone.att_layer_num == 3


def test_registry_entries():
    assert get_entry("autoint").cls is AutoInt and get_entry("autoint_plus").cls is AutoInt
    assert "dnn" not in resolve_hparams("autoint")
    assert resolve_hparams("autoint_plus")["dnn"]


def test_hyper_parameter_errors():
    with pytest.raises(ValueError, match="att_layer_num"):
        AutoInt(TABLES, CONT, att_layer_num=0)
    with pytest.raises(ValueError, match="head_num"):
        AutoInt(TABLES, CONT, att_head_num=0)
    with pytest.raises(ValueError, match="at least two fields"):
        AutoInt(TABLES[:1])
    with pytest.raises(RecsysCoreError, match="att_head_num"):
        resolve_hparams("autoint", {"att_head_num": 0})
    with pytest.raises(RecsysCoreError, match="dnn"):
        resolve_hparams("autoint", {"dnn": [8]})
