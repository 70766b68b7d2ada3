"""Training on batches streamed from disk, for tables that do not fit in memory.

``Trainer.fit`` keeps the whole table on the device and compiles one epoch; ``fit_stream`` instead
takes an iterator of ``(x, y)`` batches (e.g. ``recsys_core.data.criteo.iter_parquet_batches``) and
runs them through a jitted loop a few batches per call, with the same loss, optimizer and
zero-weight padding of a short last batch, so memory holds the model, its optimizer state and a few
batches. Rows are used in the order the iterator gives them (``iter_parquet_batches(...,
shuffle=True)`` shuffles a file through a bounded buffer).
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
from recsys_core.training.engine import Arrays, TrainConfig, Trainer, _grad_fn


@dataclass
class StreamResult:
    rows: int = 0
    steps: int = 0
    seconds: float = 0.0
    # the first compiled call (up to ``steps_per_call`` steps), compilation included
    first_call_seconds: float = 0.0
    first_call_rows: int = 0
    losses: list[float] = field(default_factory=list)  # mean training loss of each step
    rss_first_call_mb: float = 0.0  # resident memory once the first call ran (model, state, code)
    rss_max_mb: float = 0.0  # the most resident memory seen after any later call
    peak_rss_mb: float = 0.0  # the process's peak resident memory at the end (compiling included)

    @property
    def rows_per_second(self) -> float:
        """Over the whole pass, the first (compiling) call included."""
        return self.rows / self.seconds if self.seconds else 0.0

    @property
    def rows_per_second_after_first(self) -> float:
        """Over the calls after the first, so without compilation (0.0 with a single call)."""
        seconds, rows = self.seconds - self.first_call_seconds, self.rows - self.first_call_rows
        return rows / seconds if rows > 0 and seconds > 0 else 0.0


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
    steps_per_call: int = 8,
) -> StreamResult:
    """One pass over ``batches`` (each at most ``config.batch_size`` rows), updating ``model``.

    ``total_rows`` sizes the cosine schedule (required with ``schedule="cosine"``). ``on_step(step,
    rows_so_far)`` is called after each batch is dispatched.

    Up to ``steps_per_call`` batches go to the device together and one compiled loop runs their
    steps in order (a shorter group at the end runs fewer iterations of the same code). XLA:CPU
    allocates a computation's scratch memory, here the dense embedding gradients, afresh at each
    call and the kernel zero-fills those pages on first touch: with one step per call that was 40 %
    of a Criteo-shaped DLRM's CPU time (8 page faults per row); with 8 it is a few percent.
    """
    c, batch, k = config, config.batch_size, int(steps_per_call)
    if k < 1:
        raise TrainingError(f"steps_per_call must be >= 1, got {steps_per_call}.")
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
    grad_fn = _grad_fn(model, task)

    def group(state, xs, ys, ws, n):  # xs, ys, ws: k stacked batches, of which the first n are real
        def step(i, carry):
            (tv, ntv, ov), losses = carry
            xb, yb, wb = jax.tree_util.tree_map(
                lambda a: jax.lax.dynamic_index_in_dim(a, i, keepdims=False), (xs, ys, ws)
            )
            (_, (loss, ntv)), grads = grad_fn(tv, ntv, xb, yb, wb)
            tv, ov = optimizer.stateless_apply(ov, grads, tv)
            return (tv, ntv, ov), losses.at[i].set(loss)

        return jax.lax.fori_loop(0, n, step, (state, jnp.zeros((k,), jnp.float32)))

    group_fn = jax.jit(group, donate_argnums=(0,))
    result, losses = StreamResult(), []  # losses: (losses of a call, its number of steps)
    pending: list[tuple[Arrays, np.ndarray, np.ndarray]] = []
    start = time.perf_counter()

    def dispatch() -> None:
        nonlocal state
        n = len(pending)
        full = pending + [pending[0]] * (k - n)  # filler batches the loop never reaches
        xs = {key: np.stack([p[0][key] for p in full]) for key in full[0][0]}
        ys, ws = np.stack([p[1] for p in full]), np.stack([p[2] for p in full])
        state, call_losses = group_fn(state, xs, ys, ws, np.int32(n))
        losses.append((call_losses, n))
        if len(losses) > 2:  # at most two calls in flight, so queued batches cannot pile up
            losses[-3][0].block_until_ready()
        rows = result.rows
        for _, _, w in pending:
            rows += int(np.count_nonzero(w))
            result.steps += 1
            if on_step is not None:
                on_step(result.steps, rows)
        if len(losses) == 1:
            call_losses.block_until_ready()
            result.first_call_seconds = time.perf_counter() - start
            result.first_call_rows = rows
            result.rss_first_call_mb = rss_mb()
        result.rows = rows
        result.rss_max_mb = max(result.rss_max_mb, rss_mb())
        pending.clear()

    for x, y in batches:
        m = len(y)
        if m == 0:
            continue
        if m > batch:
            raise TrainingError(f"a streamed batch has {m} rows, more than batch_size={batch}.")
        w = np.ones(batch, np.float32)
        if m < batch:  # pad to the compiled shape with zero-weight copies of the first row
            x = {
                key: np.concatenate([v, np.repeat(v[:1], batch - m, axis=0)])
                for key, v in x.items()
            }
            y = np.concatenate([y, np.repeat(y[:1], batch - m)])
            w[m:] = 0.0
        pending.append((x, np.asarray(y, np.float32), w))
        if len(pending) == k:
            dispatch()
    if pending:
        dispatch()
    if result.steps == 0:
        raise TrainingError("the stream had no rows.")
    result.losses = [float(v) for a, n in jax.device_get(losses) for v in a[:n]]
    result.seconds = time.perf_counter() - start
    if not all(math.isfinite(v) for v in result.losses):
        raise TrainingError("training diverged: the loss became NaN or infinite.")
    for var, value in zip(model.trainable_variables, state[0], strict=True):
        var.assign(value)
    for var, value in zip(model.non_trainable_variables, state[1], strict=True):
        var.assign(value)
    # ru_maxrss can trail the resident size read from /proc by a few pages, so take both
    result.peak_rss_mb = max(peak_rss_mb(), result.rss_max_mb)
    return result
