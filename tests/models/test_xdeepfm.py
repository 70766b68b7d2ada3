"""xDeepFM: linear + CIN + DNN against NumPy, validation."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from recsys_core.models.xdeepfm import XDeepFM

TABLES = [{"name": "a", "vocab_size": 5}, {"name": "b", "vocab_size": 4}]


def tiny(**kwargs):
    keras.utils.set_random_seed(0)
    model = XDeepFM(TABLES, ["c1", "c2"], embedding_dim=3, output_bias=0.5, **kwargs)
    model.build()
    rng = np.random.default_rng(1)
    for v in model.weights:
        v.assign(rng.normal(scale=0.4, size=v.shape).astype("float32"))
    x = {
        "a": np.array([1, 2, 4, 0], "int32"),
        "b": np.array([3, 1, 0, 2], "int32"),
        "continuous": rng.normal(size=(4, 2)).astype("float32"),
    }
    return model, x


def dense(layer, h, relu):
    out = h @ np.asarray(layer.kernel) + np.asarray(layer.bias)
    return np.maximum(out, 0.0) if relu else out


def cin_numpy(cin, x0, act):
    hidden, outputs = x0, []
    for k, size in enumerate(cin.layer_size):
        w = np.asarray(cin.filters[k])[0]  # (F0 * Fk, size), row i * Fk + j
        z = (x0[:, :, None, :] * hidden[:, None, :, :]).reshape(x0.shape[0], -1, x0.shape[2])
        maps = act(np.einsum("bmd,mh->bhd", z, w) + np.asarray(cin.bias[k])[None, :, None])
        if cin.split_half and k < len(cin.layer_size) - 1:
            hidden, direct = maps[:, : size // 2], maps[:, size // 2 :]
        else:
            hidden = direct = maps
        outputs.append(direct.sum(axis=2))
    return np.concatenate(outputs, axis=1)


@pytest.mark.parametrize(
    ("cin_layers", "activation", "dnn"),
    [([4, 2], "relu", [5]), ([3], "linear", []), ([4, 4, 2], "tanh", [6, 4])],
)
def test_output_matches_numpy(cin_layers, activation, dnn):
    model, x = tiny(cin_layers=cin_layers, cin_activation=activation, dnn=dnn)
    emb = {n: np.asarray(model.embedding.embeddings[n].embeddings)[x[n]] for n in ("a", "b")}
    cont_field = dense(model.continuous_projection, x["continuous"], relu=False)
    fields = np.stack([emb["a"], emb["b"], cont_field], axis=1)
    act = {"relu": lambda v: np.maximum(v, 0.0), "linear": lambda v: v, "tanh": np.tanh}[activation]
    parts = [cin_numpy(model.cin, fields, act)]
    if dnn:
        h = np.concatenate([emb["a"], emb["b"], x["continuous"]], axis=1)
        for layer in model.deep.dense_layers:
            h = dense(layer, h, relu=True)
        parts.append(h)
    values = model.linear.weights_per_value.embeddings
    linear = (
        np.asarray(values["a"].embeddings)[x["a"]]
        + np.asarray(values["b"].embeddings)[x["b"]]
        + x["continuous"] @ np.asarray(model.linear.continuous_weights.kernel)
    )
    expected = dense(model.head, np.concatenate(parts, axis=1), relu=False) + linear
    np.testing.assert_allclose(np.asarray(model(x)), expected, rtol=1e-4, atol=1e-4)
    assert len(model.field_vectors(x)) == len(model.field_names) == 3


def test_validation():
    with pytest.raises(ValueError, match="cin_activation"):
        XDeepFM(TABLES, [], cin_activation="dice")
    with pytest.raises(ValueError, match="even"):
        XDeepFM(TABLES, [], cin_layers=[3, 2])
    with pytest.raises(ValueError, match="at least one"):
        XDeepFM(TABLES, [], cin_layers=[])
