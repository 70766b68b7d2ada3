"""A generated Criteo-shaped click table on disk (Parquet) and a streamed reader for it.

Criteo's display-advertising logs have 13 integer ("I1".."I13") and 26 hashed categorical
("C1".."C26") features and a click label. ``write_criteo_like`` generates a table of that shape,
row group by row group so that writing needs memory for one group only: counts-like continuous
columns (already ``log1p``-transformed, as DLRM's reference pre-processing does), categorical ids
already in ``[0, vocabulary)`` with skewed (Zipf) frequencies and vocabularies shaped like the
Criteo Kaggle set's, capped at ``max_vocab`` (1M by default), and a label drawn from a planted
logistic model of a few features, so a model has something to learn. ``iter_parquet_batches``
reads it back in fixed-size batches with pyarrow, a bounded number of batches ahead, in file order
or shuffled through a buffer of a few row groups (bounded memory either way).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

CONTINUOUS = tuple(f"I{i}" for i in range(1, 14))
CATEGORICAL = tuple(f"C{i}" for i in range(1, 27))
TARGET = "label"
# Distinct values per categorical column in the Criteo Kaggle (display advertising) training set.
CRITEO_KAGGLE_VOCABS = (
    1460, 583, 10131227, 2202608, 305, 24, 12517, 633, 3, 93145, 5683, 8351593, 3194, 27, 14992,
    5461306, 10, 5652, 2173, 4, 7046547, 18, 15, 286181, 105, 142572,
)  # fmt: skip


def criteo_vocabs(max_vocab: int = 1_000_000) -> list[int]:
    """Criteo-Kaggle-shaped vocabulary sizes, each capped at ``max_vocab`` (at least 2)."""
    return [max(2, min(v, max_vocab)) for v in CRITEO_KAGGLE_VOCABS]


def criteo_tables(max_vocab: int = 1_000_000) -> list[dict[str, Any]]:
    """The model's table specs (``{"name", "vocab_size"}``) for a table written with ``max_vocab``."""
    return [
        {"name": n, "vocab_size": v}
        for n, v in zip(CATEGORICAL, criteo_vocabs(max_vocab), strict=True)
    ]


def _effect(ids: np.ndarray, salt: int) -> np.ndarray:
    """A fixed pseudo-random effect in [-1, 1) per id (a multiplicative hash, no table needed)."""
    h = (ids.astype(np.uint64) * np.uint64(2654435761) + np.uint64(salt)) % np.uint64(2003)
    return h.astype(np.float32) / 1001.5 - 1.0


def _chunk(rng: np.random.Generator, rows: int, vocabs: list[int]) -> dict[str, np.ndarray]:
    cols: dict[str, np.ndarray] = {}
    for name in CONTINUOUS:
        cols[name] = np.log1p(rng.exponential(rng.uniform(1, 50), rows)).astype(np.float32)
    for name, vocab in zip(CATEGORICAL, vocabs, strict=True):
        cols[name] = ((rng.zipf(1.3, rows) - 1) % vocab).astype(np.int32)
    logit = (
        -1.2
        + 0.8 * _effect(cols["C1"], 1)
        + 0.8 * _effect(cols["C2"], 2) * _effect(cols["C6"], 3)  # a planted pair interaction
        + 0.5 * _effect(cols["C9"], 4)
        + 0.3 * (cols["I1"] - cols["I1"].mean())
    )
    cols[TARGET] = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.float32)
    return cols


def write_criteo_like(
    path: str | Path,
    rows: int,
    *,
    max_vocab: int = 1_000_000,
    row_group: int = 65_536,
    seed: int = 0,
) -> Path:
    """Write ``rows`` generated Criteo-shaped rows to the Parquet file ``path``; returns the path."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    vocabs = criteo_vocabs(max_vocab)
    rng = np.random.default_rng(seed)
    fields = [(n, pa.float32()) for n in CONTINUOUS] + [(n, pa.int32()) for n in CATEGORICAL]
    schema = pa.schema([*fields, (TARGET, pa.float32())])
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, rows, row_group):
            cols = _chunk(rng, min(row_group, rows - start), vocabs)
            writer.write_table(pa.table(cols, schema=schema), row_group_size=row_group)
    return path


def iter_parquet_batches(
    path: str | Path,
    batch_size: int,
    categorical: tuple[str, ...] | list[str] = CATEGORICAL,
    continuous: tuple[str, ...] | list[str] = CONTINUOUS,
    target: str = TARGET,
    prefetch: int = 2,
    *,
    shuffle: bool = False,
    seed: int = 0,
    shuffle_buffer: int = 4,
) -> Iterator[tuple[dict[str, np.ndarray], np.ndarray]]:
    """Yield ``(x, y)`` batches of ``batch_size`` rows (the last one may be shorter).

    ``x`` maps each categorical column to int32 ids and ``"continuous"`` to a float32 ``(rows, C)``
    block (the ``Preprocessor.transform`` layout the models take). A background thread reads up to
    ``prefetch`` batches ahead (pyarrow decodes without holding the GIL), so reading overlaps
    training and memory holds a few batches, never the file.

    Without ``shuffle`` the rows come in file order. With it, every row still comes exactly once, in
    an order fixed by ``seed``: row groups are read in a random order into a buffer of
    ``shuffle_buffer`` row groups, and each time one is read, as many rows as it had are drawn at
    random from the whole buffer (``shuffle_buffer=1``: row groups in random order, rows shuffled
    within each). Memory holds the buffer, twice over while it is re-cut, plus the prefetched
    batches, whatever the file's size. Rows of row groups far apart in the read order seldom share a batch,
    so a bigger buffer (or smaller row groups) mixes more; pass a new ``seed`` each epoch.
    """
    import pyarrow.parquet as pq

    if shuffle and shuffle_buffer < 1:
        raise ValueError(f"shuffle_buffer must be >= 1 row group, got {shuffle_buffer}.")

    def convert(batch: Any) -> tuple[dict[str, np.ndarray], np.ndarray]:
        col = {name: batch.column(name) for name in (*categorical, *continuous, target)}
        x = {n: col[n].to_numpy(zero_copy_only=False).astype(np.int32) for n in categorical}
        if continuous:
            block = [col[n].to_numpy(zero_copy_only=False) for n in continuous]
            x["continuous"] = np.stack(block, axis=1).astype(np.float32)
        return x, col[target].to_numpy(zero_copy_only=False).astype(np.float32)

    columns = [*categorical, *continuous, target]
    out: queue.Queue = queue.Queue(maxsize=max(1, prefetch))
    done = object()
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                out.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def pieces(f: Any) -> Iterator[tuple[dict[str, np.ndarray], np.ndarray]]:
        """Converted runs of rows (of at most ``batch_size``), in file or shuffled order."""
        if not shuffle:
            for batch in f.iter_batches(batch_size=batch_size, columns=columns):
                yield convert(batch)
            return
        rng = np.random.default_rng(seed)
        buf: tuple[dict[str, np.ndarray], np.ndarray] | None = None
        for i, group in enumerate(rng.permutation(f.num_row_groups)):
            size = f.metadata.row_group(int(group)).num_rows
            read = [
                convert(b)
                for b in f.iter_batches(batch_size=size, row_groups=[int(group)], columns=columns)
            ]
            if buf is not None:
                read.insert(0, buf)
            buf = _concat(read) if len(read) > 1 else read[0]
            del read
            if i + 1 < shuffle_buffer:  # still filling the buffer
                continue
            order = rng.permutation(len(buf[1]))
            for start in range(0, size, batch_size):
                yield _take(buf, order[start : min(start + batch_size, size)])
            buf = _take(buf, order[size:])
        if buf is not None and len(buf[1]):
            order = rng.permutation(len(buf[1]))
            for start in range(0, len(order), batch_size):
                yield _take(buf, order[start : start + batch_size])

    def exact_batches() -> Iterator[tuple[dict[str, np.ndarray], np.ndarray]]:
        # pyarrow's batches stop at row-group ends; regroup them into full batch_size batches.
        pending: list[tuple[dict[str, np.ndarray], np.ndarray]] = []
        count = 0
        # pre_buffer=False: with pyarrow's default read-ahead, the buffers it fetched stay allocated
        # until the file is closed (measured: memory grows by the file's size over the pass).
        with pq.ParquetFile(path, pre_buffer=False) as f:
            for piece in pieces(f):
                pending.append(piece)
                count += len(piece[1])
                while count >= batch_size:
                    x, y = _concat(pending) if len(pending) > 1 else pending[0]
                    yield {k: v[:batch_size] for k, v in x.items()}, y[:batch_size]
                    count -= batch_size
                    pending = [({k: v[batch_size:] for k, v in x.items()}, y[batch_size:])]
        if count:
            yield _concat(pending)

    def produce() -> None:
        try:
            for item in exact_batches():
                if not put(item):
                    return
        except BaseException as exc:  # handed to the consumer
            put(exc)
            return
        put(done)

    thread = threading.Thread(target=produce, name="parquet-reader", daemon=True)
    thread.start()
    try:
        while True:
            item = out.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=5)


def _concat(
    parts: list[tuple[dict[str, np.ndarray], np.ndarray]],
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    x = {k: np.concatenate([p[0][k] for p in parts]) for k in parts[0][0]}
    return x, np.concatenate([p[1] for p in parts])


def _take(
    part: tuple[dict[str, np.ndarray], np.ndarray], rows: np.ndarray
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    return {k: v[rows] for k, v in part[0].items()}, part[1][rows]
