"""The command line's one-line errors: budgets, bad settings and seeds, nested Parquet columns, a
constant target, a full disk at save, and the long messages of Keras, XLA and Arrow.

Each case must exit with code 2 and print exactly one line on stderr, without a traceback, and leave
no run behind; the refusals come before the work they protect (the tests make that work fail loudly
if it is reached).
"""

import errno
import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from recsys_core import limits
from recsys_core.cli import main
from recsys_core.errors import RecsysCoreError
from recsys_core.features import Preprocessor

KERAS_DUMP = (
    "Exception encountered when calling DotInteraction.call().\n\n"
    "\x1b[1mCould not allocate 24.0 GiB for the pair tensor of shape (1024, 4498500, 8)\x1b[0m\n\n"
    "Arguments received by DotInteraction.call():\n"
    + "".join(f"  • inputs[{i}]=jnp.ndarray(shape=(1024, 8), dtype=float32)\n" for i in range(300))
)


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    """No limit set from outside, and the error log in a folder of the test's own."""
    for limit in limits.LIMITS:
        monkeypatch.delenv(limit.env, raising=False)
    monkeypatch.setenv("RECSYS_CORE_CACHE", str(tmp_path / "cache"))


def _cli(argv, capsys) -> tuple[int, str]:
    code = main(argv)
    err = capsys.readouterr().err.strip()
    return code, err.splitlines()[-1] if err else ""


def _assert_one_line(capsys, argv, *parts, store=None):
    """Run ``argv``; exit 2, one ``error:`` line holding every part, no traceback, no run saved."""
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1 and err.startswith("error: "), err
    assert "Traceback" not in err
    for part in parts:
        assert part in err, (part, err)
    if store is not None:
        assert not store.exists() or not any(store.iterdir()), list(store.iterdir())
    return err


def _forbid(monkeypatch, target, name: str) -> None:
    def boom(*args, **kwargs):
        raise AssertionError(f"{name} ran: the refusal came too late")

    monkeypatch.setattr(target, name, boom)


def _small_table(n: int = 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "user_id": rng.integers(0, 8, n),
            "city": rng.choice(["a", "b", "c"], n),
            "rating": rng.integers(1, 6, n).astype(float),
        }
    )


def _train(path, store, *extra) -> list[str]:
    return ["train", "--data", str(path), "--target", "rating", "--epochs", "1", "--quiet",
            "--runs-dir", str(store), *extra]  # fmt: skip


# --- budgets ---


def test_three_thousand_columns_are_refused_before_a_model_exists(tmp_path, capsys, monkeypatch):
    """The issue's case: 3,000 columns x 20 rows grew to ~24 GB. Now: one line, nothing built."""
    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.integers(0, 5, (20, 3000)), columns=[f"c{i}" for i in range(3000)])
    df["rating"] = rng.normal(size=20)
    path = tmp_path / "wide.csv"
    df.to_csv(path, index=False)
    store = tmp_path / "store"
    _forbid(monkeypatch, Preprocessor, "fit")
    _assert_one_line(capsys, _train(path, store), "'wide.csv' has 3,000 fields",
                     "over the field limit of 500", "set RECSYS_CORE_MAX_FIELDS to 3000 or more",
                     store=store)  # fmt: skip
    # raised past the field limit, the pair limit refuses the default pairwise model instead
    monkeypatch.setenv("RECSYS_CORE_MAX_FIELDS", "5000")
    _assert_one_line(capsys, _train(path, store), "dlrm on 3,000 fields forms 4,498,500 field pairs",
                     "over the pair limit of 5,000", "RECSYS_CORE_MAX_PAIRS", store=store)  # fmt: skip


def test_a_parquet_file_that_decodes_to_too_many_cells(tmp_path, capsys, monkeypatch):
    path = tmp_path / "long.parquet"
    n = 200_000
    pd.DataFrame({"user_id": np.zeros(n, "int8"), "rating": np.ones(n, "int8")}).to_parquet(
        path, index=False
    )
    monkeypatch.setenv("RECSYS_CORE_MAX_CELLS", "100000")
    _forbid(monkeypatch, pd, "read_parquet")
    store = tmp_path / "store"
    _assert_one_line(capsys, _train(path, store), "'long.parquet' decodes to 200,000 rows × 2",
                     "400,000 cells, over the table-cell limit of 100,000", "RECSYS_CORE_MAX_CELLS",
                     store=store)  # fmt: skip


def test_a_long_bag_and_too_many_epochs(tmp_path, capsys, monkeypatch):
    df = _small_table()
    df["tags"] = "a|b"
    df.loc[4, "tags"] = "|".join(f"t{i}" for i in range(30))
    path = tmp_path / "bags.csv"
    df.to_csv(path, index=False)
    store = tmp_path / "store"
    monkeypatch.setenv("RECSYS_CORE_MAX_BAG_LENGTH", "20")
    _assert_one_line(capsys, _train(path, store, "--multi-hot", "tags"),
                     "multi-hot column 'tags' has a cell (row 5) of 30 items",
                     "bag-length limit of 20", "RECSYS_CORE_MAX_BAG_LENGTH", store=store)  # fmt: skip
    _assert_one_line(capsys, [*_train(path, store), "--epochs", "10001"],
                     "the training asks for 10,001 epochs, over the epoch limit of 10,000",
                     "RECSYS_CORE_MAX_EPOCHS", store=store)  # fmt: skip


# --- settings and arguments ---


@pytest.mark.parametrize(
    ("env", "raw"),
    [
        ("RECSYS_CORE_MAX_UPLOAD_MB", "nan"),
        ("RECSYS_CORE_MAX_UPLOAD_MB", "inf"),
        ("RECSYS_CORE_MAX_UPLOAD_MB", "-3"),
        ("RECSYS_CORE_MAX_TRAININGS", "many"),
        ("RECSYS_CORE_MAX_TRAININGS", "0"),
        ("RECSYS_CORE_MAX_TRAININGS", "nan"),
        ("RECSYS_CORE_MAX_TRAININGS", "1.5"),
        ("RECSYS_CORE_MAX_FIELDS", "inf"),
    ],
)
def test_a_bad_setting_is_one_line_for_every_command(tmp_path, capsys, monkeypatch, env, raw):
    monkeypatch.setenv(env, raw)
    path = tmp_path / "t.csv"
    _small_table().to_csv(path, index=False)
    store = tmp_path / "store"
    for argv in (_train(path, store), ["runs", "--runs-dir", store]):
        _assert_one_line(capsys, argv, f"{env} must be a positive", f"got '{raw}'", store=store)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--seed", "-1"], "seed must be in 0..4294967295 (2^32-1), got -1"),
        (["--seed", "4294967296"], "seed must be in 0..4294967295 (2^32-1), got 4294967296"),
        (["--split-seed", "-1"], "split_seed must be in 0..4294967295 (2^32-1), got -1"),
        (
            ["--split-seed", str(2**40)],
            f"split_seed must be in 0..4294967295 (2^32-1), got {2**40}",
        ),
        (["--seed", "4294967295", "--trials", "2"], "uses seeds up to 4294967296"),
        (["--epochs", "1000000"], "1,000,000 epochs, over the epoch limit of 10,000"),
    ],
)
def test_seeds_and_epochs_are_refused_before_any_data_is_read(
    tmp_path, capsys, monkeypatch, argv, message
):
    import recsys_core.training.pipeline as pipeline

    _forbid(monkeypatch, pipeline, "load_movielens_100k")
    store = tmp_path / "store"
    _assert_one_line(capsys, ["train", *argv, "--runs-dir", store], message, store=store)


# --- tables no model can use ---


@pytest.mark.parametrize(
    ("column", "what"),
    [
        (pa.array([{"lat": float(i), "lon": 1.0} for i in range(30)]), "is a struct (struct<lat"),
        (pa.array([[{"item": i}] for i in range(30)]), "is a list of structs (list<"),
    ],
    ids=["struct", "list-of-struct"],
)
def test_nested_parquet_columns(tmp_path, capsys, column, what):
    path = tmp_path / "nested.parquet"
    table = pa.table({"user_id": list(range(30)), "where": column, "rating": [1.0, 2.0] * 15})
    pq.write_table(table, path)
    store = tmp_path / "store"
    _assert_one_line(capsys, _train(path, store), f"column 'where' {what}",
                     "supported column types are numbers, text, true/false, dates and times, and "
                     "lists of those (multi-hot)", store=store)  # fmt: skip


def test_a_constant_regression_target(tmp_path, capsys):
    path = tmp_path / "flat.csv"
    _small_table().assign(rating=4.0).to_csv(path, index=False)
    store = tmp_path / "store"
    _assert_one_line(capsys, _train(path, store), "the target column 'rating' holds 4.0 in every row",
                     "nothing to learn", store=store)  # fmt: skip


# --- a full disk, and long messages from the libraries ---


def test_a_full_disk_at_save_leaves_nothing_half_written(tmp_path, capsys, monkeypatch):
    path = tmp_path / "t.csv"
    _small_table(120).to_csv(path, index=False)
    store = tmp_path / "store"

    def full(self, target, *args, **kwargs):  # the held-out rows are written after the model
        with open(target, "wb") as fh:
            fh.write(b"PAR1 half")
        raise OSError(errno.ENOSPC, "No space left on device", str(target))

    monkeypatch.setattr(pd.DataFrame, "to_parquet", full)
    err = _assert_one_line(capsys, _train(path, store, "--no-refit", "--model", "fm"),
                           "the disk is full", "could not be written to", str(store),
                           "nothing was saved")  # fmt: skip
    assert "Traceback" not in err
    assert list(store.iterdir()) == []  # neither the run nor its hidden .tmp- folder


def test_a_long_keras_message_is_one_line_and_the_whole_text_is_logged(
    tmp_path, capsys, monkeypatch
):
    import recsys_core.training.pipeline as pipeline

    def build_model(*args, **kwargs):
        raise ValueError(KERAS_DUMP)

    monkeypatch.setattr(pipeline, "build_model", build_model)
    path = tmp_path / "t.csv"
    _small_table().to_csv(path, index=False)
    store = tmp_path / "store"
    log = tmp_path / "cache" / "logs" / "cli-errors.log"
    err = _assert_one_line(capsys, _train(path, store),
                           "dlrm cannot be built on the fields ['user_id', 'city']: Could not "
                           "allocate 24.0 GiB", f"(full detail in {log})", store=store)  # fmt: skip
    assert len(err) < 400 and "Arguments received" not in err and "\x1b" not in err
    text = log.read_text(encoding="utf-8")
    assert "Arguments received by DotInteraction.call()" in text and "inputs[299]" in text
    assert "Traceback" in text and "recsys-core train --data" in text


def test_an_unexpected_library_error_is_one_line_too(tmp_path, capsys, monkeypatch):
    import recsys_core.training.pipeline as pipeline

    def train_run(*args, **kwargs):
        raise RuntimeError(
            "RESOURCE_EXHAUSTED: Out of memory while trying to allocate 25769803776 bytes.\n"
            + "BufferAssignment OOM Debugging.\n" * 500
        )

    monkeypatch.setattr(pipeline, "train_run", train_run)
    path = tmp_path / "t.csv"
    _small_table().to_csv(path, index=False)
    store = tmp_path / "store"
    err = _assert_one_line(capsys, _train(path, store),
                           "error: RuntimeError: RESOURCE_EXHAUSTED: Out of memory while trying "
                           "to allocate 25769803776 bytes.", "full detail in", store=store)  # fmt: skip
    assert "BufferAssignment" not in err


def test_an_os_error_names_the_file(tmp_path, capsys, monkeypatch):
    from recsys_core.runs.store import RunStore

    def listing(self):
        raise OSError(errno.ENOSPC, "No space left on device", "/data/runs/index")

    monkeypatch.setattr(RunStore, "list", listing)
    _assert_one_line(capsys, ["runs", "--runs-dir", tmp_path], "the disk is full: /data/runs/index")


def test_messages_of_our_own_stay_as_they_are(tmp_path, capsys):
    """A library error that is already one sentence gets no log note: nothing was cut."""
    code, line = _cli(["interactions", "no-such-run", "--runs-dir", str(tmp_path)], capsys)
    assert code == 2 and line.startswith("error: no run 'no-such-run'") and "detail" not in line
    assert not (tmp_path / "cache").exists()


def test_a_run_inside_every_budget_still_trains(tmp_path, capsys):
    """The defaults never block a small table; the JSON names the run that was saved."""
    path = tmp_path / "t.csv"
    _small_table(120).to_csv(path, index=False)
    store = tmp_path / "store"
    code = main(_train(path, store, "--no-refit", "--model", "fm", "--json"))
    assert code == 0
    assert (store / json.loads(capsys.readouterr().out)["run_id"] / "run.json").exists()
    with pytest.raises(RecsysCoreError):  # and the same budgets hold for the library's callers
        limits.FIELDS.check(501, "a table has")
