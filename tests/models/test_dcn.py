"""DCN (v1): vector cross network plus deep network against NumPy, stacked vs parallel, validation."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from recsys_core.models.dcn import DCN

TABLES = [{"name": "a", "vocab_size": 5}, {"name": "b", "vocab_size": 4}]


def tiny(**kwargs):
    keras.utils.set_random_seed(0)
    model = DCN(TABLES, ["c1", "c2"], embedding_dim=3, output_bias=0.5, **kwargs)
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


def flat_numpy(model, x):
    emb = model.embedding.embeddings
    return np.concatenate(
        [
            np.asarray(emb["a"].embeddings)[x["a"]],
            np.asarray(emb["b"].embeddings)[x["b"]],
            x["continuous"],
        ],
        axis=1,
    )


def dense(layer, h, relu):
    out = h @ np.asarray(layer.kernel) + np.asarray(layer.bias)
    return np.maximum(out, 0.0) if relu else out


def cross_numpy(model, x0):
    x = x0
    for w, b in zip(model.cross.kernels, model.cross.bias, strict=True):
        x = x0 * (x @ np.asarray(w)) + np.asarray(b).reshape(1, -1) + x
    return x


@pytest.mark.parametrize("structure", ["stacked", "parallel"])
def test_output_matches_numpy(structure):
    model, x = tiny(num_cross_layers=2, structure=structure, dnn=[6, 4])
    x0 = flat_numpy(model, x)
    crossed = cross_numpy(model, x0)
    h = crossed if structure == "stacked" else x0
    for layer in model.deep.dense_layers:
        h = dense(layer, h, relu=True)
    if structure == "parallel":
        h = np.concatenate([crossed, h], axis=1)
    expected = dense(model.head, h, relu=False)
    np.testing.assert_allclose(np.asarray(model(x)), expected, rtol=1e-5, atol=1e-5)


def test_structures_differ_in_the_head_width_only():
    stacked, _ = tiny(structure="stacked", dnn=[6, 4])
    parallel, _ = tiny(structure="parallel", dnn=[6, 4])
    assert stacked.head.kernel.shape == (4, 1)
    assert parallel.head.kernel.shape == (8 + 4, 1)
    assert parallel.count_params() - stacked.count_params() == 8


def test_cross_only_and_parameter_count():
    model, x = tiny(num_cross_layers=3, dnn=[])
    assert model.deep is None
    expected = dense(model.head, cross_numpy(model, flat_numpy(model, x)), relu=False)
    np.testing.assert_allclose(np.asarray(model(x)), expected, rtol=1e-5, atol=1e-5)
    # embeddings, 3 x (w, b) of width 8, output unit
    assert model.count_params() == 9 * 3 + 3 * 16 + 9


def test_validation():
    with pytest.raises(ValueError, match="structure"):
        DCN(TABLES, [], structure="sideways")
    with pytest.raises(ValueError, match="num_cross_layers"):
        DCN(TABLES, [], num_cross_layers=0)
