"""Noise floors (analysis.noise): the additive part and null labels against NumPy loops, the floor
rule on hand-made maps, and end to end on the planted tables — the control table gets no pair
above noise, the CTR table its planted pairs and nothing else, a run that did not learn says so."""

from __future__ import annotations

import numpy as np
import pytest

from recsys_core.analysis.matrix import InteractionMatrix
from recsys_core.analysis.noise import (
    additive_part,
    noise_floor,
    noise_verdict,
    null_labels,
    settle,
)
from recsys_core.data.planted import planted_table

FIELDS = ["a", "b", "c"]


def _matrix(values, **extra):
    return InteractionMatrix(
        values=np.array(values, dtype=float),
        fields=list(FIELDS),
        method="native",
        title="t",
        description="d",
        kind="data-averaged",
        extra=dict(extra),
    )


def _sym(ab, ac, bc):
    return [[np.nan, ab, ac], [ab, np.nan, bc], [ac, bc, np.nan]]


def test_additive_part_matches_a_numpy_loop_and_an_additive_function():
    """a(x) = sum_f m_f(x_f) - (F-1) mu with m_f the anchors' mean score at field f's value: equal
    to a plain loop over rows, fields and anchors, and exactly the score of an additive function
    (the control table's), whichever anchors are drawn."""
    df, _, truth = planted_table("ctr", n_rows=300, seed=1, task="regression")
    x = truth.encode(df)
    fields = {f: [f] for f in truth.fields}

    def score(b):
        return truth.score(b, xp=np)

    a = additive_part(score, x, fields, n_anchors=7, seed=3)
    anchors = np.random.default_rng(3).choice(len(df), size=7, replace=False)
    base = {k: v[anchors] for k, v in x.items()}
    mu = score(base).mean()
    expected = np.zeros(len(df))
    for r in range(len(df)):
        for f in truth.fields:
            swapped = {k: v.copy() for k, v in base.items()}
            swapped[f][:] = x[f][r]
            expected[r] += score(swapped).mean()
    expected -= (len(truth.fields) - 1) * mu
    np.testing.assert_allclose(a, expected, rtol=1e-5, atol=1e-4)

    control, _, ctruth = planted_table("control", n_rows=200, seed=2, task="regression")
    cx = ctruth.encode(control)
    np.testing.assert_allclose(
        additive_part(lambda b: ctruth.score(b, xp=np), cx, {f: [f] for f in ctruth.fields}),
        ctruth.score(cx, xp=np),
        rtol=1e-5,
        atol=1e-4,
    )
    assert not np.allclose(a, score(x), atol=0.05)  # the planted pairs are not in a(x)


def test_null_labels():
    rng = np.random.default_rng(0)
    additive, scores, labels = rng.normal(size=500), rng.normal(size=500), rng.normal(size=500)
    y = null_labels("regression", additive, scores, labels, np.random.default_rng(1))
    np.testing.assert_allclose(np.sort(y - additive), np.sort(labels - scores), atol=1e-5)
    assert not np.allclose(y - additive, labels - scores)  # permuted, not kept in place
    p = 1 / (1 + np.exp(-additive))
    draws = np.array([null_labels("binary", additive, scores, labels, rng) for _ in range(200)])
    assert set(np.unique(draws)) == {0.0, 1.0}
    assert np.abs(draws.mean(axis=0) - p).max() < 5 * np.sqrt(0.25 / 200)


def test_floor_rule_counts_pairs_or_cells_and_uses_the_bootstrap_bounds():
    """floor = largest reference cell; a cell is above when it exceeds it (TII: its lower bound
    against the references' upper bounds); symmetric maps count pairs, directed maps cells."""
    result = _matrix(_sym(0.9, 0.2, 0.5))
    refs = {"initial": [_matrix(_sym(0.1, 0.1, 0.1))], "permuted": [_matrix(_sym(0.3, 0.4, 0.2))]}
    record = noise_floor(result, refs)
    assert record["floor"] == 0.4 and record["n_above"] == 2 and record["n_cells"] == 3
    assert record["verdict"] == "2 of 3 pairs above noise"
    above = np.array(record["above"])
    assert above[0, 1] and above[1, 0] and above[1, 2] and not above[0, 2]
    assert record["references"]["permuted"]["max"] == 0.4
    # TII: the lower end of the interval must clear the references' upper ends
    tii = _matrix(_sym(0.9, 0.5, 0.5), lower=_sym(0.8, 0.35, 0.45))
    refs = {"permuted": [_matrix(_sym(0.2, 0.2, 0.2), upper=_sym(0.3, 0.4, 0.3))]}
    record = noise_floor(tii, refs)
    assert record["floor"] == 0.4 and record["n_above"] == 2 and record["statistic"] == "lower bound"
    # a directed map (real diagonal, not symmetric) counts every cell
    directed = _matrix([[0.5, 0.1, 0.0], [0.7, 0.2, 0.1], [0.0, 0.0, 0.3]])
    record = noise_floor(directed, {"initial": [_matrix(np.full((3, 3), 0.25))]})
    assert record["noun"] == "cells" and record["n_cells"] == 9 and record["n_above"] == 3
    assert noise_verdict(0, 9, "cells") == "no interaction detectable above noise"
    assert noise_verdict(1, 1) == "1 of 1 pair above noise"


def test_verdict_of_a_run_that_did_not_learn_and_ordering():
    result = _matrix(_sym(0.9, 0.2, 0.5))
    result.extra["noise"] = noise_floor(result, {"initial": [_matrix(_sym(0.3, 0.3, 0.3))]})
    assert settle(result).extra["noise"]["verdict"] == "2 of 3 pairs above noise"
    result.extra["health"] = {"status": "did not learn", "summary": "did not learn: x"}
    verdict = settle(result).extra["noise"]["verdict"]
    assert verdict.startswith("the model did not learn: no interaction can be read")
    assert "2 of 3 pairs above noise" in verdict
    assert result.to_dict()["verdict"] == verdict
    # the marks and reference cells follow the axes when the map is reordered
    shown = result.ordered("strength")
    assert shown.fields == ["b", "a", "c"]
    above = np.array(shown.extra["noise"]["above"])
    assert above[0, 1] and above[0, 2] and not above[1, 2]


# --------------------------------------------------------------------------- end to end


def _saved_run(tmp_path, model, kind, task="regression", n_rows=10_000, **train):
    from recsys_core.analysis.validation import _planted_defaults
    from recsys_core.runs import RunStore
    from recsys_core.training import RunConfig, TrainConfig, train_run

    table, spec, truth = planted_table(kind, n_rows=n_rows, seed=0, task=task)
    config = RunConfig(
        model=model,
        dataset=f"planted-{kind}",
        task=task,
        hparams=_planted_defaults(model),
        train=TrainConfig(
            **{"epochs": 8, "batch_size": 256, "learning_rate": 1e-2, "seed": 0, **train}
        ),
        split_seed=0,
        refit=False,
    )
    run = RunStore(tmp_path).save(train_run(config, table=table, spec=spec))
    return RunStore(tmp_path).open(run.run_id), truth


def _above_pairs(result):
    above = np.array(result.extra["noise"]["above"])
    f = result.fields
    return {frozenset((f[i], f[j])) for i, j in zip(*np.nonzero(np.triu(above, 1)), strict=True)}


@pytest.fixture(scope="module")
def control_run(tmp_path_factory):
    return _saved_run(tmp_path_factory.mktemp("control"), "dlrm", "control")


@pytest.fixture(scope="module")
def ctr_run(tmp_path_factory):
    return _saved_run(tmp_path_factory.mktemp("ctr"), "dlrm", "ctr")


def test_control_table_has_no_interaction_above_noise(control_run):
    """DLRM on the control table (main effects only): TII and the native pair terms find no pair
    above their floors, and the reference cells are what the floor says."""
    from recsys_core.analysis.views import interaction_matrix

    run, truth = control_run
    assert truth.pairs == []
    tii = interaction_matrix(run, "tii", noise=True)
    noise = tii.extra["noise"]
    assert noise["verdict"] == "no interaction detectable above noise", noise["floor"]
    assert noise["floor"] == pytest.approx(
        max(r["max"] for r in noise["references"].values())
    )
    lower = np.array(tii.extra["lower"], dtype=float)
    assert np.nanmax(lower) <= noise["floor"]
    assert set(noise["references"]) == {"initial", "permuted"}
    native = interaction_matrix(run, "native", noise=True)
    assert native.extra["noise"]["n_cells"] == 55


def test_planted_pairs_are_above_noise_and_nothing_else(ctr_run):
    """DLRM on the planted CTR table: the four planted pairs are above the TII floor, at most one
    other pair of 51 is, and the JSON names the verdict."""
    from recsys_core.analysis.views import interaction_matrix

    run, truth = ctr_run
    tii = interaction_matrix(run, "tii", noise=True)
    found = _above_pairs(tii)
    planted = {frozenset(p) for p in truth.pairs}
    assert planted <= found, (found, tii.extra["noise"]["floor"])
    assert len(found - planted) <= 1, found - planted
    assert tii.to_dict()["verdict"] == f"{len(found)} of 55 pairs above noise"


def test_archipelago_floor_uses_the_half_that_did_not_train_on_the_row(ctr_run):
    from recsys_core.analysis.views import interaction_matrix, run_references

    run, _ = ctr_run
    refs = run_references(run)
    assert len(refs.permuted) == 4
    for (_, a), (_, b) in (refs.permuted[:2], refs.permuted[2:]):  # two halves per split
        assert a.sum() + b.sum() == len(run.holdout()) and not (a & b).any()
    result = interaction_matrix(run, "archipelago", row=3, noise=True)
    noise = result.extra["noise"]
    assert noise["n_cells"] == 55 and noise["verdict"]
    assert refs.for_row(3) == [m for m, mask in refs.permuted if mask[3]]
    assert len(refs.for_row(3)) == 2


def test_a_run_that_did_not_learn_says_so(tmp_path):
    """A DLRM whose learning rate cannot move it is judged 'did not learn'; its verdict says no
    interaction can be read, whatever its cells do."""
    from recsys_core.analysis.views import interaction_matrix
    from recsys_core.training.health import verdict_of_run

    run, _ = _saved_run(tmp_path, "dlrm", "ctr", n_rows=4000, epochs=2, learning_rate=1e-7)
    assert verdict_of_run(run.meta).status == "did not learn"
    tii = interaction_matrix(run, "tii", noise=True)
    verdict = tii.extra["noise"]["verdict"]
    assert verdict.startswith("the model did not learn: no interaction can be read"), verdict
