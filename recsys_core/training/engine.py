"""A JAX training engine for Keras models: one jitted ``lax.scan`` per epoch, data kept on device.

Each epoch takes its order of the rows (``jax.random.permutation``'s, computed on the host while the
previous epoch runs), scans over fixed-size batches gathered on device (the last one padded with
zero-weight rows so shapes never change and XLA compiles once), and applies Keras' optimizer
statelessly.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import jax
import jax.numpy as jnp
import keras
import numpy as np

from recsys_core import _backend  # noqa: F401
from recsys_core.errors import TrainingError
from recsys_core.limits import SEED_MAX
from recsys_core.models.pure import apply_in_chunks, model_params, score_fn
from recsys_core.training import distribute
from recsys_core.training.metrics import PRIMARY_METRIC, task_metrics

Arrays = dict[str, np.ndarray]


class TrainingCancelled(TrainingError):
    """Raised when the caller's cancel flag is set; the model keeps its last completed epoch."""


class CancelFlag(Protocol):
    def is_set(self) -> bool: ...


@dataclass
class TrainConfig:
    """Optimisation settings. ``patience=0`` disables early stopping on the validation part.

    The default learning rate, 5e-3 (cosine-decayed to 5 % over the epochs), is the best of 2e-3,
    5e-3 and 1e-2 for most of the zoo on MovieLens 100K (docs/leaderboard-regression.md).
    """

    epochs: int = 20
    batch_size: int = 1024
    learning_rate: float = 5e-3
    weight_decay: float = 1e-4
    clipnorm: float | None = 1.0
    schedule: str = "cosine"
    patience: int = 3
    seed: int = 42
    # None: one device; "data" / "model": keras.distribution over all local devices (distribute.py)
    distribution: str | None = None

    def __post_init__(self) -> None:
        checks = [
            (self.epochs >= 1, f"epochs must be >= 1, got {self.epochs}"),
            (self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}"),
            (
                0 < self.learning_rate < 10,
                f"learning_rate must be in (0, 10), got {self.learning_rate}",
            ),
            (self.weight_decay >= 0, f"weight_decay must be >= 0, got {self.weight_decay}"),
            (self.patience >= 0, f"patience must be >= 0, got {self.patience}"),
            # NumPy and Keras take unsigned 32-bit seeds; another value fails deep in training
            (
                0 <= self.seed <= SEED_MAX,
                f"seed must be in 0..{SEED_MAX} (2^32-1), got {self.seed}",
            ),
            (
                self.schedule in ("constant", "cosine"),
                f"schedule must be constant or cosine, got {self.schedule!r}",
            ),
            (
                self.distribution in distribute.KINDS,
                f"distribution must be data, model or None, got {self.distribution!r}",
            ),
        ]
        for ok, msg in checks:
            if not ok:
                raise TrainingError(msg + ".")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class EpochLog:
    epoch: int
    epochs: int
    train_loss: float
    val: dict[str, float]
    seconds: float
    elapsed: float
    # "fit" (early-stopped on validation) or "refit" (all training rows, the best epoch count)
    phase: str = "fit"

    @property
    def eta(self) -> float:
        """Seconds left if the remaining epochs take as long as the average so far."""
        return self.elapsed / self.epoch * (self.epochs - self.epoch)


@dataclass
class History:
    epochs: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int = 0
    stopped_early: bool = False
    seconds: float = 0.0
    compile_seconds: float = 0.0
    # epochs of the refit on all training rows (0: the early-stopped model was kept)
    refit_epochs: int = 0
    # the refit's own per-epoch rows (training loss only: it has no validation part), saved with
    # the run so its page can draw the refit beside the early-stopped fit
    refit_history: list[dict[str, Any]] = field(default_factory=list)


@functools.lru_cache(maxsize=16)
def _shuffle_bits_fn(n: int, rounds: int) -> Callable:
    def bits(key: Any) -> Any:
        out = []
        for _ in range(rounds):  # as jax.random.permutation's _shuffle draws them
            key, sub = jax.random.split(key)
            out.append(jax.random.bits(sub, (n,), jnp.uint32))
        return jnp.stack(out) if out else jnp.zeros((0, n), jnp.uint32)

    return jax.jit(bits)


def shuffle_order(key: Any, n: int) -> np.ndarray:
    """``jax.random.permutation(key, n)``, bit for bit, with its sorts done by NumPy on the host.

    JAX draws ``rounds`` sets of random 32-bit keys and stable-sorts by each in turn. XLA:CPU runs
    those sorts on one thread (~20 ms each for 80,000 rows, while the other cores wait, about a
    tenth of a DLRM epoch); NumPy's stable argsort gives the same order several times faster.
    """
    return _order_from_bits(_shuffle_bits(key, n))


def _shuffle_bits(key: Any, n: int) -> Any:
    """The random sort keys of ``jax.random.permutation(key, n)``: a ``(rounds, n)`` device array."""
    rounds = int(np.ceil(3 * np.log(max(1, n)) / np.log(np.iinfo(np.uint32).max)))
    return _shuffle_bits_fn(n, rounds)(key)


def _order_from_bits(bits: Any) -> np.ndarray:
    bits = np.asarray(bits)
    order = np.arange(bits.shape[1], dtype=np.int32)
    for r in range(bits.shape[0]):
        order = order[np.argsort(bits[r], kind="stable")]
    return order


def _loss_fn(task: str) -> Callable[[Any, Any], Any]:
    if task == "binary":
        return lambda y, z: jnp.maximum(z, 0) - z * y + jnp.log1p(jnp.exp(-jnp.abs(z)))
    return lambda y, z: (z - y) ** 2


def _grad_fn(model: keras.Model, task: str) -> Callable:
    """``(tv, ntv, xb, yb, wb) -> ((total, (loss, ntv)), grads)``: the row-weighted task loss of one
    batch (zero-weight rows are padding) plus the model's own penalties, and its gradient."""
    loss_of = _loss_fn(task)

    def batch_loss(tv, ntv, xb, yb, wb):
        out, ntv, losses = model.stateless_call(tv, ntv, xb, training=True, return_losses=True)
        per_row = loss_of(yb, out[:, 0])
        loss = jnp.sum(per_row * wb) / jnp.maximum(jnp.sum(wb), 1.0)
        return loss + sum(losses, jnp.zeros(())), (loss, ntv)

    return jax.value_and_grad(batch_loss, has_aux=True)


class Trainer:
    """Train and evaluate one Keras model on dict-of-array inputs (see ``Preprocessor.transform``)."""

    def __init__(
        self,
        model: keras.Model,
        task: str,
        config: TrainConfig | None = None,
        distribution: keras.distribution.Distribution | None = None,
    ) -> None:
        """``distribution``, a ``keras.distribution`` object, overrides ``config.distribution``."""
        self.model = model
        self.task = task
        self.config = config or TrainConfig()
        self.distribution = distribution
        self._predict_fn = None

    # -- training ---------------------------------------------------------------------------
    def _optimizer(self, steps: int) -> keras.optimizers.Optimizer:
        c = self.config
        lr: Any = c.learning_rate
        if c.schedule == "cosine":
            lr = keras.optimizers.schedules.CosineDecay(
                c.learning_rate, decay_steps=max(steps, 1), alpha=0.05
            )
        return keras.optimizers.AdamW(
            learning_rate=lr, weight_decay=c.weight_decay, clipnorm=c.clipnorm
        )

    def _epoch_fn(
        self,
        optimizer: keras.optimizers.Optimizer,
        n: int,
        batch: int | None = None,
        dist: keras.distribution.Distribution | None = None,
        shardings: tuple | None = None,
    ) -> Callable:
        model, batch = self.model, batch or min(self.config.batch_size, n)
        n_batches = math.ceil(n / batch)
        pad = n_batches * batch - n
        grad_fn = _grad_fn(model, self.task)

        def epoch(state, x, y, perm):  # perm: this epoch's order of the rows (shuffle_order)
            idx = jnp.concatenate([perm, jnp.zeros((pad,), perm.dtype)]).reshape(n_batches, batch)
            weight = jnp.concatenate([jnp.ones((n,)), jnp.zeros((pad,))]).reshape(n_batches, batch)

            def step(carry, b):
                tv, ntv, ov = carry
                rows, wb = b
                xb, yb = jax.tree_util.tree_map(lambda a: a[rows], (x, y))
                if dist is not None:  # each device computes its slice of the batch
                    xb, yb, wb = jax.lax.with_sharding_constraint(
                        (xb, yb, wb), distribute.batch_sharding(dist)
                    )
                (_, (loss, ntv)), grads = grad_fn(tv, ntv, xb, yb, wb)
                tv, ov = optimizer.stateless_apply(ov, grads, tv)
                return (tv, ntv, ov), loss * jnp.sum(wb)

            state, losses = jax.lax.scan(step, state, (idx, weight))
            return state, jnp.sum(losses) / n

        if dist is None:
            return jax.jit(epoch, donate_argnums=(0,))
        out = (shardings, distribute.replicated(dist))  # the state keeps its layout across epochs
        return jax.jit(epoch, donate_argnums=(0,), out_shardings=out)

    def fit(
        self,
        x: Arrays,
        y: np.ndarray,
        x_val: Arrays | None = None,
        y_val: np.ndarray | None = None,
        on_epoch: Callable[[EpochLog], None] | None = None,
        cancel: CancelFlag | None = None,
        schedule_epochs: int | None = None,
    ) -> History:
        """Train for ``config.epochs`` epochs, early-stopping on the validation metric if given.

        The best epoch's weights (by validation metric) are restored at the end. A NaN or infinite
        loss stops training with ``TrainingError``; a set ``cancel`` flag with ``TrainingCancelled``.
        ``schedule_epochs`` (default ``config.epochs``) is the length the learning-rate schedule
        decays over, so a refit that stops at an earlier epoch follows the validated trajectory.
        """
        c, model = self.config, self.model
        n = len(y)
        if n == 0:
            raise TrainingError("there are no training rows.")
        dist = self.distribution
        if dist is None:
            dist = distribute.make_distribution(c.distribution, model)
        batch = min(c.batch_size, n)
        if dist is not None:
            batch = distribute.round_batch(dist, batch)
        steps = math.ceil(n / batch) * max(c.epochs, schedule_epochs or 0)
        optimizer = self._optimizer(steps)
        optimizer.build(model.trainable_variables)
        state = (
            [v.value for v in model.trainable_variables],
            [v.value for v in model.non_trainable_variables],
            [v.value for v in optimizer.variables],
        )
        x_host = {k: np.asarray(v) for k, v in x.items()}
        y_host = np.asarray(y, np.float32)
        shardings = None
        if dist is None:
            x_dev, y_dev = jax.device_put(x_host), jax.device_put(y_host)
        else:
            shardings = distribute.state_shardings(dist, model, optimizer)
            state = jax.device_put(state, shardings)
            x_dev, y_dev = jax.device_put((x_host, y_host), distribute.replicated(dist))
        epoch_fn = self._epoch_fn(optimizer, n, batch, dist, shardings)
        key, sub = jax.random.split(jax.random.PRNGKey(c.seed))
        order = shuffle_order(sub, n)
        metric, larger_better = PRIMARY_METRIC[self.task]
        history, best, best_state = History(), math.inf, None
        start = time.perf_counter()
        for e in range(1, c.epochs + 1):
            if cancel is not None and cancel.is_set():
                raise TrainingCancelled(f"training was cancelled before epoch {e}.")
            t0 = time.perf_counter()
            if e < c.epochs:  # the next epoch's sort keys, queued before this epoch
                key, sub = jax.random.split(key)
                next_bits = _shuffle_bits(sub, n)
            state, loss = epoch_fn(state, x_dev, y_dev, order)
            if e < c.epochs:  # sorted on the host while the device runs this epoch
                order = _order_from_bits(next_bits)
            loss = float(loss)
            if e == 1:
                history.compile_seconds = time.perf_counter() - t0
            if not math.isfinite(loss):
                raise TrainingError(
                    f"training diverged at epoch {e}: the loss became {loss}. "
                    f"Lower the learning rate (now {c.learning_rate}) or the batch size."
                )
            self._write_back(state)
            val = self.evaluate(x_val, y_val) if x_val is not None and y_val is not None else {}
            seconds = time.perf_counter() - t0
            row = {
                "epoch": e,
                "loss": loss,
                "seconds": seconds,
                **{f"val_{k}": v for k, v in val.items()},
            }
            history.epochs.append(row)
            if on_epoch is not None:
                on_epoch(EpochLog(e, c.epochs, loss, val, seconds, time.perf_counter() - start))
            if val:
                score = -val[metric] if larger_better else val[metric]
                if score < best:
                    best, history.best_epoch = score, e
                    best_state = jax.tree_util.tree_map(jnp.copy, state[:2])
                elif c.patience and e - history.best_epoch >= c.patience:
                    history.stopped_early = True
                    break
            else:
                history.best_epoch = e
        if best_state is not None:
            self._write_back((*best_state, None))
        history.seconds = time.perf_counter() - start
        return history

    def _write_back(self, state: tuple) -> None:
        for var, value in zip(self.model.trainable_variables, state[0], strict=True):
            var.assign(value)
        for var, value in zip(self.model.non_trainable_variables, state[1], strict=True):
            var.assign(value)

    # -- inference --------------------------------------------------------------------------
    def predict(self, x: Arrays, batch_size: int = 8192) -> np.ndarray:
        """Predicted rating (regression) or click probability (binary) for every row."""
        return predict(self.model, x, self.task, batch_size)

    def evaluate(self, x: Arrays, y: np.ndarray) -> dict[str, float]:
        return task_metrics(self.task, y, self.predict(x))


def predict_scores(model: keras.Model, x: Arrays, batch_size: int = 8192) -> np.ndarray:
    """Raw model outputs (rating or logit), computed in fixed-size jitted chunks."""
    if len(next(iter(x.values()))) == 0:
        return np.zeros((0,), np.float32)
    return apply_in_chunks(score_fn(model), model_params(model), x, batch_size)


def predict(model: keras.Model, x: Arrays, task: str, batch_size: int = 8192) -> np.ndarray:
    """Click probabilities (binary) or ratings clipped to the model's ``output_range``, if any."""
    scores = predict_scores(model, x, batch_size)
    if task == "binary":
        return 1.0 / (1.0 + np.exp(-scores))
    bounds = getattr(model, "output_range", None)
    return scores if bounds is None else np.clip(scores, bounds[0], bounds[1])
