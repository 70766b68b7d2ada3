"""FGCNN: generated features joined to the raw fields, inner products and DNN against NumPy; errors."""

from __future__ import annotations

import numpy as np
import pytest

from recsys_core.errors import RecsysCoreError
from recsys_core.models import FGCNN, resolve_hparams

# isort: split
import keras

TABLES = [{"name": n, "vocab_size": 5} for n in "abcde"]
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
    model = FGCNN(TABLES, CONT, embedding_dim=3, output_bias=0.5, **kwargs)
    model.build()
    rng = np.random.default_rng(2)
    for v in model.weights:
        v.assign(rng.normal(0, 0.4, v.shape).astype("float32"))
    return model


def _fields(model, x, tables, projection):
    cols = [_np(tables.embeddings[t["name"]].embeddings)[x[t["name"]]] for t in TABLES]
    cols.append(x["continuous"] @ _np(projection.kernel) + _np(projection.bias))
    return np.stack(cols, axis=1)


@pytest.mark.parametrize("fg_embedding", ["separate", "shared"])
def test_forward_matches_numpy(fg_embedding):
    model = _model(
        conv_filters=[2, 3],
        conv_kernel_width=[3, 2],
        new_maps=[2, 1],
        pooling_width=[2, 3],
        fg_embedding=fg_embedding,
        dnn=[5, 4],
    )
    x = _inputs()
    raw = _fields(model, x, model.embedding, model.continuous_projection)
    if fg_embedding == "separate":
        fg = _fields(model, x, model.fg_tables, model.fg_projection)
        assert not np.allclose(fg, raw)
    else:
        assert model.fg_tables is None and model.fg_projection is None
        fg = raw
    # FGCNNLayer itself is checked against DeepCTR in tests/layers; here: what it is fed and how
    # its output is combined.
    new = _np(model.generator(fg.astype("float32")))
    assert new.shape == (6, 3 * 2 + 1 * 1, 3)  # 6 fields -> 3 rows x 2 maps -> 1 row x 1 map
    combined = np.concatenate([raw, new], axis=1)
    n = combined.shape[1]
    products = [
        combined[:, i] @ np.eye(3) @ combined[:, j].T for i in range(n) for j in range(i + 1, n)
    ]
    products = np.stack([np.diag(p) for p in products], axis=1)
    h = np.concatenate([combined.reshape(6, -1), products], axis=1)
    assert h.shape == (6, n * 3 + n * (n - 1) // 2)
    for d in model.deep.dense_layers:
        h = np.maximum(h @ _np(d.kernel) + _np(d.bias), 0)
    expected = h @ _np(model.head.kernel) + _np(model.head.bias)
    np.testing.assert_allclose(_np(model(x)), expected, rtol=1e-4, atol=1e-4)


def test_without_generation_only_raw_fields_interact():
    model = _model(conv_filters=[], conv_kernel_width=[], new_maps=[], pooling_width=[])
    assert model.generator is None and model.fg_tables is None
    assert model.deep.dense_layers[0].kernel.shape[0] == 6 * 3 + 15


def test_config_round_trips():
    model = _model(fg_embedding="shared", dnn=[4])
    clone = FGCNN.from_config(model.get_config())
    clone.build()
    assert clone.get_config() == model.get_config()
    assert len(clone.weights) == len(model.weights)


def test_hyper_parameter_errors():
    with pytest.raises(ValueError, match="equal lengths"):
        FGCNN(TABLES, CONT, conv_filters=[4, 4], conv_kernel_width=[3])
    with pytest.raises(ValueError, match="too few"):
        FGCNN(
            TABLES,
            CONT,
            conv_filters=[2] * 3,
            conv_kernel_width=[3] * 3,
            new_maps=[1] * 3,
            pooling_width=[2] * 3,
        )
    with pytest.raises(ValueError, match="fg_embedding"):
        FGCNN(TABLES, CONT, fg_embedding="tied")
    with pytest.raises(ValueError, match="dnn"):
        FGCNN(TABLES, CONT, dnn=[])
    with pytest.raises(RecsysCoreError, match="pooling_width"):
        resolve_hparams("fgcnn", {"pooling_width": [0, 2]})
