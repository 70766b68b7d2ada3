"""Training over several devices (keras.distribution + jax.sharding) matches one-device training.

The check runs in a subprocess with two simulated CPU devices
(``XLA_FLAGS=--xla_force_host_platform_device_count=2``), since the device count is fixed when JAX
starts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from recsys_core.errors import TrainingError
from recsys_core.training import TrainConfig

SCRIPT = """
import json, sys
from pathlib import Path
import jax
import keras
from recsys_core.data import split_table, synthetic_ratings
from recsys_core.features import Preprocessor, movielens_spec
from recsys_core.models import build_model
from recsys_core.training import TrainConfig, Trainer
from recsys_core.training.distribute import embedding_tables

train, test = split_table(synthetic_ratings(2400, seed=0))
pre = Preprocessor(movielens_spec()).fit(train)
x, y, x_test = pre.transform(train), pre.target(train), pre.transform(test)
out = {"devices": len(jax.devices())}
for kind in (None, "data", "model"):
    keras.utils.set_random_seed(0)
    model = build_model("dlrm", pre, {"top_mlp": [32]})
    trainer = Trainer(model, "regression", TrainConfig(epochs=3, batch_size=256, distribution=kind))
    history = trainer.fit(x, y)
    tables = {
        v.path: [list(s.data.shape) for s in v.value.addressable_shards]
        for v in embedding_tables(model)
    }
    out[str(kind)] = {
        "losses": [e["loss"] for e in history.epochs],
        "pred": trainer.predict(x_test).tolist(),
        "tables": tables,
        "dense_devices": len(model.trainable_variables[-1].value.sharding.device_set),
    }
dumps = sorted(Path(sys.argv[1]).glob("*jit_epoch*after_optimizations.txt"))
out["epoch_hlo"] = [p.read_text() for p in dumps]
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def two_devices(tmp_path_factory):
    dump = tmp_path_factory.mktemp("hlo")
    flags = (
        "--xla_force_host_platform_device_count=2 "
        f"--xla_dump_to={dump} --xla_dump_hlo_as_text --xla_dump_hlo_module_re=jit_epoch"
    )
    env = {**os.environ, "XLA_FLAGS": flags, "JAX_PLATFORMS": "cpu"}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(dump)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_two_simulated_devices_are_used(two_devices):
    assert two_devices["devices"] == 2
    assert two_devices["None"]["dense_devices"] == 1
    assert two_devices["data"]["dense_devices"] == 2  # replicated on both
    assert two_devices["model"]["dense_devices"] == 2


@pytest.mark.parametrize("kind", ["data", "model"])
def test_loss_curve_and_predictions_match_one_device(two_devices, kind):
    single, multi = two_devices["None"], two_devices[kind]
    np.testing.assert_allclose(multi["losses"], single["losses"], rtol=1e-4)
    np.testing.assert_allclose(multi["pred"], single["pred"], atol=1e-3)


def test_data_parallel_splits_each_batch_and_all_reduces_the_gradients(two_devices):
    # Compile order: one device, data parallel, model parallel.
    single, data, model = two_devices["epoch_hlo"]
    assert "all-reduce" not in single and "f32[256,1]" in single
    assert "all-reduce" in data and "f32[128,1]" in data and "f32[256,1]" not in data
    # Model parallel keeps whole batches (a (1, 2) mesh) and gathers the sharded tables.
    assert "all-gather" in model or "all-reduce" in model


def test_model_parallel_shards_the_large_tables_only(two_devices):
    tables = two_devices["model"]["tables"]
    for path, shards in tables.items():
        rows, width = two_devices["None"]["tables"][path][0]
        if rows >= 64 and width % 2 == 0:  # distribute.SHARD_MIN_ROWS: halves of the columns
            assert shards == [[rows, width // 2]] * 2, path
        elif rows >= 64 and rows % 2 == 0:  # else halves of the rows
            assert shards == [[rows // 2, width]] * 2, path
        else:  # small (or indivisible) tables are replicated
            assert shards == [[rows, width]] * 2, path
    assert any(s[0][1] == 4 for s in tables.values())  # at least one table was sharded


def test_unknown_distribution_is_an_error():
    with pytest.raises(TrainingError, match="distribution must be data, model or None"):
        TrainConfig(distribution="pipeline")
