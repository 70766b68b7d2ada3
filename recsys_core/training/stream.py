"""Training on batches streamed from disk, for tables that do not fit in memory.

``Trainer.fit`` keeps the whole table on the device and compiles one epoch; ``fit_stream`` instead
takes an iterator of ``(x, y)`` batches (e.g. ``recsys_core.data.criteo.iter_parquet_batches``) and
runs one jitted step per batch, with the same loss, optimizer and zero-weight padding of a short
last batch, so memory holds the model, its optimizer state and a few batches. Rows are used in the
order the iterator gives them (shuffle the file, not here).
"""

from __future__ import annotations

import math
import resource
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import keras
import numpy as np

from recsys_core import _backend  # noqa: F401
from recsys_core.errors import TrainingError
from recsys_core.training.engine import Arrays, TrainConfig, Trainer, _loss_fn


@dataclass
class StreamResult:
    rows: int = 0
    steps: int = 0
    seconds: float = 0.0
    first_step_seconds: float = 0.0  # compile included
    losses: list[float] = field(default_factory=list)  # mean training loss of each step
    rss_first_step_mb: float = 0.0  # resident memory once the first step ran (model, state, code)
    rss_max_mb: float = 0.0  # the most resident memory seen after any later step
    peak_rss_mb: float = 0.0  # the process's peak resident memory at the end (compiling included)

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def rss_mb() -> float:
    """The process's resident set size now, in MB (Linux; elsewhere the peak so far)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize() / 2**20
    except OSError:
        return peak_rss_mb()


def peak_rss_mb() -> float:
    """The process's peak resident set size so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def fit_stream(
    model: keras.Model,
    task: str,
    batches: Iterable[tuple[Arrays, np.ndarray]],
    config: TrainConfig,
    total_rows: int | None = None,
    on_step: Callable[[int, int], None] | None = None,
) -> StreamResult:
    """One pass over ``batches`` (each at most ``config.batch_size`` rows), updating ``model``.

    ``total_rows`` sizes the cosine schedule (required with ``schedule="cosine"``). ``on_step(step,
    rows_so_far)`` is called after each batch is dispatched.
    """
    c, batch = config, config.batch_size
    if c.schedule == "cosine" and total_rows is None:
        raise TrainingError("a cosine schedule needs total_rows to know the number of steps.")
    steps = math.ceil((total_rows or batch) / batch)
    trainer = Trainer(model, task, config)
    optimizer = trainer._optimizer(steps)
    optimizer.build(model.trainable_variables)
    state = (
        [v.value for v in model.trainable_variables],
        [v.value for v in model.non_trainable_variables],
        [v.value for v in optimizer.variables],
    )
    loss_of = _loss_fn(task)

    def batch_loss(tv, ntv, xb, yb, wb):
        out, ntv, losses = model.stateless_call(tv, ntv, xb, training=True, return_losses=True)
        loss = jnp.sum(loss_of(yb, out[:, 0]) * wb) / jnp.maximum(jnp.sum(wb), 1.0)
        return loss + sum(losses, jnp.zeros(())), (loss, ntv)

    grad_fn = jax.value_and_grad(batch_loss, has_aux=True)

    def step(state, xb, yb, wb):
        tv, ntv, ov = state
        (_, (loss, ntv)), grads = grad_fn(tv, ntv, xb, yb, wb)
        tv, ov = optimizer.stateless_apply(ov, grads, tv)
        return (tv, ntv, ov), loss

    step_fn = jax.jit(step, donate_argnums=(0,))
    result, losses = StreamResult(), []
    start = time.perf_counter()
    for x, y in batches:
        m = len(y)
        if m == 0:
            continue
        if m > batch:
            raise TrainingError(f"a streamed batch has {m} rows, more than batch_size={batch}.")
        w = np.ones(batch, np.float32)
        if m < batch:  # pad to the compiled shape with zero-weight copies of the first row
            x = {k: np.concatenate([v, np.repeat(v[:1], batch - m, axis=0)]) for k, v in x.items()}
            y = np.concatenate([y, np.repeat(y[:1], batch - m)])
            w[m:] = 0.0
        state, loss = step_fn(state, x, np.asarray(y, np.float32), w)
        losses.append(loss)
        if len(losses) > 2:  # at most two steps in flight, so queued batches cannot pile up
            losses[-3].block_until_ready()
        result.rows += m
        result.steps += 1
        if result.steps == 1:
            loss.block_until_ready()
            result.first_step_seconds = time.perf_counter() - start
            result.rss_first_step_mb = rss_mb()
        result.rss_max_mb = max(result.rss_max_mb, rss_mb())
        if on_step is not None:
            on_step(result.steps, result.rows)
    if result.steps == 0:
        raise TrainingError("the stream had no rows.")
    result.losses = [float(v) for v in jax.device_get(losses)]
    result.seconds = time.perf_counter() - start
    if not all(math.isfinite(v) for v in result.losses):
        raise TrainingError("training diverged: the loss became NaN or infinite.")
    for var, value in zip(model.trainable_variables, state[0], strict=True):
        var.assign(value)
    for var, value in zip(model.non_trainable_variables, state[1], strict=True):
        var.assign(value)
    result.peak_rss_mb = peak_rss_mb()
    return result
