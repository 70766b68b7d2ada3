"""Training throughput of the keras-rs tutorial DLRM on MovieLens 100K: our engine vs ``model.fit``.

Run: `make bench` (or `.venv/bin/python benchmarks/bench_train_dlrm.py [--repeats 5] [--epochs 30]
[--breakdown]`).

Both sides train the same architecture (5 embedding tables of width 8, a bottom MLP 5→8→8, the
keras-rs dot interaction, a top MLP 15→192→192→192→1; the parameter counts are checked equal) on
the same arrays with the tutorial's settings: batch 8192, AdamW(lr 1e-4, weight decay 0.004), MSE,
30 epochs, JAX backend. The reference is the tutorial's way: a Keras functional model with
``keras_rs.layers.DotInteraction``, ``compile`` and ``model.fit``. Ours is ``Trainer.fit`` (one
jitted ``lax.scan`` per epoch). Runs alternate (ours, reference, ours, ...) so that a machine shared
with other jobs slows both alike; the script prints medians, their ratio, the load average, and the
achieved FLOP rate of training next to a measured float32 matmul rate.
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import time

from recsys_core import _backend  # noqa: F401  (JAX backend before keras)

# isort: split

import jax
import keras
import keras_rs
import numpy as np
from machine import describe_machine, matmul_gflops

from recsys_core.data import load_movielens_100k, split_table
from recsys_core.features import Preprocessor, movielens_spec
from recsys_core.models import build_model
from recsys_core.models.registry import resolve_hparams
from recsys_core.training import TrainConfig, Trainer
from recsys_core.training.metrics import rmse

BATCH, LR, WEIGHT_DECAY, DIM, TOP = 8192, 1e-4, 0.004, 8, (192, 192, 192)
# The tutorial's architecture in our zoo, every hyper-parameter pinned (the zoo's defaults add
# first-order terms, penalties and dropout, which the tutorial has not).
HPARAMS = {
    "variant": "tutorial",
    "embedding_dim": DIM,
    "bottom_mlp": [DIM],
    "top_mlp": list(TOP),
    "linear": 0,
    "linear_l2": 0.0,
    "embedding_l2": 0.0,
    "embedding_batch_l2": 0.0,
    "dropout": 0.0,
}


def tutorial_model(pre: Preprocessor) -> keras.Model:
    """The keras-rs DLRM tutorial's model as a functional Keras model (keras-rs DotInteraction)."""
    tables = pre.tables()
    inputs = {t["name"]: keras.Input((), dtype="int32", name=t["name"]) for t in tables}
    inputs["continuous"] = keras.Input((len(pre.spec.continuous),), name="continuous")
    vectors = [keras.layers.Embedding(t["vocab_size"], DIM)(inputs[t["name"]]) for t in tables]
    hidden = keras.layers.Dense(DIM, activation="relu")(inputs["continuous"])
    vectors.append(keras.layers.Dense(DIM)(hidden))
    x = keras_rs.layers.DotInteraction()(vectors)
    for units in TOP:
        x = keras.layers.Dense(units, activation="relu")(x)
    bias = keras.initializers.Constant(pre.target_mean)  # as ours: start at the training mean
    out = keras.layers.Dense(1, bias_initializer=bias)(x)
    return keras.Model(inputs, out)


def train_flops_per_row(n_fields: int, n_continuous: int) -> float:
    """Multiply-add FLOPs of one training row: forward products, then twice that backward."""
    bottom = n_continuous * DIM + DIM * DIM
    gram = n_fields * n_fields * DIM
    widths = [n_fields * (n_fields - 1) // 2, *TOP, 1]
    top = sum(a * b for a, b in zip(widths[:-1], widths[1:], strict=True))
    return 3 * 2 * (bottom + gram + top)


class EpochTimer(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.seconds, self.losses = [], []

    def on_epoch_begin(self, epoch, logs=None):
        self._t0 = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._t0)
        self.losses.append(float(logs["loss"]))


def run_ours(pre, x, y, x_test, y_test, epochs, seed, tutorial=False):
    keras.utils.set_random_seed(seed)
    model = tutorial_model(pre) if tutorial else build_model("dlrm", pre, HPARAMS)
    unexpected = {k: v for k, v in resolve_hparams("dlrm", HPARAMS).items() if k not in HPARAMS}
    if unexpected:  # a new hyper-parameter of the zoo's DLRM: pin it above
        raise SystemExit(f"unpinned DLRM hyper-parameters: {unexpected}")
    config = TrainConfig(
        epochs=epochs,
        batch_size=BATCH,
        learning_rate=LR,
        weight_decay=WEIGHT_DECAY,
        clipnorm=None,  # the tutorial does not clip
        schedule="constant",
        patience=0,
        seed=seed,
    )
    trainer = Trainer(model, "regression", config)
    t0, c0 = time.perf_counter(), time.process_time()
    history = trainer.fit(x, y)
    total, cpu = time.perf_counter() - t0, time.process_time() - c0
    seconds = [e["seconds"] for e in history.epochs]
    test = rmse(y_test, trainer.predict(x_test))
    return model.count_params(), seconds, total, cpu, history.epochs[-1]["loss"], test


def run_reference(pre, x, y, x_test, y_test, epochs, seed, ours_model=False):
    keras.utils.set_random_seed(seed)
    model = build_model("dlrm", pre, HPARAMS) if ours_model else tutorial_model(pre)
    model.compile(
        optimizer=keras.optimizers.AdamW(learning_rate=LR, weight_decay=WEIGHT_DECAY),
        loss="mse",
    )
    timer = EpochTimer()
    t0, c0 = time.perf_counter(), time.process_time()
    model.fit(x, y, batch_size=BATCH, epochs=epochs, verbose=0, callbacks=[timer])
    total, cpu = time.perf_counter() - t0, time.process_time() - c0
    pred = model.predict(x_test, batch_size=BATCH, verbose=0)[:, 0]
    return model.count_params(), timer.seconds, total, cpu, timer.losses[-1], rmse(y_test, pred)


def main(repeats: int = 5, epochs: int = 30, breakdown: bool = False) -> dict:
    df = load_movielens_100k()
    train, test = split_table(df)
    pre = Preprocessor(movielens_spec("tutorial")).fit(train)
    x, y = pre.transform(train), pre.target(train).astype(np.float32)
    x_test, y_test = pre.transform(test), pre.target(test)
    n = len(y)
    print(describe_machine())
    print(f"keras {keras.__version__}, keras-rs {keras_rs.__version__}, jax {jax.__version__}")
    runners = {"ours (Trainer.fit)": run_ours, "reference (keras model.fit)": run_reference}
    if breakdown:  # which part of the difference is the loop, which the model's layers
        runners["  engine, tutorial model"] = functools.partial(run_ours, tutorial=True)
        runners["  model.fit, our model"] = functools.partial(run_reference, ours_model=True)
    results: dict[str, list] = {name: [] for name in runners}
    load_before = os.getloadavg()
    for r in range(repeats):
        for name, run in runners.items():
            results[name].append(run(pre, x, y, x_test, y_test, epochs, seed=r))
    load_after = os.getloadavg()
    params = {name: rs[0][0] for name, rs in results.items()}
    if len(set(params.values())) != 1:
        raise SystemExit(f"the two models differ: {params} parameters")
    flops_row = train_flops_per_row(len(pre.tables()) + 1, len(pre.spec.continuous))
    mm_model, mm_big = matmul_gflops((BATCH, TOP[0], TOP[0])), matmul_gflops((2048, 2048, 2048))
    print(
        f"DLRM (keras-rs tutorial), {n:,} rows/epoch, batch {BATCH}, {epochs} epochs, "
        f"{params[next(iter(params))]:,} params, {flops_row / 1e3:.0f} kFLOP per training row; "
        f"median of {repeats} alternating runs each"
    )
    summary = {}
    for name, rs in results.items():
        rates = [n * (len(s) - 1) / sum(s[1:]) for _, s, *_ in rs]
        rate = statistics.median(rates)
        total = statistics.median(r[2] for r in rs)
        summary[name] = {
            "rows_per_s": rate,
            "best_rows_per_s": max(rates),
            "time_to_trained_s": total,
            "first_epoch_s": statistics.median(r[1][0] for r in rs),
            "cpu_s": statistics.median(r[3] for r in rs),
            "train_loss": statistics.median(r[4] for r in rs),
            "test_rmse": statistics.median(r[5] for r in rs),
            "gflops": rate * flops_row / 1e9,
        }
        s = summary[name]
        print(
            f"  {name:28s} {rate:9,.0f} rows/s (best {max(rates):,.0f}; {s['gflops']:5.1f} GFLOP/s)  "
            f"{epochs} epochs in {total:5.2f} s (first epoch {s['first_epoch_s']:.2f} s, "
            f"{s['cpu_s']:.1f} CPU-s)  train MSE {s['train_loss']:.4f}  test RMSE {s['test_rmse']:.4f}"
        )
    ours, ref = list(summary.values())[:2]
    print(
        f"  ratio ours/reference: {ours['rows_per_s'] / ref['rows_per_s']:.2f}x rows/s "
        f"(best runs {ours['best_rows_per_s'] / ref['best_rows_per_s']:.2f}x), "
        f"{ref['time_to_trained_s'] / ours['time_to_trained_s']:.2f}x faster to trained"
    )
    print(
        f"  float32 matmul: {mm_model:.0f} GFLOP/s at {BATCH}x{TOP[0]}x{TOP[0]}, {mm_big:.0f} GFLOP/s "
        f"at 2048^3; training reaches {ours['gflops'] / mm_model:.0%} (ours) and "
        f"{ref['gflops'] / mm_model:.0%} (reference) of the first"
    )
    print(
        f"  load average before {load_before[0]:.2f}, after {load_after[0]:.2f} "
        f"(on {os.cpu_count()} cores; above ~0.5 other jobs share the machine)"
    )
    return summary


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="also train the tutorial model with our engine and our model with model.fit",
    )
    args = parser.parse_args()
    main(args.repeats, args.epochs, args.breakdown)
