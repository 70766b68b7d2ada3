"""One epoch of DLRM on a generated Criteo-shaped Parquet table, streamed in batches with pyarrow.

Run: `.venv/bin/python benchmarks/bench_criteo_stream.py [--rows 1000000] [--max-vocab 1000000]`.

Writes a table of 13 continuous and 26 categorical columns (vocabularies shaped like Criteo
Kaggle's, capped at ``--max-vocab``) and a click label to Parquet, then trains a DLRM for one epoch
reading it back in batches (``recsys_core.data.criteo.iter_parquet_batches`` +
``recsys_core.training.stream.fit_stream``). Prints write and training rates, the loss at the start
and end of the epoch next to the label's entropy (a model that predicts the click rate), and the
process's resident memory over the epoch next to the size the table would take in memory.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from pathlib import Path

from recsys_core import _backend  # noqa: F401  (JAX backend before keras)

# isort: split

import keras
import numpy as np
import pyarrow.parquet as pq

from recsys_core.data.criteo import (
    CATEGORICAL,
    CONTINUOUS,
    criteo_tables,
    iter_parquet_batches,
    write_criteo_like,
)
from recsys_core.models import DLRM
from recsys_core.training import TrainConfig
from recsys_core.training.stream import fit_stream, peak_rss_mb


def main(
    rows: int = 1_000_000,
    max_vocab: int = 1_000_000,
    batch: int = 8192,
    dim: int = 8,
    folder: str | None = None,
    quiet: bool = False,
) -> dict:
    say = (lambda *a: None) if quiet else print
    sys.path.insert(0, str(Path(__file__).parent))
    from machine import describe_machine

    say(describe_machine())
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        path = Path(tmp) / "criteo_like.parquet"
        t0 = time.perf_counter()
        write_criteo_like(path, rows, max_vocab=max_vocab, row_group=min(65_536, rows))
        write_s = time.perf_counter() - t0
        meta = pq.ParquetFile(path).metadata
        file_mb = path.stat().st_size / 1e6
        in_memory_mb = rows * (4 * len(CONTINUOUS) + 4 * len(CATEGORICAL) + 4) / 1e6
        click_rate = float(
            np.mean(pq.read_table(path, columns=["label"]).column(0).to_numpy(zero_copy_only=False))
        )
        tables = criteo_tables(max_vocab)
        say(
            f"table: {rows:,} rows x (13 continuous + 26 categorical + label), vocabularies up to "
            f"{max(t['vocab_size'] for t in tables):,} ({sum(t['vocab_size'] for t in tables):,} ids "
            f"in all); Parquet {file_mb:.0f} MB in {meta.num_row_groups} row groups, written in "
            f"{write_s:.1f} s ({rows / write_s:,.0f} rows/s); in memory it would be {in_memory_mb:.0f} MB"
        )
        keras.utils.set_random_seed(0)
        model = DLRM(
            tables=tables,
            continuous=list(CONTINUOUS),
            embedding_dim=dim,
            bottom_mlp=[64, 32],
            top_mlp=[128, 64],
            variant="canonical",
            output_bias=math.log(click_rate / (1 - click_rate)),
        )
        model.build()
        config = TrainConfig(
            epochs=1,
            batch_size=batch,
            learning_rate=1e-3,
            weight_decay=0.0,
            clipnorm=None,
            schedule="constant",
            patience=0,
        )
        rss_before = peak_rss_mb()
        batches = iter_parquet_batches(path, batch)
        result = fit_stream(model, "binary", batches, config, total_rows=rows)
    entropy = -(click_rate * math.log(click_rate) + (1 - click_rate) * math.log(1 - click_rate))
    k = max(1, min(20, result.steps // 5))
    first, last = float(np.mean(result.losses[:k])), float(np.mean(result.losses[-k:]))
    say(
        f"DLRM, embedding width {dim}, {model.count_params():,} parameters "
        f"({model.count_params() * 4 / 1e6:.0f} MB, x3 with AdamW's moments); batch {batch}"
    )
    say(
        f"  one epoch: {result.rows:,} rows in {result.steps} steps, {result.seconds:.1f} s "
        f"({result.rows_per_second:,.0f} rows/s; first step incl. compile {result.first_step_seconds:.1f} s)"
    )
    say(
        f"  log loss: first {k} steps {first:.4f}, last {k} steps {last:.4f} "
        f"(click rate {click_rate:.3f}, its entropy {entropy:.4f})"
    )
    growth = result.rss_max_mb - result.rss_first_step_mb
    say(
        f"  resident memory: {result.rss_first_step_mb:.0f} MB after the first step (model, AdamW "
        f"state, compiled step), at most {result.rss_max_mb:.0f} MB during the epoch "
        f"({growth:+.0f} MB); peak {result.peak_rss_mb:.0f} MB including compilation "
        f"({rss_before:.0f} MB before); the table in memory: {in_memory_mb:.0f} MB"
    )
    say(f"  load average now {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    return {
        "rows": result.rows,
        "steps": result.steps,
        "seconds": result.seconds,
        "first_loss": first,
        "last_loss": last,
        "entropy": entropy,
        "rss_before_mb": rss_before,
        "rss_first_step_mb": result.rss_first_step_mb,
        "rss_max_mb": result.rss_max_mb,
        "peak_rss_mb": result.peak_rss_mb,
        "in_memory_mb": in_memory_mb,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--max-vocab", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=8192)
    parser.add_argument("--dim", type=int, default=8)
    parser.add_argument("--dir", default=None, help="where to write the temporary Parquet file")
    args = parser.parse_args()
    main(args.rows, args.max_vocab, args.batch, args.dim, args.dir)
