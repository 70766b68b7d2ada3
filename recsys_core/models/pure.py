"""A Keras model's computations as pure functions of its variables, for ``jax.jit`` and ``vmap``.

Training, prediction and every analysis evaluate a model (or one of its methods, such as
``field_vectors`` or ``attention_maps``) inside jitted functions. Keras variables are state, so each
of them binds the model's variables to traced values first; this module is the one place that does
it, and the one place that runs such a function over many rows in fixed-size chunks.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import jax
import keras
import numpy as np

from recsys_core import _backend  # noqa: F401

Params = tuple[list[Any], list[Any]]

# One pure function per (model, method), so jax.jit's trace cache (keyed on the function) is reused
# by every later call; weak keys let a discarded model and its functions be collected.
_PURE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def model_params(model: keras.Model) -> Params:
    """``(trainable, non_trainable)`` variable values, the ``params`` the pure functions take."""
    return (
        [v.value for v in model.trainable_variables],
        [v.value for v in model.non_trainable_variables],
    )


def pure_method(model: keras.Model, method: Callable[[Any, Any], Any]) -> Callable:
    """``fn(params, x) = method(model, x)`` with the model's variables bound to ``params``.

    ``method`` (a module-level function, so it can key the cache) may call any layers of the model,
    not only ``call``, and return any pytree of arrays.
    """
    cache = _PURE.setdefault(model, {})
    if method in cache:
        return cache[method]
    ref = weakref.ref(model)

    def fn(params: Params, x: Any) -> Any:
        m = ref()
        variables = m.trainable_variables + m.non_trainable_variables
        values = list(params[0]) + list(params[1])
        with keras.StatelessScope(state_mapping=list(zip(variables, values, strict=True))):
            return method(m, x)

    cache[method] = fn
    return fn


def score_fn(model: keras.Model) -> Callable:
    """``fn(params, x) -> (batch,)`` raw scores (rating or logit), stateless so it traces under jit."""
    return pure_method(model, _score)


def _score(model: keras.Model, x: Any) -> Any:
    return model(x, training=False)[:, 0]


def apply_in_chunks(
    fn: Callable, params: Params, x: dict[str, np.ndarray], batch_size: int = 4096
) -> Any:
    """``fn(params, x)`` over all rows of ``x`` in jitted chunks, results concatenated on axis 0.

    Chunks have a power-of-two size and the last one is padded with copies of the first row, so
    XLA compiles ``fn`` once per chunk size rather than once per remainder. ``fn`` must return a
    pytree whose leaves have the rows on axis 0.
    """
    n = len(next(iter(x.values())))
    if n == 0:
        raise ValueError("no rows to evaluate.")
    batch = min(batch_size, 1 << max(n - 1, 1).bit_length())
    # jax.jit caches traces per function object: keep ``fn`` to reuse its compilation.
    jitted = jax.jit(fn)
    outputs = []
    for start in range(0, n, batch):
        chunk = {k: np.asarray(v[start : start + batch]) for k, v in x.items()}
        m = len(next(iter(chunk.values())))
        if m < batch:
            chunk = {
                k: np.concatenate([v, np.repeat(v[:1], batch - m, axis=0)])
                for k, v in chunk.items()
            }
        outputs.append(jax.tree.map(lambda a, m=m: np.asarray(a)[:m], jitted(params, chunk)))
    return jax.tree.map(lambda *parts: np.concatenate(parts), *outputs)
