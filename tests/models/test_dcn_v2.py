"""DCN-V2: FeatureCross (full and low rank) and CrossNetMix stacks against NumPy, structures, validation."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from recsys_core.errors import RecsysCoreError
from recsys_core.models import resolve_hparams
from recsys_core.models.dcn_v2 import DCNV2

TABLES = [{"name": "a", "vocab_size": 5}, {"name": "b", "vocab_size": 4}]


def tiny(**kwargs):
    keras.utils.set_random_seed(0)
    model = DCNV2(TABLES, ["c1", "c2"], embedding_dim=3, output_bias=0.5, **kwargs)
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
        [np.asarray(emb[n].embeddings)[x[n]] for n in ("a", "b")] + [x["continuous"]], axis=1
    )


def dense(layer, h, relu):
    out = h @ np.asarray(layer.kernel) + np.asarray(layer.bias)
    return np.maximum(out, 0.0) if relu else out


def feature_cross_numpy(model, x0):
    x = x0
    for layer in model.cross_layers:
        kernel = np.asarray(layer.dense.kernel)
        if layer.projection_dim is not None:
            kernel = np.asarray(layer.down_proj_dense.kernel) @ kernel
        x = x0 * (x @ kernel + np.asarray(layer.dense.bias)) + x
    return x


def cross_mix_numpy(mix, x0):
    x = x0
    for i in range(mix.layer_num):
        u, v, c = (np.asarray(w[i]) for w in (mix.U_list, mix.V_list, mix.C_list))
        bias = np.asarray(mix.bias[i]).reshape(1, -1)
        logits = np.concatenate([x @ np.asarray(g.kernel) for g in mix.gating], axis=1)
        gates = np.exp(logits - logits.max(axis=1, keepdims=True))
        gates /= gates.sum(axis=1, keepdims=True)
        out = np.zeros_like(x)
        for e in range(mix.num_experts):
            low = np.tanh(np.tanh(x @ v[e]) @ c[e].T)
            out += gates[:, e : e + 1] * x0 * (low @ u[e].T + bias)
        x = out + x
    return x


def expected_output(model, x, crossed):
    x0 = flat_numpy(model, x)
    if model.deep is None:
        return dense(model.head, crossed, relu=False)
    h = crossed if model.structure == "stacked" else x0
    for layer in model.deep.dense_layers:
        h = dense(layer, h, relu=True)
    if model.structure == "parallel":
        h = np.concatenate([crossed, h], axis=1)
    return dense(model.head, h, relu=False)


@pytest.mark.parametrize("structure", ["stacked", "parallel"])
@pytest.mark.parametrize("projection_dim", [0, 2])
def test_feature_cross_stack_matches_numpy(structure, projection_dim):
    model, x = tiny(
        num_cross_layers=2, projection_dim=projection_dim, structure=structure, dnn=[6, 4]
    )
    crossed = feature_cross_numpy(model, flat_numpy(model, x))
    np.testing.assert_allclose(
        np.asarray(model(x)), expected_output(model, x, crossed), rtol=1e-4, atol=1e-5
    )


@pytest.mark.parametrize("structure", ["stacked", "parallel"])
def test_cross_net_mix_matches_numpy(structure):
    model, x = tiny(
        kind="mix", num_cross_layers=2, num_experts=3, low_rank=2, structure=structure, dnn=[5]
    )
    assert model.cross_layers == [] and model.cross_mix is not None
    crossed = cross_mix_numpy(model.cross_mix, flat_numpy(model, x))
    np.testing.assert_allclose(
        np.asarray(model(x)), expected_output(model, x, crossed), rtol=1e-4, atol=1e-5
    )


def test_low_rank_and_head_parameter_counts():
    full, _ = tiny(num_cross_layers=1, projection_dim=0, dnn=[])
    low, _ = tiny(num_cross_layers=1, projection_dim=2, dnn=[])
    dim = 8
    assert full.count_params() == 27 + (dim * dim + dim) + (dim + 1)
    assert low.count_params() == 27 + (dim * 2 + 2 * dim + dim) + (dim + 1)
    stacked, _ = tiny(structure="stacked", dnn=[6, 4])
    parallel, _ = tiny(structure="parallel", dnn=[6, 4])
    assert parallel.count_params() - stacked.count_params() == dim


def test_registered_hyper_parameters():
    defaults = resolve_hparams("dcn_v2")
    assert defaults["projection_dim"] == 0 and defaults["kind"] == "featurecross"
    assert resolve_hparams("dcn_v2", {"kind": "mix", "projection_dim": "4"})["projection_dim"] == 4
    with pytest.raises(RecsysCoreError, match="kind"):
        resolve_hparams("dcn_v2", {"kind": "matrix"})
    with pytest.raises(RecsysCoreError, match="projection_dim"):
        resolve_hparams("dcn_v2", {"projection_dim": -1})


def test_validation():
    with pytest.raises(ValueError, match="kind"):
        DCNV2(TABLES, [], kind="matrix")
    with pytest.raises(ValueError, match="projection_dim"):
        DCNV2(TABLES, [], projection_dim=-1)
    with pytest.raises(ValueError, match="structure"):
        DCNV2(TABLES, [], structure="sideways")
    with pytest.raises(ValueError, match="num_cross_layers"):
        DCNV2(TABLES, [], num_cross_layers=0)
    with pytest.raises(ValueError, match="num_experts"):
        DCNV2(TABLES, [], kind="mix", num_experts=0)
