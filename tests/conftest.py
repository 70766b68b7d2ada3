"""Shared fixtures: a small generated table, a trained run in a temporary store, real MovieLens."""

from __future__ import annotations

import base64
import os
import tempfile

import numpy as np
import pytest

from recsys_core.data import load_movielens_100k, synthetic_ratings
from recsys_core.runs import RunStore
from recsys_core.training import RunConfig, TrainConfig, train_run

# Tests compile afresh: the persistent JAX compilation cache that the CLI and the dashboard turn on
# stays off here (tests/test_compile_cache.py turns it on in its own processes).
os.environ.setdefault("RECSYS_CORE_JAX_CACHE", "0")
# Nor does the dashboard load models (and compute their first maps) in the background when a store
# is first listed, or compute a run's first maps after a training job (tests use many short-lived
# stores); tests/test_warm_up.py and tests/test_saved_analyses.py turn it on.
os.environ.setdefault("RECSYS_CORE_WARM_UP", "0")
# Jobs of the whole session go through one queue (each job names the run store it saves to), served
# by one worker process that the ``worker`` fixture starts when a test first needs it. Tests that
# need a queue of their own (no worker, or a worker with other settings) set RECSYS_CORE_QUEUE.
os.environ.setdefault(
    "RECSYS_CORE_QUEUE",
    f"sqlite:///{tempfile.mkdtemp(prefix='recsys-core-test-queue-')}/queue.db",
)


@pytest.fixture(scope="session")
def table():
    return synthetic_ratings(n_rows=3000, seed=0)


@pytest.fixture(scope="session")
def runs_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("runs")


@pytest.fixture(scope="session")
def trained(table):
    config = RunConfig(
        model="dlrm", hparams={"top_mlp": [32, 16]}, train=TrainConfig(epochs=3, batch_size=256)
    )
    return train_run(config, table=table)


@pytest.fixture(scope="session")
def saved(trained, runs_dir):
    return RunStore(runs_dir).save(trained)


@pytest.fixture(scope="session")
def worker():
    """A ``recsys-core worker`` process serving the session's queue (``tests/workers.py``)."""
    from tests.workers import running_worker

    with running_worker() as proc:
        yield proc


@pytest.fixture(scope="session")
def movielens():
    """The real MovieLens 100K from the local cache that `make data` fills; never fetched in tests."""
    try:
        return load_movielens_100k(source="cache")
    except Exception as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"MovieLens 100K is not cached (run `make data`): {exc}")


def _plotly_array(arr):
    """Plotly serialises arrays as {"dtype", "bdata", "shape"}; turn them back into numbers."""
    if isinstance(arr, dict) and "bdata" in arr:
        flat = np.frombuffer(base64.b64decode(arr["bdata"]), dtype=np.dtype(arr["dtype"]))
        shape = arr.get("shape")
        if isinstance(shape, str):
            shape = [int(s) for s in shape.split(",")]
        return flat.reshape(shape) if shape else flat
    return np.asarray(arr, dtype=float)


@pytest.fixture(scope="session")
def plotly_array():
    return _plotly_array
