"""Several runs on the Compare page and in the report (#14, parts 3 and 4): three seeds of one
configuration (mean ± std, unstable cells, rank agreement), runs of another task refused, the runs
of one config found in a store. Fake runs (tests/fake_runs.py) carry hand-made TII maps saved
beside them, so nothing is trained or computed here; every expected number is computed here."""

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from recsys_core.analysis import interaction_matrix
from recsys_core.analysis import saved as saved_maps
from recsys_core.analysis.noise import noise_floor
from recsys_core.analysis.stability import CV_LIMIT, WEAK_SHARE
from recsys_core.analysis.views import analysis_menu
from recsys_core.runs import RunStore
from recsys_core.runs.seeds import config_key, seed_group
from recsys_core.viz.report import run_report
from tests.fake_runs import fake_run
from tests.test_app import _page, store_at  # noqa: F401  (fixture)

SEEDS = ["dlrm-seed-0", "dlrm-seed-1", "dlrm-seed-2"]
FACTORS = [1.0, 3.0, 0.2]  # one pair's strength in each seed: unstable on purpose


@pytest.fixture(scope="module")
def seeds_store(saved, runs_dir, tmp_path_factory):
    """Three seeds of one config, one run of another config, one of another task; each with a TII
    map of its own saved beside it (the dashboard's form, with a noise floor)."""
    root = tmp_path_factory.mktemp("seeds")
    run = RunStore(runs_dir).open(saved.run_id)
    tii = interaction_matrix(run, "tii", noise=False)  # a floor of its own below: seconds, not a minute
    menu = analysis_menu(run).to_dict()
    rng = np.random.default_rng(7)
    maps = {}
    runs = [(name, {"seed": 100 + k}, None) for k, name in enumerate(SEEDS)]
    runs += [("dlrm-other-lr", {"seed": 100, "learning_rate": 0.05}, None),
             ("dlrm-binary", {"seed": 100}, "binary")]  # fmt: skip
    for k, (name, train, task) in enumerate(runs):
        path = fake_run(saved.path, root, name, created=f"2026-02-0{k + 1}T00:00:00+0000",
                        train=train, task=task)  # fmt: skip
        values = tii.values * rng.uniform(0.9, 1.1, tii.values.shape)
        values = (values + values.T) / 2  # TII is symmetric
        if name in SEEDS:
            strong = np.nanmax(tii.values)  # not a weak pair: its seeds disagree on a strong one
            values[0, 1] = values[1, 0] = strong * FACTORS[SEEDS.index(name)]
        m = dataclasses.replace(tii, values=values, extra={**tii.extra, "run_id": name})
        quiet = dataclasses.replace(m, values=m.values / 10)  # a hand-made reference model
        m.extra["noise"] = noise_floor(m, {"initial": [quiet]})  # as the dashboard saves maps
        saved_maps.save(path, {"what": "menu"}, menu)
        saved_maps.save(path, saved_maps.result_key("tii"), m.to_dict())
        maps[name] = m
    return root, maps


def _reference_spearman(x, y):
    return float(pd.Series(x).rank().corr(pd.Series(y).rank()))


def test_runs_of_one_config_are_found_by_their_config_apart_from_the_seed(seeds_store):
    root, _ = seeds_store
    store = RunStore(root)
    assert seed_group(store, "dlrm-seed-1") == SEEDS  # by seed; other lr and task left out
    assert seed_group(store, "dlrm-other-lr") == ["dlrm-other-lr"]
    metas = [store.open(r).meta for r in SEEDS]
    assert len({config_key(m) for m in metas}) == 1


def test_compare_page_shows_three_seeds_with_their_stability(store_at, seeds_store, plotly_array):  # noqa: F811
    root, maps = seeds_store
    store_at(root)
    at = _page("compare", runs=",".join(SEEDS))
    assert not at.error, [e.value for e in at.error]
    assert at.multiselect[0].value == SEEDS
    specs = [json.loads(el.proto.spec) for el in at.get("plotly_chart")]
    assert len(specs) == 3  # maps, rank agreement, stability (no difference for three runs)
    grid, agree, stab = specs
    first = maps[SEEDS[0]].ordered("group")
    order = [first.fields.index(f) for f in first.fields]
    idx = [maps[SEEDS[0]].fields.index(f) for f in first.fields]
    heats = [t for t in grid["data"] if t["type"] == "heatmap"]
    assert [t["name"] for t in heats] == SEEDS and len(order) == len(idx)
    for trace, name in zip(heats, SEEDS, strict=True):
        expected = maps[name].values[np.ix_(idx, idx)]
        np.testing.assert_allclose(plotly_array(trace["z"]), expected, rtol=1e-6, equal_nan=True)
    # rank agreement: Spearman of the upper-triangle pairs, against pandas' ranks
    n = len(idx)
    iu = np.triu_indices(n, k=1)
    pairs = {r: maps[r].values[np.ix_(idx, idx)][iu] for r in SEEDS}
    table = next(d.value for d in at.dataframe if list(d.value.columns) == SEEDS)
    for a in SEEDS:
        for b in SEEDS:
            expected = 1.0 if a == b else _reference_spearman(pairs[a], pairs[b])
            assert table.loc[a, b] == pytest.approx(expected, abs=1e-3)
    assert agree["data"][0]["zmin"] == -1 and agree["data"][0]["zmax"] == 1
    # stability: mean over the seeds, unstable cells crossed by the stated rule
    stack = np.stack([maps[r].values[np.ix_(idx, idx)] for r in SEEDS])
    mean, std = stack.mean(axis=0), stack.std(axis=0)
    heat = stab["data"][0]
    np.testing.assert_allclose(plotly_array(heat["z"]), mean, rtol=1e-6, equal_nan=True)
    finite = np.isfinite(mean)
    scale = np.abs(mean[finite]).max()
    judged = finite & (np.abs(stack).max(axis=0) >= WEAK_SHARE * scale)
    unstable = judged & (std > CV_LIMIT * np.abs(mean))
    (marks,) = [t for t in stab["data"] if t.get("name") == "unstable across seeds"]
    names = first.fields
    assert sorted(zip(marks["y"], marks["x"], strict=True)) == sorted(
        (names[i], names[j]) for i, j in zip(*np.nonzero(unstable), strict=True)
    )
    a, b = maps[SEEDS[0]].fields[0], maps[SEEDS[0]].fields[1]
    assert (a, b) in zip(marks["y"], marks["x"], strict=True)  # the pair made unstable
    assert any("unstable" in c.value and "coefficient of variation" in c.value for c in at.caption)
    # every figure exports like the others: PNG, SVG, PDF, HTML, CSV, JSON
    labels = [b.label for b in at.get("download_button")]
    assert labels == ["PNG", "SVG", "PDF", "HTML", "CSV", "JSON"] * 3


def test_compare_page_refuses_runs_of_another_task(store_at, seeds_store):  # noqa: F811
    root, _ = seeds_store
    store_at(root)
    at = _page("compare", runs=f"{SEEDS[0]},dlrm-binary")
    (error,) = [e.value for e in at.error]
    assert "differ in task" in error and "regression" in error and "binary" in error
    assert not at.get("plotly_chart")


def test_compare_page_without_seeds_offers_the_seeds_of_the_first_run(store_at, seeds_store):  # noqa: F811
    root, _ = seeds_store
    store_at(root)
    at = _page("compare", runs=f"{SEEDS[0]},dlrm-other-lr")
    assert len(at.get("plotly_chart")) == 3  # maps, difference, rank agreement
    links = [(e.proto.label, e.proto.query_string) for e in at.get("page_link")]
    assert any(label.startswith("Compare the 3 seeds") for label, _ in links), links


def test_the_report_of_a_seed_has_a_stability_section(seeds_store):
    root, maps = seeds_store
    text = run_report(RunStore(root).open(SEEDS[1]), max_maps=0)
    assert "<h2>Stability across seeds</h2>" in text
    assert "one of 3 runs of one configuration" in text
    assert all(name in text for name in SEEDS) and "dlrm-other-lr" not in text
    fields = maps[SEEDS[0]].fields
    assert f"{fields[0]} × {fields[1]}" in text  # the unstable pair is listed
    assert "coefficient of variation above 0.5" in text and "Spearman" in text
    alone = run_report(RunStore(root).open("dlrm-other-lr"), max_maps=0)
    assert "Stability across seeds" not in alone


def test_a_link_naming_a_deleted_run_says_so_and_repeated_runs_count_once(store_at, seeds_store):  # noqa: F811
    root, _ = seeds_store
    store_at(root)
    at = _page("compare", runs=f"{SEEDS[0]},no-such-run-1")
    (error,) = [e.value for e in at.error]
    assert "does not exist" in error and not at.get("plotly_chart")
    at = _page("compare", runs=",".join([*SEEDS, "dlrm-other-lr"] * 2))  # repeats are dropped
    assert at.multiselect[0].value == [*SEEDS, "dlrm-other-lr"]
