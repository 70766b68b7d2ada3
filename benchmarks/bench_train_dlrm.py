"""Training throughput of DLRM on MovieLens 100K with the recsys-core engine.

Run: `make bench` (or `.venv/bin/python benchmarks/bench_train_dlrm.py`). Prints the machine, then
median rows/s and seconds over several runs of the keras-rs tutorial settings (batch 8192, 30 epochs).
"""

from __future__ import annotations

import os
import platform
import statistics
import time

from recsys_core import _backend  # noqa: F401  (JAX backend before keras)

# isort: split

import jax
import keras

from recsys_core.data import load_movielens_100k, split_table
from recsys_core.features import Preprocessor, movielens_spec
from recsys_core.models import build_model
from recsys_core.training import TrainConfig, Trainer


def main(repeats: int = 3) -> None:
    df = load_movielens_100k()
    train, test = split_table(df)
    pre = Preprocessor(movielens_spec("tutorial")).fit(train)
    x, y = pre.transform(train), pre.target(train)
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, jax {jax.__version__} on {jax.devices()[0].platform}"
    )
    rates, totals, compiles = [], [], []
    for r in range(repeats):
        keras.utils.set_random_seed(r)
        model = build_model("dlrm", pre, {"variant": "tutorial", "embedding_l2": 0.0})
        config = TrainConfig(
            epochs=30,
            batch_size=8192,
            learning_rate=1e-4,
            weight_decay=0.004,
            schedule="constant",
            patience=0,
        )
        start = time.perf_counter()
        history = Trainer(model, "regression", config).fit(x, y)
        total = time.perf_counter() - start
        steady = sum(e["seconds"] for e in history.epochs[1:])
        rates.append(len(y) * (len(history.epochs) - 1) / steady)
        totals.append(total)
        compiles.append(history.compile_seconds)
    print(
        f"DLRM (tutorial), {len(y):,} rows/epoch, batch 8192, 30 epochs, {model.count_params():,} params"
    )
    print(f"  throughput (median of {repeats}): {statistics.median(rates):,.0f} rows/s")
    print(
        f"  whole 30-epoch run incl. compile: {statistics.median(totals):.2f} s (first epoch {statistics.median(compiles):.2f} s)"
    )


if __name__ == "__main__":
    main()
