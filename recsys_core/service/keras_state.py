"""Keep Keras' global state alive in a Streamlit server process.

Streamlit ends every script run (every page load, rerun and ``st.fragment(run_every=...)`` tick of
every session) by calling ``keras.backend.clear_session()`` when Keras is imported
(``streamlit.runtime.scriptrunner.script_runner._clean_problem_modules``). ``clear_session``
replaces Keras' ``threading.local`` state tracker for *all* threads at once, so any thread of the
same process that is inside Keras at that moment loses its state mid-computation:

- a ``StatelessScope`` (``model.stateless_call``, ``optimizer.stateless_apply``, our pure
  functions) vanishes while JAX traces it, so the variables are read as constants: the traced
  gradient is zero and the compiled training step never moves the weights (the model "learns"
  only weight decay), or an analysis bakes the current weights into its compiled function;
- the seed set by ``keras.utils.set_random_seed`` vanishes between seeding and building a model,
  so its initial weights differ from the CLI's for the same seed.

This happened only when a script run ended while another thread was inside Keras, which a busy
machine (slow tracing and compilation) makes likely: the trainings of issue #13 that froze under
load. The dashboard is one long-lived process whose models are shared across sessions on purpose,
so clearing Keras' session between script runs is never wanted there: :func:`keep_keras_state`
turns Streamlit's call into a no-op. Training runs in worker processes anyway
(:mod:`recsys_core.service.worker`); this keeps the analyses computed in the server correct.
"""

from __future__ import annotations

import logging

import keras

from recsys_core import _backend  # noqa: F401

log = logging.getLogger(__name__)


def _keep_session(*_args, **_kwargs) -> None:
    """Stands in for ``keras.backend.clear_session`` in the server: see the module docstring."""
    log.debug("keras.backend.clear_session() ignored: the server keeps Keras' state across runs")


def keep_keras_state() -> None:
    """Make ``keras.backend.clear_session`` (the name Streamlit calls) a no-op in this process.

    Idempotent; ``keras.utils.clear_session`` stays the real function for code that means it.
    """
    keras.backend.clear_session = _keep_session


def keras_state_kept() -> bool:
    """Whether :func:`keep_keras_state` is in effect in this process."""
    return keras.backend.clear_session is _keep_session
