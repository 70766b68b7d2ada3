"""FLEN's native views: group x group shares of the field-wise bi-interaction, the group weights
and the raw field-pair shares, against NumPy from the weights, and their exactness per row."""

from __future__ import annotations

import numpy as np
import pytest

from recsys_core.analysis.native import native_view, native_views
from recsys_core.errors import RecsysCoreError
from recsys_core.layers.field_inputs import pair_index
from tests.analysis.native_planted import field_vectors, planted_data, randomised, weights

GROUPS = ["user", "movie", "context"]
MEMBERS = [[0, 1, 2], [3, 4], [5, 6, 7]]  # of the 8 planted fields, in group order


@pytest.fixture(scope="module")
def flen():
    _, holdout, pre, _ = planted_data()
    return randomised("flen", pre, dnn=[4]), pre, holdout


def _numpy_flen(model, pre, holdout):
    """Per row: group terms (n, M, M), field-pair terms (n, F, F), the constant, and the weights."""
    w = weights(model)
    e = field_vectors(model, pre, pre.transform(holdout))
    head = w["flen/output/kernel"][: e.shape[-1], 0]
    r = w["flen/field_wise_bi_interaction/kernel_mf"][:, 0]
    c = w["flen/field_wise_bi_interaction/kernel_fm"][:, 0]
    s = np.stack([e[:, m].sum(1) for m in MEMBERS], axis=1)
    groups = np.zeros((len(e), 3, 3))
    for k, (a, b) in enumerate(pair_index(3)):
        groups[:, a, b] = groups[:, b, a] = r[k] * (s[:, a] * s[:, b]) @ head
    for g, m in enumerate(MEMBERS):
        groups[:, g, g] = c[g] * (s[:, g] ** 2 - (e[:, m] ** 2).sum(1)) @ head
    strength = np.diag(2 * c)
    for k, (a, b) in enumerate(pair_index(3)):
        strength[a, b] = strength[b, a] = r[k]
    of = np.repeat(np.arange(3), [len(m) for m in MEMBERS])
    fields = np.einsum("nud,nvd,d->nuv", e, e, head) * strength[np.ix_(of, of)]
    constant = (
        w["flen/field_wise_bi_interaction/bias_mf"] + w["flen/field_wise_bi_interaction/bias_fm"]
    ) @ head
    return groups, fields, constant, strength


def test_views_match_numpy(flen):
    model, pre, holdout = flen
    assert model.group_names == GROUPS
    views = native_views(model)
    assert [v.name for v in views] == ["group_pairs", "group_weights", "field_pairs"]
    assert views[0].per_row and not views[1].per_row
    groups, fields, _, strength = _numpy_flen(model, pre, holdout)

    m = native_view(model, "group_pairs").compute(model, pre, holdout)
    assert m.fields == GROUPS and m.groups == {g: g for g in GROUPS} and m.method == "native"
    assert m.kind == "data-averaged" and m.n_rows == len(holdout) and not m.signed
    assert m.extra == {"view": "group_pairs"} and "1,000 held-out rows" in m.description
    np.testing.assert_allclose(m.values, np.abs(groups).mean(0), rtol=1e-4, atol=1e-7)

    g = native_view(model, "group_weights").compute(model, pre, holdout)
    assert g.fields == GROUPS and g.kind == "weights-only" and g.n_rows == 0
    np.testing.assert_allclose(g.values, np.abs(strength), rtol=1e-6)

    f = native_view(model, "field_pairs").compute(model, pre, holdout)
    assert f.fields == list(model.field_names) and f.groups["device"] == "context"
    assert np.isnan(np.diag(f.values)).all()
    off = ~np.eye(8, dtype=bool)
    np.testing.assert_allclose(f.values[off], np.abs(fields).mean(0)[off], rtol=1e-4, atol=1e-7)


def test_one_row_is_an_exact_decomposition(flen):
    """With the constant w . (b_mf + b_fm), a row's group terms (upper triangle and diagonal) and
    its field-pair terms both sum to what the FwBI vector adds to the score through the head."""
    model, pre, holdout = flen
    groups, fields, constant, _ = _numpy_flen(model, pre, holdout)
    one = native_view(model, "group_pairs").compute(model, pre, holdout, row=9)
    assert one.kind == "exact decomposition" and one.signed and one.n_rows == 1
    np.testing.assert_allclose(one.values, groups[9], rtol=1e-4, atol=1e-6)
    x = pre.transform(holdout.iloc[[9]])
    head = weights(model)["flen/output/kernel"][: model.embedding_dim, 0]
    fwbi_part = np.asarray(model.fwbi(model.group_tensors(x)))[0] @ head
    total = one.values[np.triu_indices(3)].sum() + constant
    assert total == pytest.approx(fwbi_part, rel=1e-4, abs=1e-5)
    assert fields[9][np.triu_indices(8, 1)].sum() + constant == pytest.approx(
        fwbi_part, rel=1e-4, abs=1e-5
    )


def test_bad_inputs_are_errors(flen):
    model, pre, holdout = flen
    with pytest.raises(RecsysCoreError, match="no held-out rows"):
        native_view(model, "group_pairs").compute(model, pre, holdout.iloc[:0])
    with pytest.raises(RecsysCoreError, match="out of range"):
        native_view(model, "group_pairs").compute(model, pre, holdout, row=5000)
