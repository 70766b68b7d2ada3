"""A field for every input column: column-level TII, Archipelago and pair detail against NumPy
loops over the model's predictions, ``blocks`` against the field-level estimator, saved-map keys,
and a categorical x continuous pair planted in a user's CSV table recovered from the CLI."""

from __future__ import annotations

import json
from itertools import combinations

import numpy as np
import pytest

from recsys_core.analysis import saved as store_of
from recsys_core.analysis.archipelago import archdetect_from_inputs, archipelago
from recsys_core.analysis.columns import field_layout
from recsys_core.analysis.pair_detail import pair_detail
from recsys_core.analysis.tii import (
    model_score_fn,
    partner_permutation,
    tii_from_inputs,
    total_interaction_index,
)
from recsys_core.errors import RecsysCoreError
from recsys_core.features.spec import CONTINUOUS_FIELD, FeatureSpec, movielens_spec
from recsys_core.training.engine import predict_scores

# The MovieLens continuous block: raw_user_age, hour_of_day_sin/cos, hour_of_week_sin/cos.
COLUMN_FIELDS = {"raw_user_age": [0], "hour_of_day": [1, 2], "hour_of_week": [3, 4]}


def _parts(model, spec):
    """Field -> (input key, block columns or None), written out by hand for the MovieLens spec."""
    out = {}
    for f in model.field_names:
        if f == CONTINUOUS_FIELD:
            out.update({name: (CONTINUOUS_FIELD, cols) for name, cols in COLUMN_FIELDS.items()})
        else:
            out[f] = (f, None)
    return out


def _swap(x, source, fields, parts):
    """A copy of the input dict ``x`` with ``fields`` taken from ``source`` (columns of a block
    one by one, every other column of the block kept)."""
    out = {k: np.array(v, copy=True) for k, v in x.items()}
    for f in fields:
        key, cols = parts[f]
        if cols is None:
            out[key] = np.array(source[key], copy=True)
        else:
            out[key][:, cols] = source[key][:, cols]
    return out


def test_layout_names_one_field_per_column_and_keeps_blocks():
    spec = movielens_spec("default")
    model_fields = spec.fields
    cols = field_layout(model_fields, spec)
    assert cols.fields == [*spec.sparse_fields, "raw_user_age", "hour_of_day", "hour_of_week"]
    assert cols.keys["hour_of_day"] == [(CONTINUOUS_FIELD, 1), (CONTINUOUS_FIELD, 2)]
    assert cols.keys["user_id"] == ["user_id"]
    assert cols.groups(spec)["hour_of_week"] == spec.group_of(CONTINUOUS_FIELD)
    assert cols.extra()["fields"] == "columns"
    assert cols.extra()["blocks"]["raw_user_age"] == CONTINUOUS_FIELD
    blocks = field_layout(model_fields, spec, "blocks")
    assert blocks.fields == model_fields and blocks.extra() == {"fields": "blocks", "blocks": {}}
    # A sine/cosine pair whose stem names another field stays two columns; a column's own group wins.
    other = FeatureSpec(
        categorical=("hour_of_day",),
        continuous=("hour_of_day_sin", "hour_of_day_cos", "price"),
        groups={"price": "item"},
    )
    split = field_layout(other.fields, other)
    assert split.fields == ["hour_of_day", "hour_of_day_sin", "hour_of_day_cos", "price"]
    assert split.groups(other)["price"] == "item"
    with pytest.raises(RecsysCoreError, match="unknown field granularity 'cells'"):
        field_layout(model_fields, spec, "cells")


def test_column_tii_equals_a_numpy_loop_over_predictions(trained):
    """sqrt(TII) per column pair = sqrt(1/4 mean (z - z_i - z_j + z_ij)^2), every z from
    predict_scores on inputs with single columns of the continuous block swapped by hand."""
    model, pre = trained.model, trained.preprocessor
    rows = trained.holdout.iloc[:80].reset_index(drop=True)
    m = total_interaction_index(model, pre, rows, n_rows=80, n_boot=0, seed=3)
    parts = _parts(model, pre.spec)
    assert m.fields == list(parts) and m.extra["fields"] == "columns"
    x = pre.transform(rows)
    partner = partner_permutation(len(rows), np.random.default_rng(3))
    xp = {k: v[partner] for k, v in x.items()}
    z = {(): predict_scores(model, x)}
    for f in parts:
        z[(f,)] = predict_scores(model, _swap(x, xp, [f], parts))
    expected = np.full((len(parts), len(parts)), np.nan)
    for (i, a), (j, b) in combinations(enumerate(parts), 2):
        zab = predict_scores(model, _swap(x, xp, [a, b], parts))
        delta = z[()] - z[(a,)] - z[(b,)] + zab
        expected[i, j] = expected[j, i] = np.sqrt(np.mean(delta.astype(np.float64) ** 2) / 4)
    np.testing.assert_allclose(m.values, expected, atol=2e-4, rtol=1e-3, equal_nan=True)
    # Splitting the block changes what the columns show: not all three are the same number.
    age, hour = m.fields.index("raw_user_age"), m.fields.index("hour_of_day")
    assert not np.allclose(m.values[0, age], m.values[0, hour])


def test_blocks_equal_the_field_level_estimator(trained):
    """``fields="blocks"``: the model's own fields, the same numbers as substituting whole model
    fields with ``tii_from_inputs`` / ``archdetect_from_inputs`` directly."""
    model, pre, rows = trained.model, trained.preprocessor, trained.holdout
    fields = list(model.field_names)
    m = total_interaction_index(model, pre, rows, n_rows=150, n_boot=30, seed=1, fields="blocks")
    picked = rows.iloc[np.sort(np.random.default_rng(1).choice(len(rows), 150, replace=False))]
    score, params = model_score_fn(model)
    est = tii_from_inputs(score, pre.transform(picked), fields, seed=1, n_boot=30, params=params)
    assert m.fields == fields and m.extra["fields"] == "blocks" and m.extra["blocks"] == {}
    assert m.groups == {f: pre.spec.group_of(f) for f in fields}
    np.testing.assert_array_equal(m.values, np.sqrt(est.tii))
    np.testing.assert_array_equal(np.array(m.extra["lower"], float), np.sqrt(est.lower))
    a = archipelago(model, pre, rows.iloc[[2]], baseline=rows.iloc[[9]], fields="blocks")
    _, strength, _ = archdetect_from_inputs(
        score, pre.transform(rows.iloc[[2]]), pre.transform(rows.iloc[[9]]), fields, params=params
    )
    assert a.fields == fields
    np.testing.assert_array_equal(a.values, strength)


def test_column_archipelago_and_pair_detail_equal_brute_force(trained):
    model, pre = trained.model, trained.preprocessor
    rows = trained.holdout.iloc[:40].reset_index(drop=True)
    parts = _parts(model, pre.spec)
    names = list(parts)
    # Archipelago: Delta in the two contexts (the row, the baseline), columns swapped by hand.
    star, base = pre.transform(rows.iloc[[4]]), pre.transform(rows.iloc[[11]])
    a = archipelago(model, pre, rows.iloc[[4]], baseline=rows.iloc[[11]])
    assert a.fields == names and a.extra["fields"] == "columns"
    expected = np.full((len(names), len(names)), np.nan)
    for (i, f), (j, g) in combinations(enumerate(names), 2):
        deltas = []
        for context, other in ((star, base), (base, star)):

            def z(swap, context=context, other=other):
                return predict_scores(model, _swap(context, other, swap, parts))[0]

            deltas.append(z([]) - z([f]) - z([g]) + z([f, g]))
        expected[i, j] = expected[j, i] = np.sqrt(np.mean(np.square(deltas)) / 4)
    np.testing.assert_allclose(a.values, expected, atol=2e-4, rtol=1e-3, equal_nan=True)
    # Pair detail of a categorical field and a column of the block, same partner draw as the module.
    f, g = "movie_id", "hour_of_day"
    detail = pair_detail(model, pre, rows, (f, g), n_partners=3, seed=5, min_count=1)
    n, k = len(rows), 3
    rng = np.random.default_rng(5)
    repeat = np.repeat(np.arange(n), k)
    partner = (repeat + rng.integers(1, n, size=len(repeat))) % n
    x = pre.transform(rows)
    xr = {key: v[repeat] for key, v in x.items()}
    xp = {key: v[partner] for key, v in x.items()}

    def zr(swap):
        return predict_scores(model, _swap(xr, xp, swap, parts))

    delta = zr([]) - zr([f]) - zr([g]) + zr([f, g])
    np.testing.assert_allclose(detail.contributions, delta.reshape(n, k).mean(1), atol=1e-4)
    # Its values are read as hours of the day (from the timestamp the two columns came from).
    assert detail.combos[g].str.startswith("hour_of_day (").all()
    # A pair read off a native map names the whole block: detailed as the block (blocks' numbers).
    whole = pair_detail(model, pre, rows, ("movie_id", CONTINUOUS_FIELD), n_partners=3, seed=5)
    same = pair_detail(
        model, pre, rows, ("movie_id", CONTINUOUS_FIELD), n_partners=3, seed=5, fields="blocks"
    )
    np.testing.assert_array_equal(whole.contributions, same.contributions)
    with pytest.raises(RecsysCoreError, match="overlap"):
        pair_detail(model, pre, rows, ("hour_of_day", CONTINUOUS_FIELD))
    with pytest.raises(RecsysCoreError, match="'price' is not one of the fields"):
        pair_detail(model, pre, rows, ("movie_id", "price"))
    with pytest.raises(RecsysCoreError, match="unknown field granularity"):
        total_interaction_index(model, pre, rows, fields="cells")


def test_saved_maps_are_keyed_on_the_granularity(tmp_path):
    from recsys_core.analysis.matrix import InteractionMatrix

    columns, blocks = store_of.result_key("tii"), store_of.result_key("tii", fields="blocks")
    assert columns != blocks and columns["fields"] == "columns"
    assert store_of.result_key("native") == store_of.result_key("native", fields="blocks")
    m = InteractionMatrix(
        np.array([[np.nan, 1.0], [1.0, np.nan]]), ["a", CONTINUOUS_FIELD], "tii", "t", "d",
        "approximation", extra={"fields": "blocks"},
    )  # fmt: skip
    assert store_of.save_result(tmp_path, blocks, m)
    assert store_of.load_result(tmp_path, blocks).fields == ["a", CONTINUOUS_FIELD]
    assert store_of.load_result(tmp_path, columns) is None  # never served for the columns map


def _auc(planted, others):
    """P(a planted pair's value > another pair's), ties counted half (Mann-Whitney)."""
    wins = [(p > o) + 0.5 * (p == o) for p in planted for o in others]
    return float(np.mean(wins))


@pytest.fixture(scope="module")
def shop_csv(tmp_path_factory):
    from recsys_core.data.planted import category_price_table

    df, spec, truth = category_price_table(n_rows=3000, seed=0, strength=1.0)
    path = tmp_path_factory.mktemp("shop") / "shop.csv"
    df.to_csv(path, index=False)
    # The generator's claim: nothing but category x price interacts, with the stated strength.
    assert truth["pairs"] == [("category", "price")] and truth["sqrt_tii"] > 1.0
    return path, spec


@pytest.mark.parametrize("model", ["deepfm", "dcn_v2", "autoint"])
def test_a_planted_category_price_pair_is_recovered_from_the_cli(shop_csv, tmp_path, capsys, model):
    """The issue's test: a user table with y = main effects + 1[category == a] * price + noise
    (price one of three continuous columns, which the model consumes as one block), trained from
    the CLI; column-level TII ranks category x price above every other pair (pair AUC >= 0.95)."""
    from recsys_core.cli import main

    path, spec = shop_csv
    runs = tmp_path / "runs"
    argv = ["train", "--data", str(path), "--target", "label", "--model", model,
            "--categorical", ",".join(spec.categorical), "--continuous", ",".join(spec.continuous),
            "--epochs", "5", "--batch-size", "128", "--learning-rate", "0.01", "--no-refit",
            "--quiet", "--runs-dir", str(runs), "--json"]  # fmt: skip
    assert main(argv) == 0
    run_id = json.loads(capsys.readouterr().out)["run_id"]
    found = {}
    for fields in ("columns", "blocks"):
        out = tmp_path / f"tii-{fields}.json"
        argv = ["interactions", run_id, "--method", "tii", "--fields", fields, "--format", "json",
                "--no-noise-floor", "--out", str(out), "--runs-dir", str(runs)]  # fmt: skip
        assert main(argv) == 0
        found[fields] = json.loads(out.read_text())
    tii = found["columns"]
    assert tii["fields"] == [*spec.categorical, *spec.continuous]
    assert tii["extra"]["fields"] == "columns"
    m = np.array(tii["matrix"], dtype=float)
    idx = {f: k for k, f in enumerate(tii["fields"])}
    planted = {frozenset(("category", "price"))}
    values = {frozenset((a, b)): m[idx[a], idx[b]] for a, b in combinations(tii["fields"], 2)}
    auc = _auc([values[p] for p in planted], [v for p, v in values.items() if p not in planted])
    assert auc >= 0.95, (model, values)
    # The model's blocks cannot name price: the same map has one continuous field.
    assert found["blocks"]["fields"] == [*spec.categorical, CONTINUOUS_FIELD]


def test_export_and_interactions_take_the_fields_flag(saved, runs_dir, tmp_path, capsys):
    from recsys_core.cli import main

    out = tmp_path / "tii.csv"
    argv = ["export", saved.run_id, "--format", "csv", "--method", "tii", "--fields", "blocks",
            "--no-noise-floor", "--out", str(out), "--runs-dir", str(runs_dir)]  # fmt: skip
    assert main(argv) == 0
    header = out.read_text().splitlines()[0].split(",")[1:]
    assert CONTINUOUS_FIELD in header and "raw_user_age" not in header
    argv = ["interactions", saved.run_id, "--method", "tii", "--fields", "cells",
            "--runs-dir", str(runs_dir)]  # fmt: skip
    with pytest.raises(SystemExit):  # argparse refuses it with the choices, one line
        main(argv)
    assert "invalid choice: 'cells'" in capsys.readouterr().err
