"""The persistent JAX compilation cache: a second process loads what the first one compiled."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from recsys_core.compile_cache import ENV, default_cache_path, enable_compilation_cache

# Train a small DLRM for two epochs and report JAX's own cache events (jax.monitoring), so the check
# counts cache hits rather than comparing timings.
SCRIPT = """
import json
import jax
from recsys_core.compile_cache import enable_compilation_cache

events = {}
jax.monitoring.register_event_listener(
    lambda name, **kw: events.__setitem__(name, events.get(name, 0) + 1)
)
folder = enable_compilation_cache(min_compile_seconds=0)

import keras
from recsys_core.data import synthetic_ratings
from recsys_core.features import Preprocessor, movielens_spec
from recsys_core.models import build_model
from recsys_core.training import TrainConfig, Trainer

table = synthetic_ratings(600, seed=0)
pre = Preprocessor(movielens_spec()).fit(table)
keras.utils.set_random_seed(0)
model = build_model("dlrm", pre, {"top_mlp": [16]})
history = Trainer(model, "regression", TrainConfig(epochs=2, batch_size=128)).fit(
    pre.transform(table), pre.target(table)
)
print(json.dumps({
    "folder": None if folder is None else str(folder),
    "hits": events.get("/jax/compilation_cache/cache_hits", 0),
    "misses": events.get("/jax/compilation_cache/cache_misses", 0),
    "losses": [e["loss"] for e in history.epochs],
}))
"""


def _run(env_value: str, tmp_path: Path) -> dict:
    env = {**os.environ, ENV: env_value, "RECSYS_CORE_CACHE": str(tmp_path / "home-cache")}
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_second_process_loads_the_compiled_training_from_the_cache(tmp_path):
    folder = tmp_path / "jax-cache"
    first = _run(str(folder), tmp_path)
    assert first["folder"] == str(folder)
    assert first["hits"] == 0 and first["misses"] > 0
    entries = sorted(p.name for p in folder.iterdir())
    assert len(entries) >= first["misses"] > 0

    second = _run(str(folder), tmp_path)
    # Every computation the first process wrote is loaded, the training epoch among them.
    assert second["hits"] >= first["misses"] and second["misses"] == 0
    assert sorted(p.name for p in folder.iterdir()) == entries  # nothing new to write
    assert second["losses"] == first["losses"]  # the loaded executables compute the same


def test_the_environment_variable_turns_the_cache_off(tmp_path):
    result = _run("off", tmp_path)
    assert result["folder"] is None and result["hits"] == 0 and result["misses"] == 0
    assert not (tmp_path / "home-cache" / "jax").exists()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", "home/jax"),
        ("0", None),
        ("False", None),
        ("no", None),
        ("{tmp}/elsewhere", "elsewhere"),
    ],
)
def test_default_cache_path_follows_the_environment(monkeypatch, tmp_path, value, expected):
    monkeypatch.setenv("RECSYS_CORE_CACHE", str(tmp_path / "home"))
    monkeypatch.setenv(ENV, value.format(tmp=tmp_path))
    path = default_cache_path()
    assert path == (None if expected is None else tmp_path / expected)


def test_an_unwritable_folder_leaves_the_cache_off(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert enable_compilation_cache(blocker / "jax") is None
