"""FLEN: field groups from the feature spec, NumPy forward pass, hyper-parameter errors."""

from __future__ import annotations

import numpy as np
import pytest

from recsys_core.data import synthetic_ratings
from recsys_core.features import Preprocessor, movielens_spec
from recsys_core.models import FLEN, build_model

# isort: split
import keras

TABLES = [{"name": n, "vocab_size": 5} for n in "abcd"]
CONT = ["x1", "x2"]
GROUPS = ["u", "m", "u", "c", "m"]  # a, b, c, d, continuous


def _inputs(batch=6, seed=0):
    rng = np.random.default_rng(seed)
    x = {t["name"]: rng.integers(0, t["vocab_size"], batch).astype("int32") for t in TABLES}
    x["continuous"] = rng.normal(size=(batch, len(CONT))).astype("float32")
    return x


def _np(v):
    return np.asarray(keras.ops.convert_to_numpy(v), np.float64)


def _model(field_groups=GROUPS, **kwargs):
    keras.utils.set_random_seed(1)
    model = FLEN(
        TABLES, CONT, embedding_dim=3, field_groups=field_groups, output_bias=0.5, **kwargs
    )
    model.build()
    rng = np.random.default_rng(2)
    for v in model.weights:
        v.assign(rng.normal(0, 0.4, v.shape).astype("float32"))
    return model


def flen_numpy(model, x, groups):
    e = [_np(model.embedding.embeddings[t["name"]].embeddings)[x[t["name"]]] for t in TABLES]
    proj = model.continuous_projection
    e.append(x["continuous"] @ _np(proj.kernel) + _np(proj.bias))
    order = list(dict.fromkeys(groups))
    members = [[e[k] for k, g in enumerate(groups) if g == name] for name in order]
    sums = [sum(m) for m in members]
    fw = model.fwbi
    r, c = _np(fw.kernel_mf)[:, 0], _np(fw.kernel_fm)[:, 0]
    pairs = [(i, j) for i in range(len(order)) for j in range(i + 1, len(order))]
    h = sum(r[k] * sums[i] * sums[j] for k, (i, j) in enumerate(pairs))
    h = h + sum(c[m] * (sums[m] ** 2 - sum(v**2 for v in members[m])) for m in range(len(order)))
    h = h + _np(fw.bias_mf) + _np(fw.bias_fm)
    deep = np.concatenate([*e[:-1], x["continuous"]], axis=-1)
    for d in model.deep.dense_layers:
        deep = np.maximum(deep @ _np(d.kernel) + _np(d.bias), 0)
    lin = model.linear
    linear = sum(
        _np(lin.weights_per_value.embeddings[t["name"]].embeddings)[x[t["name"]], 0] for t in TABLES
    )
    linear = linear + x["continuous"] @ _np(lin.continuous_weights.kernel)[:, 0]
    out = np.concatenate([h, deep], -1) @ _np(model.head.kernel) + _np(model.head.bias)
    return out + linear[:, None]


@pytest.mark.parametrize("groups", [GROUPS, None])
def test_forward_matches_numpy(groups):
    model = _model(groups, dnn=[4, 3])
    x = _inputs()
    expected_groups = groups or ["a", "b", "c", "d", "continuous"]
    if groups:
        assert model.group_names == ["u", "m", "c"]
        assert model.group_members == [[0, 2], [1, 4], [3]]
    else:
        assert model.group_names == expected_groups
    np.testing.assert_allclose(
        _np(model(x)), flen_numpy(model, x, expected_groups), rtol=1e-4, atol=1e-4
    )


def test_group_membership_changes_the_output():
    a, b = _model(GROUPS), _model(["u", "u", "m", "c", "m"])
    x = _inputs()
    assert not np.allclose(_np(a(x)), _np(b(x)))


def test_build_model_takes_the_groups_from_the_feature_spec():
    pre = Preprocessor(movielens_spec()).fit(synthetic_ratings(300, seed=3))
    keras.utils.set_random_seed(0)
    model = build_model("flen", pre, {"dnn": [4]})
    groups = dict(zip(model.field_names, model.field_groups, strict=True))
    assert groups == {
        "user_gender": "user",
        "user_zip_code": "user",
        "user_occupation_text": "user",
        "movie_id": "movie",
        "user_id": "user",
        "movie_genres": "movie",
        "continuous": "context",
    }
    assert model.group_names == ["user", "movie", "context"]
    assert FLEN.from_config(model.get_config()).field_groups == model.field_groups


def test_hyper_parameter_errors():
    with pytest.raises(ValueError, match="one group per field"):
        FLEN(TABLES, CONT, field_groups=["u", "m"])
    with pytest.raises(ValueError, match="at least two groups"):
        FLEN(TABLES, CONT, field_groups=["u"] * 5)
    with pytest.raises(ValueError, match="dnn"):
        FLEN(TABLES, CONT, field_groups=GROUPS, dnn=[])
