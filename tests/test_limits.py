"""Budgets (recsys_core.limits): declared once, read from validated settings, refused before work.

Every refusal is one line naming the limit, the value found and the variable that raises it, and
comes before the memory it protects is allocated: the tests make the expensive step (decoding a
Parquet file, building a model) fail loudly if it is reached.
"""

import inspect
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from recsys_core import limits
from recsys_core.data.user_table import load_user_table, max_upload_bytes, read_table
from recsys_core.errors import DataError, LimitError, SettingError, one_line
from recsys_core.features import Preprocessor
from recsys_core.features.spec import FeatureSpec, movielens_spec
from recsys_core.models.base import InteractionModel
from recsys_core.models.registry import MODELS, build_model, embedding_rows, get_entry
from recsys_core.training import RunConfig, TrainConfig
from recsys_core.training.pipeline import check_run

ROOT = Path(__file__).resolve().parents[1]
BAD_VALUES = ["nan", "NaN", "inf", "-inf", "-1", "0", "-0", "lots", "1e999"]


@pytest.fixture(autouse=True)
def _clean_settings(monkeypatch):
    for limit in limits.LIMITS:
        monkeypatch.delenv(limit.env, raising=False)


def _refusal(exc: pytest.ExceptionInfo, limit: limits.Limit, found: str) -> str:
    """The message, after checking it is the one line the issue asks for."""
    msg = str(exc.value)
    assert "\n" not in msg, msg
    assert f"the {limit.name} limit of" in msg and limit.env in msg and found in msg, msg
    return msg


# --- the settings themselves ---


def test_every_limit_is_declared_once_with_a_distinct_variable():
    envs = [limit.env for limit in limits.LIMITS]
    assert len(set(envs)) == len(envs) and all(
        e.startswith(("RECSYS_CORE_MAX_", "RECSYS_CORE_JOB_")) for e in envs
    )
    for limit in limits.LIMITS:
        assert limit.value() == limit.default and limit.description and limit.unit


@pytest.mark.parametrize("limit", limits.LIMITS, ids=[lim.env for lim in limits.LIMITS])
@pytest.mark.parametrize("raw", BAD_VALUES)
def test_a_bad_setting_is_one_line_naming_the_variable(monkeypatch, limit, raw):
    monkeypatch.setenv(limit.env, raw)
    with pytest.raises(SettingError) as err:
        limit.value()
    msg = str(err.value)
    assert msg.startswith(f"{limit.env} must be a positive") and repr(raw) in msg, msg
    assert "\n" not in msg
    with pytest.raises(SettingError, match=limit.env):
        limits.check_settings()


def test_settings_accept_numbers_written_as_people_write_them(monkeypatch):
    monkeypatch.setenv(limits.FIELDS.env, " 1e3 ")
    monkeypatch.setenv(limits.PARAMS.env, "2_000_000")
    monkeypatch.setenv(limits.UPLOAD_MB.env, "0.5")
    monkeypatch.setenv(limits.TRAININGS.env, "")  # empty: the default
    assert limits.FIELDS.value() == 1000 and limits.PARAMS.value() == 2_000_000
    assert max_upload_bytes() == 2**19
    assert limits.max_trainings() == 1 and limits.max_queued() == 50
    monkeypatch.setenv(limits.FIELDS.env, "2.5")  # a count is whole
    with pytest.raises(SettingError, match="whole number"):
        limits.FIELDS.value()


@pytest.mark.parametrize("raw", ["nan", "inf", "-1", "abc", "2.5"])
def test_max_trainings_is_validated_for_the_job_system(monkeypatch, raw):
    monkeypatch.setenv("RECSYS_CORE_MAX_TRAININGS", raw)
    with pytest.raises(SettingError, match="RECSYS_CORE_MAX_TRAININGS"):
        limits.max_trainings()
    monkeypatch.setenv("RECSYS_CORE_MAX_TRAININGS", "3")
    assert limits.max_trainings() == 3


@pytest.mark.parametrize("raw", ["nan", "inf", "-5", "0"])
def test_the_upload_limit_rejects_nan_inf_and_negative(monkeypatch, tmp_path, raw):
    path = tmp_path / "t.csv"
    path.write_text("a,y\n1,2\n")
    monkeypatch.setenv("RECSYS_CORE_MAX_UPLOAD_MB", raw)
    with pytest.raises(SettingError, match=f"RECSYS_CORE_MAX_UPLOAD_MB .*got '{re.escape(raw)}'"):
        read_table(path)


def test_the_readme_lists_every_limit_with_its_default():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for limit in limits.LIMITS:
        default = f"{limit.default:,}" if limit.whole else f"{limit.default:g}"
        assert re.search(rf"`{limit.env}` \(default {re.escape(default)}\)", readme), limit.env


# --- tables: cells, nested columns, fields, bags, targets ---


def _forbid(monkeypatch, target, name: str) -> None:
    def boom(*args, **kwargs):
        raise AssertionError(f"{name} ran: the refusal came too late")

    monkeypatch.setattr(target, name, boom)


def test_a_small_parquet_file_that_decodes_to_many_rows_is_refused_from_its_metadata(
    tmp_path, monkeypatch
):
    path = tmp_path / "long.parquet"
    pd.DataFrame({"user_id": np.zeros(300_000, "int8"), "y": np.ones(300_000, "int8")}).to_parquet(
        path, index=False
    )
    assert path.stat().st_size < 50_000  # zeros compress: the file is small, the table is not
    monkeypatch.setenv("RECSYS_CORE_MAX_CELLS", "100000")
    _forbid(monkeypatch, pd, "read_parquet")
    with pytest.raises(LimitError) as err:
        read_table(path)
    msg = _refusal(err, limits.TABLE_CELLS, "600,000 cells")
    assert msg.startswith("'long.parquet' decodes to 300,000 rows × 2 columns"), msg
    assert "set RECSYS_CORE_MAX_CELLS to 600000 or more" in msg


def test_list_items_count_as_cells(tmp_path, monkeypatch):
    path = tmp_path / "bags.parquet"
    pq.write_table(pa.table({"tags": [list(range(5_000))] * 20, "y": list(range(20))}), path)
    monkeypatch.setenv("RECSYS_CORE_MAX_CELLS", "50000")  # 20 rows x 2 columns is only 40
    _forbid(monkeypatch, pd, "read_parquet")
    with pytest.raises(LimitError) as err:
        read_table(path)
    _refusal(err, limits.TABLE_CELLS, "100,020 cells")


def test_a_csv_is_counted_right_after_parsing(tmp_path, monkeypatch):
    path = tmp_path / "wide.csv"
    pd.DataFrame(np.zeros((20, 300), "int8")).to_csv(path, index=False)
    monkeypatch.setenv("RECSYS_CORE_MAX_CELLS", "5000")
    with pytest.raises(LimitError) as err:
        load_user_table(path, "0")
    _refusal(err, limits.TABLE_CELLS, "6,000 cells")


@pytest.mark.parametrize(
    ("column", "what"),
    [
        (pa.array([{"x": i, "y": "a"} for i in range(20)]), "is a struct"),
        (pa.array([[{"x": i}] for i in range(20)]), "is a list of structs"),
        (pa.array([[[i]] for i in range(20)]), "is a list of lists"),
        (pa.array([[("k", i)] for i in range(20)], pa.map_(pa.string(), pa.int64())), "is a map"),
    ],
    ids=["struct", "list-of-struct", "list-of-list", "map"],
)
def test_nested_parquet_columns_are_refused_by_name_before_decoding(
    tmp_path, monkeypatch, column, what
):
    path = tmp_path / "nested.parquet"
    pq.write_table(pa.table({"user_id": list(range(20)), "place": column, "y": [1.0] * 20}), path)
    _forbid(monkeypatch, pd, "read_parquet")
    with pytest.raises(DataError) as err:
        read_table(path)
    msg = str(err.value)
    assert f"column 'place' {what}" in msg and "supported column types are numbers, text" in msg
    assert "\n" not in msg


def test_lists_of_plain_values_and_dictionaries_still_read(tmp_path):
    path = tmp_path / "ok.parquet"
    table = pa.table({
        "user_id": pa.array([str(i % 4) for i in range(30)]).dictionary_encode(),
        "tags": [["a", "b"][: i % 3] for i in range(30)],
        "y": [float(i % 5) for i in range(30)],
    })  # fmt: skip
    pq.write_table(table, path)
    user = load_user_table(path, "y")
    assert user.spec.multi_hot == ("tags",) and "user_id" in user.spec.categorical


def _wide_table(columns: int, rows: int = 20) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        rng.integers(0, 5, (rows, columns)), columns=[f"c{i}" for i in range(columns)]
    )
    df["y"] = rng.normal(size=rows)
    return df


def test_thousands_of_columns_are_refused_before_anything_is_built(tmp_path, monkeypatch):
    """The issue's case: 3,000 columns x 20 rows grew to ~24 GB. Refused at the field count."""
    path = tmp_path / "wide.csv"
    _wide_table(3000).to_csv(path, index=False)
    _forbid(monkeypatch, Preprocessor, "fit")
    with pytest.raises(LimitError) as err:
        load_user_table(path, "y")
    msg = _refusal(err, limits.FIELDS, "3,000 fields")
    assert msg.startswith("'wide.csv' has 3,000 fields (3,000 categorical or multi-hot columns)")


def test_a_long_bag_is_refused_with_its_row(tmp_path, monkeypatch):
    df = _wide_table(2, rows=30)
    df["tags"] = ["a|b"] * 30
    df.loc[6, "tags"] = "|".join(f"t{i}" for i in range(40))
    path = tmp_path / "bags.csv"
    df.to_csv(path, index=False)
    monkeypatch.setenv("RECSYS_CORE_MAX_BAG_LENGTH", "10")
    with pytest.raises(LimitError) as err:
        load_user_table(path, "y", roles={"tags": "multi-hot"})
    msg = _refusal(err, limits.BAG_LENGTH, "40 items")
    assert msg.startswith("multi-hot column 'tags' has a cell (row 7) of 40 items"), msg


def test_a_constant_regression_target_is_refused(tmp_path):
    df = _wide_table(2, rows=30).assign(y=3.0)
    path = tmp_path / "flat.csv"
    df.to_csv(path, index=False)
    with pytest.raises(DataError, match="'y' holds 3.0 in every row.*nothing to learn"):
        load_user_table(path, "y")


# --- runs and models: epochs, seeds, pairs, parameters ---


def test_epochs_and_seeds_are_bounded():
    with pytest.raises(LimitError) as err:
        check_run(RunConfig(train=TrainConfig(epochs=10_001)))
    _refusal(err, limits.EPOCHS, "10,001 epochs")
    check_run(RunConfig(train=TrainConfig(epochs=10_000)))
    for seed in (-1, 2**32):
        with pytest.raises(Exception, match=r"seed must be in 0\.\.4294967295"):
            TrainConfig(seed=seed)
        with pytest.raises(Exception, match=r"split_seed must be in 0\.\.4294967295"):
            RunConfig(split_seed=seed)
    assert TrainConfig(seed=2**32 - 1).seed == RunConfig(split_seed=2**32 - 1).split_seed


def _spec(fields: int) -> FeatureSpec:
    return FeatureSpec(target="y", categorical=tuple(f"c{i}" for i in range(fields)))


def test_pairwise_models_are_held_to_the_pair_budget(monkeypatch):
    monkeypatch.setenv("RECSYS_CORE_MAX_PAIRS", "50")
    with pytest.raises(LimitError) as err:
        check_run(RunConfig(model="dlrm"), _spec(12))
    msg = _refusal(err, limits.PAIRS, "66 field pairs")
    assert msg.startswith("dlrm on 12 fields forms 66 field pairs"), msg
    check_run(RunConfig(model="dlrm"), _spec(10))  # 45 pairs


def test_models_without_pairs_are_not_held_to_the_pair_budget(monkeypatch):
    monkeypatch.setenv("RECSYS_CORE_MAX_PAIRS", "10")
    for name, entry in sorted(MODELS.items()):
        if entry.cls.forms_pairs:
            with pytest.raises(LimitError, match="pair limit"):
                check_run(RunConfig(model=name), _spec(6))
        else:
            check_run(RunConfig(model=name), _spec(6))


def test_every_model_that_requires_pairs_declares_that_it_forms_them():
    get_entry("dlrm")  # registers the zoo
    for name, entry in MODELS.items():
        if "require_pairs(" in inspect.getsource(entry.cls):
            assert entry.cls.forms_pairs, name
    assert InteractionModel.forms_pairs is False


def test_the_defaults_never_block_movielens():
    for preset in ("default", "tutorial"):
        spec = movielens_spec(preset)
        for name in MODELS:
            check_run(RunConfig(model=name, features=preset), spec)


@pytest.fixture(scope="module")
def fitted():
    from recsys_core.data import synthetic_ratings

    spec = movielens_spec("default")
    return Preprocessor(spec).fit(synthetic_ratings(n_rows=400, seed=3))


def test_the_parameter_estimate_refuses_before_the_model_is_constructed(fitted, monkeypatch):
    rows = embedding_rows(fitted)
    monkeypatch.setenv("RECSYS_CORE_MAX_PARAMS", str(rows * 16 - 1))
    _forbid(monkeypatch, InteractionModel, "__init__")
    with pytest.raises(LimitError) as err:
        build_model("fm", fitted, {"embedding_dim": 16})
    msg = _refusal(err, limits.PARAMS, f"{rows * 16:,} parameters")
    assert (
        f"at least {rows * 16:,} parameters (embedding tables of {rows:,} rows × width 16)" in msg
    )


def test_the_exact_count_is_checked_once_built(fitted, monkeypatch):
    rows = embedding_rows(fitted)
    monkeypatch.setenv("RECSYS_CORE_MAX_PARAMS", str(rows * 8))  # the estimate passes, barely
    with pytest.raises(LimitError) as err:
        build_model("dnn", fitted, {"dnn": [64, 32]})
    msg = _refusal(err, limits.PARAMS, "parameters")
    assert msg.startswith("dnn on these fields has ")


def test_the_estimate_is_a_lower_bound(fitted):
    """Every model of the zoo holds the base class's embedding tables, ``embedding_dim`` wide; the
    estimate counts only those, so it never refuses a model the exact count would let through."""
    assert all(issubclass(entry.cls, InteractionModel) for entry in MODELS.values())
    model = build_model("fm", fitted)
    tables = sum(int(np.prod(w.shape)) for w in model.embedding.weights)
    assert tables == embedding_rows(fitted) * model.embedding_dim <= model.count_params()


# --- one line from a long library message ---


def test_one_line_keeps_the_sentence_that_says_what_went_wrong():
    keras_dump = (
        "Exception encountered when calling DotInteraction.call().\n\n"
        "\x1b[1mCould not allocate 24.0 GiB for the pair tensor\x1b[0m\n\n"
        "Arguments received by DotInteraction.call():\n  • inputs=['tf.Tensor(shape=(1, 8))']"
    )
    assert one_line(keras_dump) == "Could not allocate 24.0 GiB for the pair tensor"
    long = "x" * 1000
    assert len(one_line(long)) == 300 and one_line(long).endswith("…")
    assert one_line("") == ""
