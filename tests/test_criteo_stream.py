"""A generated Criteo-shaped Parquet table, read back in streamed batches, trains a DLRM for an epoch."""

from __future__ import annotations

import runpy
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


def test_reading_holds_a_few_batches_not_the_file(tmp_path):
    path = write_criteo_like(tmp_path / "big.parquet", 60_000, max_vocab=1000, row_group=5000)
    base, peak = pa.total_allocated_bytes(), 0
    for _ in iter_parquet_batches(path, 1000, prefetch=2):
        peak = max(peak, pa.total_allocated_bytes() - base)
    # ~1.7 MB measured; pyarrow's default pre-buffering kept ~7.6 MB, the whole file, by the end
    assert peak < 60_000 * 160 / 4


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
    )
    assert result.rows == ROWS and result.steps == len(seen) == 12 and seen[-1] == ROWS
    assert len(result.losses) == 12 and all(np.isfinite(result.losses))
    assert 0.0 < result.losses[-1] < 1.0
    after = [np.asarray(v.value) for v in model.trainable_variables]
    assert all(not np.array_equal(a, b) for a, b in zip(before, after, strict=True))
    assert result.rss_max_mb >= result.rss_first_step_mb > 0


def test_stream_errors_are_clear(table):
    config = TrainConfig(epochs=1, batch_size=64)
    with pytest.raises(TrainingError, match="cosine schedule needs total_rows"):
        fit_stream(_model(), "binary", iter_parquet_batches(table, 64), config)
    constant = TrainConfig(epochs=1, batch_size=64, schedule="constant")
    with pytest.raises(TrainingError, match="more than batch_size=64"):
        fit_stream(_model(), "binary", iter_parquet_batches(table, 128), constant)
    with pytest.raises(TrainingError, match="no rows"):
        fit_stream(_model(), "binary", iter([]), constant)


def test_the_benchmark_runs_at_a_small_size(tmp_path):
    bench = runpy.run_path(
        str(Path(__file__).resolve().parents[1] / "benchmarks" / "bench_criteo_stream.py")
    )
    out = bench["main"](
        rows=2000, max_vocab=300, batch=256, dim=4, folder=str(tmp_path), quiet=True
    )
    assert out["rows"] == 2000 and out["steps"] == 8
    assert np.isfinite(out["last_loss"]) and out["in_memory_mb"] == pytest.approx(2000 * 160 / 1e6)
