"""Streamlit clears Keras' session whenever any script run ends; in the server that must not reach
the threads computing with Keras (the frozen trainings of issue #13)."""

from __future__ import annotations

import threading
from pathlib import Path

import keras
import numpy as np
import pytest
from keras.src.backend.common import global_state
from streamlit.runtime.scriptrunner import script_runner

from recsys_core.service import keras_state


@pytest.fixture
def real_clear_session(monkeypatch):
    """Keras' own clear_session, with the state trackers it replaces put back afterwards."""
    monkeypatch.setattr(keras.backend, "clear_session", keras.utils.clear_session)
    monkeypatch.setattr(global_state, "GLOBAL_STATE_TRACKER", global_state.GLOBAL_STATE_TRACKER)
    monkeypatch.setattr(
        global_state, "GLOBAL_SETTINGS_TRACKER", global_state.GLOBAL_SETTINGS_TRACKER
    )


def _value_read_in_a_scope_while_a_script_run_ends() -> np.ndarray:
    """A thread reads a variable inside a StatelessScope that maps it to ones; meanwhile Streamlit
    ends a script run (its own ``_clean_problem_modules``, exactly as the server calls it)."""
    var = keras.Variable(np.zeros(3, "float32"))
    inside, go, seen = threading.Event(), threading.Event(), {}

    def compute() -> None:
        with keras.StatelessScope(state_mapping=[(var, np.ones(3, "float32"))]):
            inside.set()
            go.wait(10)
            seen["value"] = np.asarray(var.value)

    thread = threading.Thread(target=compute)
    thread.start()
    assert inside.wait(10)
    script_runner._clean_problem_modules()
    go.set()
    thread.join(10)
    return seen["value"]


def test_streamlit_ending_a_script_run_wipes_another_threads_keras_scope(real_clear_session):
    # The root cause: the scope is gone, the variable reads as its stored zeros. Inside a JAX trace
    # this makes the weights constants, so their gradient is zero and training never moves them.
    np.testing.assert_array_equal(_value_read_in_a_scope_while_a_script_run_ends(), np.zeros(3))


def test_kept_keras_state_survives_a_script_run_ending(real_clear_session):
    keras_state.keep_keras_state()
    assert keras_state.keras_state_kept()
    np.testing.assert_array_equal(_value_read_in_a_scope_while_a_script_run_ends(), np.ones(3))
    assert keras.utils.clear_session is not keras.backend.clear_session  # the real one stays


def test_the_dashboard_keeps_keras_state(monkeypatch, tmp_path):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setattr(keras.backend, "clear_session", keras.utils.clear_session)
    monkeypatch.setenv("RECSYS_CORE_RUNS", str(tmp_path))
    at = AppTest.from_file(
        str(Path(__file__).resolve().parents[1] / "app" / "main.py"), default_timeout=60
    ).run()
    assert not at.exception
    assert keras_state.keras_state_kept()
