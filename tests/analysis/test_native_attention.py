"""AutoInt / AutoInt+ attention views against softmax(Q K^T) recomputed in NumPy from the weights."""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd
import pytest

from recsys_core.analysis.native import native_views
from recsys_core.analysis.native.attention import (
    attention_grid,
    attention_matrix,
    relative_to_uniform,
    symmetrised,
)
from recsys_core.errors import RecsysCoreError
from recsys_core.features.preprocessing import Preprocessor
from recsys_core.features.spec import FeatureSpec
from recsys_core.models.autoint import AutoInt
from recsys_core.models.dcn_v2 import DCNV2


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {
            "a": rng.integers(0, 5, 40),
            "b": rng.integers(0, 4, 40),
            "c": rng.integers(0, 3, 40),
            "c1": rng.normal(size=40),
            "c2": rng.normal(size=40),
            "label": rng.normal(size=40),
        }
    )
    spec = FeatureSpec(
        categorical=("a", "b", "c"),
        continuous=("c1", "c2"),
        target="label",
        task="regression",
        binary_threshold=None,
        groups={"a": "user", "b": "movie"},
    )
    return df, Preprocessor(spec).fit(df)


def tiny(pre, **kwargs):
    keras.utils.set_random_seed(0)
    model = AutoInt(
        pre.tables(),
        ["c1", "c2"],
        embedding_dim=4,
        att_layer_num=3,
        att_embedding_size=3,
        att_head_num=2,
        **kwargs,
    )
    model.build()
    rng = np.random.default_rng(2)
    for v in model.weights:
        v.assign(rng.normal(scale=0.5, size=v.shape).astype("float32"))
    return model


def numpy_maps(model, x):
    """(rows, L, H, F, F) attention weights from the raw weights."""
    emb = model.embedding.embeddings
    e = [np.asarray(emb[n].embeddings)[x[n]] for n in ("a", "b", "c")]
    proj = model.continuous_projection
    e.append(x["continuous"] @ np.asarray(proj.kernel) + np.asarray(proj.bias))
    h = np.stack(e, axis=1).astype(np.float64)  # (n, F, D)
    maps = []
    for layer in model.attention:
        size, heads = layer.att_embedding_size, layer.head_num
        n, f, _ = h.shape

        def split(w, h=h, size=size, heads=heads, n=n, f=f):
            return (h @ np.asarray(w)).reshape(n, f, heads, size).transpose(0, 2, 1, 3)

        q, k, v = split(layer.W_Query), split(layer.W_key), split(layer.W_Value)
        logits = q @ k.transpose(0, 1, 3, 2)
        if layer.scaling:
            logits = logits / np.sqrt(size)
        a = np.exp(logits - logits.max(axis=-1, keepdims=True))
        a /= a.sum(axis=-1, keepdims=True)
        maps.append(a)
        out = (a @ v).transpose(0, 2, 1, 3).reshape(n, f, heads * size)
        if layer.use_res:
            out = out + h @ np.asarray(layer.W_Res)
        h = np.maximum(out, 0.0)
    return np.stack(maps, axis=1)


@pytest.mark.parametrize("variant", ["autoint", "autoint_plus_scaled"])
def test_attention_matches_numpy(data, variant):
    df, pre = data
    model = tiny(pre) if variant == "autoint" else tiny(pre, dnn=[4], att_scaling=True, dropout=0.2)
    views = native_views(model)
    assert [v.name for v in views] == ["attention"]
    view = views[0]
    assert view.per_row and view.kind == "data-averaged"
    assert view.options(model) == {"layer": 3, "head": 2}
    expected = numpy_maps(model, pre.transform(df))
    fields = ["a", "b", "c", "continuous"]
    for layer in range(3):
        for head in range(2):
            m = view.compute(model, pre, df, layer=layer, head=head)
            assert m.fields == fields and m.values.shape == (4, 4) and m.n_rows == len(df)
            assert m.kind == "data-averaged" and m.extra == {
                "layer": layer,
                "head": head,
                "orientation": "row: query field; column: key field",
                "quantity": "attention weight",  # the colour bar's title: never "strength"
                "unit": "softmax, each query row sums to 1",
            }
            assert m.title.startswith("Attention") and "interaction strength" not in m.title
            np.testing.assert_allclose(
                m.values, expected[:, layer, head].mean(0), rtol=1e-4, atol=1e-6
            )
            np.testing.assert_allclose(m.values.sum(axis=1), 1.0, rtol=1e-5)
    one = view.compute(model, pre, df, layer=2, head=1, row=7)
    assert one.kind == "approximation" and one.n_rows == 1 and "row 7" in one.title
    np.testing.assert_allclose(one.values, expected[7, 2, 1], rtol=1e-4, atol=1e-6)
    default = view.compute(model, pre, df)  # layer 0, head 0
    np.testing.assert_allclose(default.values, expected[:, 0, 0].mean(0), rtol=1e-4, atol=1e-6)


def test_grid_symmetrised_and_errors(data):
    df, pre = data
    model = tiny(pre)
    expected = numpy_maps(model, pre.transform(df))
    grid = attention_grid(model, pre, df)
    assert len(grid) == 6
    for k, m in enumerate(grid):
        layer, head = divmod(k, 2)
        assert (m.extra["layer"], m.extra["head"]) == (layer, head)
        assert f"layer {layer + 1} of 3, head {head + 1} of 2" in m.title
        np.testing.assert_allclose(m.values, expected[:, layer, head].mean(0), rtol=1e-4, atol=1e-6)
    rows = attention_grid(model, pre, df, row=3)
    np.testing.assert_allclose(rows[5].values, expected[3, 2, 1], rtol=1e-4, atol=1e-6)

    a = grid[1]
    s = symmetrised(a)
    sym = (a.values + a.values.T) / 2
    assert np.isnan(np.diag(s.values)).all()
    off = ~np.eye(4, dtype=bool)
    np.testing.assert_allclose(s.values[off], sym[off])
    assert s.extra["symmetrised"] and "symmetrised" in s.title and s.fields == a.fields
    np.testing.assert_allclose(symmetrised(a, mask_diagonal=False).values, sym)
    assert not np.isnan(a.values).any()  # the original is left alone
    rel = relative_to_uniform(s)
    assert rel.signed and rel.extra["relative_to_uniform"] == 0.25
    np.testing.assert_allclose(rel.values[off], sym[off] - 0.25)
    assert np.isnan(np.diag(rel.values)).all()

    with pytest.raises(RecsysCoreError, match="attention layer 3 is out of range: the model has 3"):
        attention_matrix(model, pre, df, layer=3)
    with pytest.raises(RecsysCoreError, match="attention head 2 is out of range: the model has 2"):
        attention_matrix(model, pre, df, head=2)
    with pytest.raises(RecsysCoreError, match="row 40 is out of range"):
        attention_matrix(model, pre, df, row=40)
    with pytest.raises(RecsysCoreError, match="held-out rows"):
        attention_matrix(model, pre, df.iloc[:0])
    keras.utils.set_random_seed(0)
    other = DCNV2(pre.tables(), ["c1", "c2"], embedding_dim=4)
    other.build()
    assert "attention" not in [v.name for v in native_views(other)]
    with pytest.raises(RecsysCoreError, match="no self-attention"):
        attention_matrix(other, pre, df)
