"""First training in a fresh process with a cold vs a warm persistent JAX compilation cache.

Run: `.venv/bin/python benchmarks/bench_compile_cache.py [--repeats 2] [--epochs 30]`.

Each repeat makes an empty cache folder and starts two processes one after the other, each training
the keras-rs tutorial DLRM on MovieLens 100K (batch 8192) and predicting the test rows, with the
cache settings the CLI and dashboard use (``recsys_core.compile_cache``). The first process compiles
and writes the cache; the second loads it. Printed: medians of the first epoch (compile included),
the whole fit, prediction, the process from start to finish, and JAX's own cache hit/miss counts.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import json, sys, time
t_start = float(sys.argv[1])
from recsys_core.compile_cache import enable_compilation_cache
import jax
events = {}
jax.monitoring.register_event_listener(
    lambda name, **kw: events.__setitem__(name, events.get(name, 0) + 1)
)
enable_compilation_cache(sys.argv[2])
import keras
from recsys_core.data import load_movielens_100k, split_table
from recsys_core.features import Preprocessor, movielens_spec
from recsys_core.models import build_model
from recsys_core.training import TrainConfig, Trainer

train, test = split_table(load_movielens_100k())
pre = Preprocessor(movielens_spec("tutorial")).fit(train)
x, y = pre.transform(train), pre.target(train)
keras.utils.set_random_seed(0)
sys.path.insert(0, "benchmarks")
from bench_train_dlrm import HPARAMS
model = build_model("dlrm", pre, HPARAMS)
t_ready = time.time()
config = TrainConfig(epochs=int(sys.argv[3]), batch_size=8192, learning_rate=1e-4,
                     weight_decay=0.004, clipnorm=None, schedule="constant", patience=0)
trainer = Trainer(model, "regression", config)
t0 = time.perf_counter()
history = trainer.fit(x, y)
fit = time.perf_counter() - t0
t0 = time.perf_counter()
trainer.predict(pre.transform(test))
predict = time.perf_counter() - t0
print(json.dumps({
    "startup": t_ready - t_start,
    "first_epoch": history.compile_seconds,
    "fit": fit,
    "predict": predict,
    "process": time.time() - t_start,
    "hits": events.get("/jax/compilation_cache/cache_hits", 0),
    "misses": events.get("/jax/compilation_cache/cache_misses", 0),
}))
"""


def child(cache: Path, epochs: int) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(time.time()), str(cache), str(epochs)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(repeats: int = 2, epochs: int = 30) -> dict:
    sys.path.insert(0, str(Path(__file__).parent))
    from machine import describe_machine

    print(describe_machine())
    runs: dict[str, list[dict]] = {"cold": [], "warm": []}
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            cache = Path(tmp) / "jax"
            runs["cold"].append(child(cache, epochs))
            size = sum(p.stat().st_size for p in cache.iterdir())
            files = len(list(cache.iterdir()))
            runs["warm"].append(child(cache, epochs))
    print(
        f"DLRM (keras-rs tutorial) on MovieLens 100K, {epochs} epochs, batch 8192; a fresh process "
        f"each; median of {repeats}; cache after the cold run: {files} entries, {size / 1e6:.1f} MB"
    )
    keys = ("startup", "first_epoch", "fit", "predict", "process")
    summary = {}
    for name, rs in runs.items():
        summary[name] = {k: statistics.median(r[k] for r in rs) for k in (*keys, "hits", "misses")}
        s = summary[name]
        print(
            f"  {name} cache: first epoch (compile incl.) {s['first_epoch']:.2f} s, "
            f"fit {s['fit']:.2f} s, predict {s['predict']:.2f} s, whole process {s['process']:.2f} s "
            f"(of which start-up and data {s['startup']:.2f} s); "
            f"cache hits {s['hits']:.0f}, misses {s['misses']:.0f}"
        )
    cold, warm = summary["cold"], summary["warm"]
    print(
        f"  saved by the warm cache: {cold['first_epoch'] - warm['first_epoch']:.2f} s on the first "
        f"epoch, {cold['fit'] + cold['predict'] - warm['fit'] - warm['predict']:.2f} s on fit + predict"
    )
    print(f"  load average now {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    return summary


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()
    main(args.repeats, args.epochs)
