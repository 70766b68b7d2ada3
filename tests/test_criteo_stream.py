"""A generated Criteo-shaped Parquet table, read back in streamed batches, trains a DLRM for an epoch."""

from __future__ import annotations

import runpy
import tracemalloc
from pathlib import Path

import keras
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from recsys_core.data.criteo import (
    CATEGORICAL,
    CONTINUOUS,
    TARGET,
    criteo_tables,
    criteo_vocabs,
    iter_parquet_batches,
    write_criteo_like,
)
from recsys_core.errors import TrainingError
from recsys_core.models import DLRM
from recsys_core.training import TrainConfig
from recsys_core.training.stream import fit_stream

ROWS, VOCAB = 3000, 500


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    path = tmp_path_factory.mktemp("criteo") / "t.parquet"
    return write_criteo_like(path, ROWS, max_vocab=VOCAB, row_group=700, seed=1)


def test_the_table_has_criteo_s_shape(table):
    f = pq.ParquetFile(table)
    assert f.metadata.num_rows == ROWS and f.metadata.num_row_groups == 5
    df = f.read().to_pandas()
    assert list(df.columns) == [*CONTINUOUS, *CATEGORICAL, TARGET]
    vocabs = criteo_vocabs(VOCAB)
    assert max(vocabs) == VOCAB and min(vocabs) == 3 and len(vocabs) == 26
    for name, vocab in zip(CATEGORICAL, vocabs, strict=True):
        assert df[name].dtype == np.int32 and df[name].min() >= 0 and df[name].max() < vocab
    assert set(np.unique(df[TARGET])) == {0.0, 1.0} and 0.05 < df[TARGET].mean() < 0.6
    assert criteo_vocabs()[2] == 1_000_000  # capped at 1M by default


def test_streamed_batches_are_full_in_file_order_and_cover_every_row(table):
    batches = list(iter_parquet_batches(table, 256, prefetch=2))
    sizes = [len(y) for _, y in batches]
    # full batches across row-group ends (700 rows each), then the remainder
    assert sizes == [256] * (ROWS // 256) + [ROWS % 256]
    df = pq.read_table(table).to_pandas()
    x = {k: np.concatenate([b[0][k] for b in batches]) for k in batches[0][0]}
    np.testing.assert_array_equal(x["C1"], df["C1"].to_numpy())
    np.testing.assert_array_equal(x["continuous"], df[list(CONTINUOUS)].to_numpy(np.float32))
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), df[TARGET].to_numpy())
    assert x["continuous"].shape == (ROWS, 13) and x["C26"].dtype == np.int32


@pytest.mark.parametrize("shuffle", [False, True])
def test_reading_holds_a_few_batches_not_the_file(tmp_path, shuffle):
    path = write_criteo_like(tmp_path / "big.parquet", 60_000, max_vocab=1000, row_group=5000)
    base, peak = pa.total_allocated_bytes(), 0
    for _ in iter_parquet_batches(path, 1000, prefetch=2, shuffle=shuffle, shuffle_buffer=2):
        peak = max(peak, pa.total_allocated_bytes() - base)
    # ~1.7 MB measured; pyarrow's default pre-buffering kept ~7.6 MB, the whole file, by the end
    assert peak < 60_000 * 160 / 4


def _numbered_table(path, rows, row_group):
    """A table whose row i holds i in every column, so a stream shows which rows it gave."""
    ids = np.arange(rows, dtype=np.int32)
    cols = {"row": ids, "c": ids.astype(np.float32), TARGET: ids.astype(np.float32)}
    pq.write_table(pa.table(cols), path, row_group_size=row_group)
    return path


def _rows_of(stream):
    batches = list(stream)
    ids = np.concatenate([x["row"] for x, _ in batches])
    for x, y in batches:  # the columns of a row stay together
        np.testing.assert_array_equal(x["continuous"][:, 0], x["row"])
        np.testing.assert_array_equal(y, x["row"])
    return ids, [len(y) for _, y in batches]


def test_a_shuffled_stream_gives_every_row_once_in_a_seeded_order(tmp_path):
    rows = 10_000
    path = _numbered_table(tmp_path / "n.parquet", rows, row_group=900)  # 12 groups, last 100 rows

    def read(seed, buffer=3, batch=512):
        stream = iter_parquet_batches(
            path, batch, ["row"], ["c"], shuffle=True, seed=seed, shuffle_buffer=buffer
        )
        return _rows_of(stream)

    ids, sizes = read(seed=7)
    assert sizes == [512] * (rows // 512) + [rows % 512]  # full batches, as unshuffled
    np.testing.assert_array_equal(np.sort(ids), np.arange(rows))  # every row exactly once
    assert np.mean(ids != np.arange(rows)) > 0.99  # not the file's order
    np.testing.assert_array_equal(read(seed=7)[0], ids)  # the same order for the same seed
    assert np.mean(read(seed=8)[0] != ids) > 0.99  # another seed, another order
    # a batch draws from several row groups at once, not from one group at a time
    assert np.mean([len(np.unique(ids[i : i + 512] // 900)) for i in range(0, rows, 512)]) > 2.5
    for buffer in (1, 20):  # a buffer of one group, and one larger than the file
        ids, _ = read(seed=1, buffer=buffer, batch=1000)
        np.testing.assert_array_equal(np.sort(ids), np.arange(rows))
    ids, _ = read(seed=1, buffer=1, batch=1000)  # one group at a time: groups come out whole
    groups = ids // 900
    assert len(np.unique(groups[:900])) == 1 and set(groups[:900]) != {0}
    with pytest.raises(ValueError, match="shuffle_buffer"):
        next(iter_parquet_batches(path, 10, ["row"], ["c"], shuffle=True, shuffle_buffer=0))


def test_a_shuffled_stream_holds_a_few_row_groups_not_the_file(tmp_path):
    rows, group = 200_000, 2_000  # 100 row groups of 24 KB; the file is 2.4 MB as arrays
    path = _numbered_table(tmp_path / "n.parquet", rows, row_group=group)
    stream = iter_parquet_batches(
        path, 500, ["row"], ["c"], prefetch=2, shuffle=True, seed=0, shuffle_buffer=4
    )
    tracemalloc.start()  # NumPy reports its array buffers to tracemalloc
    try:
        count = sum(len(y) for _, y in stream)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == rows
    # ~300 KB measured: the 4-5 buffered groups (24 KB each), twice while the buffer is re-cut, and
    # the int64 order over them; the file as arrays is 2.4 MB
    assert peak < 20 * group * 12


def test_a_consumer_may_stop_early(table):
    stream = iter_parquet_batches(table, 128, prefetch=1)
    first = next(stream)
    stream.close()  # stops the reader thread instead of hanging
    assert len(first[1]) == 128


def test_reader_errors_reach_the_consumer(tmp_path):
    with pytest.raises(OSError):
        next(iter_parquet_batches(tmp_path / "missing.parquet", 10))


def _model():
    keras.utils.set_random_seed(0)
    model = DLRM(
        tables=criteo_tables(VOCAB),
        continuous=list(CONTINUOUS),
        embedding_dim=4,
        bottom_mlp=[8],
        top_mlp=[16],
    )
    model.build()
    return model


def test_one_streamed_epoch_trains_on_every_row_once(table):
    model = _model()
    before = [np.asarray(v.value).copy() for v in model.trainable_variables]
    config = TrainConfig(epochs=1, batch_size=256, schedule="constant", learning_rate=1e-2)
    seen = []
    result = fit_stream(
        model,
        "binary",
        iter_parquet_batches(table, 256),
        config,
        total_rows=ROWS,
        on_step=lambda step, rows: seen.append(rows),
        steps_per_call=5,  # 12 steps: calls of 5, 5 and 2 (the last batch 184 rows)
    )
    assert result.rows == ROWS and result.steps == len(seen) == 12
    assert seen == [min(256 * s, ROWS) for s in range(1, 13)]
    assert len(result.losses) == 12 and all(np.isfinite(result.losses))
    assert 0.0 < result.losses[-1] < 1.0
    after = [np.asarray(v.value) for v in model.trainable_variables]
    assert all(not np.array_equal(a, b) for a, b in zip(before, after, strict=True))
    assert result.rss_max_mb >= result.rss_first_call_mb > 0
    assert result.first_call_rows == 5 * 256 and result.rows_per_second_after_first > 0
    # the same steps as one call per batch: same losses, same weights
    one = _model()
    single = fit_stream(
        one, "binary", iter_parquet_batches(table, 256), config, ROWS, steps_per_call=1
    )
    np.testing.assert_allclose(single.losses, result.losses, rtol=1e-5)
    for a, b in zip(after, one.trainable_variables, strict=True):
        np.testing.assert_allclose(np.asarray(b.value), a, rtol=1e-4, atol=1e-6)


def test_stream_errors_are_clear(table):
    config = TrainConfig(epochs=1, batch_size=64)
    with pytest.raises(TrainingError, match="cosine schedule needs total_rows"):
        fit_stream(_model(), "binary", iter_parquet_batches(table, 64), config)
    constant = TrainConfig(epochs=1, batch_size=64, schedule="constant")
    with pytest.raises(TrainingError, match="more than batch_size=64"):
        fit_stream(_model(), "binary", iter_parquet_batches(table, 128), constant)
    with pytest.raises(TrainingError, match="no rows"):
        fit_stream(_model(), "binary", iter([]), constant)
    with pytest.raises(TrainingError, match="steps_per_call must be >= 1"):
        fit_stream(_model(), "binary", iter([]), constant, steps_per_call=0)


def _bench():
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_criteo_stream.py"
    return runpy.run_path(str(path))


def test_the_benchmark_runs_at_a_small_size(tmp_path):
    out = _bench()["main"](
        rows=2000,
        max_vocab=300,
        batch=256,
        dim=4,
        models=["dcn_v2"],  # DLRM runs in the next test
        in_memory_rows=1000,
        row_group=500,
        steps_per_call=3,
        folder=str(tmp_path),
        isolate=False,
        quiet=True,
    )
    assert out["rows"] == 2000 and out["in_memory_mb"] == pytest.approx(2000 * 160 / 1e6)
    assert set(out["models"]) == {"dcn_v2"}
    for figures in out["models"].values():
        s, m = figures["stream"], figures["in_memory"]
        assert s["rows"] == 2000 and s["steps"] == 8 and np.isfinite(s["last_loss"])
        assert s["rows_per_s_after_first"] > 0 and s["peak_rss_mb"] >= s["rss_first_call_mb"] > 0
        assert m["rows"] == 1000 and figures["ratio"] == pytest.approx(
            s["rows_per_s_after_first"] / m["rows_per_s_after_first"]
        )


def test_the_benchmark_trains_each_model_in_a_process_of_its_own(tmp_path):
    out = _bench()["main"](
        rows=1000,
        max_vocab=100,
        batch=256,
        dim=2,
        models=["dlrm"],
        in_memory_rows=0,
        folder=str(tmp_path),
        quiet=True,
    )
    s = out["models"]["dlrm"]["stream"]
    assert s["rows"] == 1000 and s["steps"] == 4 and out["models"]["dlrm"]["in_memory"] is None
    assert s["peak_rss_mb"] > 0 and len(s["load"]) == 3
