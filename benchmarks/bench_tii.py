"""Time the total interaction index (``recsys_core.analysis.tii``) of a DLRM with 11 fields.

The table is the planted CTR table (``recsys_core.data.planted``) cut to 10 categorical fields plus
a 5-column continuous block, i.e. 11 interaction fields (the MovieLens default DLRM run has 7): 67
substituted inputs per row (1 + 11 + 55). A default-size DLRM is trained for one epoch (the timing
does not depend on the weights), then TII with a 200-resample bootstrap is computed over 2,000
held-out rows: one warm-up call (compilation), then the median of 3 timed calls. Prints the machine.

    .venv/bin/python benchmarks/bench_tii.py [--rows 2000] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

from recsys_core import _backend  # noqa: F401

# isort: split
import jax
from machine import cpu_model

from recsys_core.analysis.tii import total_interaction_index
from recsys_core.data.planted import CTR_FIELDS, CTR_PAIRS, planted_table
from recsys_core.training.engine import TrainConfig
from recsys_core.training.pipeline import RunConfig, train_run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000, help="held-out rows to average over")
    parser.add_argument("--runs", type=int, default=3, help="timed runs after the warm-up")
    args = parser.parse_args()

    fields = CTR_FIELDS[:10]
    names = {f[0] for f in fields}
    pairs = [p for p in CTR_PAIRS if p[0] in names and p[1] in names]
    n_rows = int(args.rows / 0.2) + 100  # the run keeps up to 2,000 rows of its 20% test split
    table, spec, _ = planted_table(
        "ctr", n_rows=n_rows, seed=0, task="binary", fields=fields, pairs=pairs, n_continuous=5
    )
    run = train_run(
        RunConfig(model="dlrm", task="binary", train=TrainConfig(epochs=1, batch_size=1024)),
        table=table,
        spec=spec,
    )
    rows = run.holdout.iloc[: args.rows]
    model, pre = run.model, run.preprocessor
    print(f"machine: {platform.machine()}, {cpu_model()}, {os.cpu_count()} cores visible")
    print(f"jax {jax.__version__} on {jax.devices()}")
    print(f"model: DLRM, {run.params:,} parameters, {len(model.field_names)} fields:")
    print("  " + ", ".join(model.field_names))
    t0 = time.perf_counter()
    m = total_interaction_index(model, pre, rows, n_rows=args.rows)
    print(f"warm-up (compiles): {time.perf_counter() - t0:.2f} s")
    times = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        total_interaction_index(model, pre, rows, n_rows=args.rows)
        times.append(time.perf_counter() - t0)
    n_masks = 1 + len(m.fields) + len(m.fields) * (len(m.fields) - 1) // 2
    print(
        f"TII over {m.n_rows:,} rows x {n_masks} substitutions, 200 bootstrap resamples: "
        f"median {statistics.median(times):.2f} s of {args.runs} runs "
        f"({', '.join(f'{t:.2f}' for t in times)})"
    )


if __name__ == "__main__":
    main()
