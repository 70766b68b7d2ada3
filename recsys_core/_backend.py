"""Select Keras' JAX backend before anything imports keras.

Keras reads ``KERAS_BACKEND`` once, at its first import; every module of the package imports
this one first so that ``import recsys_core`` always computes with JAX.
"""

import os

if os.environ.get("KERAS_BACKEND", "jax") != "jax":
    raise ImportError(
        f"recsys_core computes with Keras' JAX backend, but KERAS_BACKEND={os.environ['KERAS_BACKEND']!r} "
        "is set. Unset it or set KERAS_BACKEND=jax."
    )
os.environ["KERAS_BACKEND"] = "jax"

_keras = __import__("sys").modules.get("keras")
if _keras is not None and _keras.backend.backend() != "jax":
    raise ImportError(
        f"keras was imported with the {_keras.backend.backend()!r} backend before recsys_core; "
        "import recsys_core first or set KERAS_BACKEND=jax."
    )
