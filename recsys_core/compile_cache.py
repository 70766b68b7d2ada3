"""JAX's persistent compilation cache, on by default for the dashboard and the command line.

Compiling a model's jitted training epoch takes 1-3 s on a small CPU, about as long as the training
itself. With the cache, XLA's executables are written to disk and a later process that compiles the
same computation (same model, shapes and settings) loads them instead.

``$RECSYS_CORE_JAX_CACHE`` chooses: unset or empty, the folder ``jax`` in the package's cache
(``$RECSYS_CORE_CACHE`` or ``~/.cache/recsys_core``); ``0``, ``off``, ``false`` or ``no``, no cache;
anything else, that folder. Library users opt in with :func:`enable_compilation_cache`.

The folder is trusted: a process that loads an executable from it runs it, so never point it at a
folder that others can write to. It is not size-limited; delete it to reclaim the space.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

ENV = "RECSYS_CORE_JAX_CACHE"
OFF = ("0", "off", "false", "no")
# Entries for computations that compiled faster than this are not written (JAX's default is 1 s).
# A model's epoch compiles in 1-3 s, but loading a saved model runs dozens of tiny compilations
# (every variable's initializer) that add up to 5-10 s on a busy 2-core machine and each take well
# under 0.2 s: caching them too brings a restarted dashboard's first model load to 1-1.5 s, for
# about 450 KB of cache per architecture.
MIN_COMPILE_SECONDS = 0.0

log = logging.getLogger(__name__)


def default_cache_path() -> Path | None:
    """The folder ``$RECSYS_CORE_JAX_CACHE`` names, or None when it turns the cache off."""
    raw = os.environ.get(ENV, "").strip()
    if raw.lower() in OFF:
        return None
    if raw:
        return Path(raw).expanduser()
    from recsys_core.data.movielens import default_cache_dir

    return default_cache_dir() / "jax"


def enable_compilation_cache(
    path: str | Path | None = None, min_compile_seconds: float = MIN_COMPILE_SECONDS
) -> Path | None:
    """Turn on JAX's persistent compilation cache in ``path`` (default: :func:`default_cache_path`).

    Returns the folder, or None when the cache stays off (``$RECSYS_CORE_JAX_CACHE=0``, or the
    folder cannot be created, which is logged, not raised). Safe to call more than once, and after
    JAX has already compiled something.
    """
    import jax
    from jax.experimental.compilation_cache import compilation_cache

    folder = Path(path).expanduser() if path is not None else default_cache_path()
    if folder is None:
        return None
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        log.warning("JAX compilation cache off: cannot create %s (%s).", folder, exc)
        return None
    jax.config.update("jax_persistent_cache_min_compile_time_secs", float(min_compile_seconds))
    if jax.config.jax_compilation_cache_dir != str(folder):
        jax.config.update("jax_compilation_cache_dir", str(folder))
        # JAX decides once per process whether to use the cache; start that decision again in case
        # something compiled before this call.
        compilation_cache.reset_cache()
    return folder
