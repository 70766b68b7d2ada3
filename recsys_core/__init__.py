"""recsys_core: see what a recommendation model learned about feature interactions.

Importing the package selects Keras' JAX backend (see ``_backend``); the sub-packages follow the
data flow: ``data`` -> ``features`` -> ``layers`` -> ``models`` -> ``training`` -> ``runs`` ->
``analysis`` -> ``viz``, with ``cli`` on top.
"""

from recsys_core import _backend  # noqa: F401  (must run before keras is imported)

__version__ = "0.1.0"
