import json
import shutil

import numpy as np
import pytest

from recsys_core.errors import RunStoreError
from recsys_core.runs import RunStore
from recsys_core.training import predict


def test_saved_run_reopens_with_identical_predictions(saved, trained, runs_dir):
    run = RunStore(runs_dir).open(saved.run_id)
    assert run.meta["model"] == "dlrm" and run.meta["params"] == trained.params
    assert run.meta["test"] == pytest.approx(trained.test_metrics)
    assert len(run.meta["history"]) == len(trained.history.epochs)
    x = run.preprocessor.transform(run.holdout())
    np.testing.assert_array_equal(
        predict(run.model, x, "regression"), predict(trained.model, x, "regression")
    )
    # the dashboard may have added an analyses/ folder to this shared run (analysis/saved.py)
    assert set(p.name for p in run.path.iterdir()) - {"analyses"} == {
        "run.json",
        "model.keras",
        "preprocessor.json",
        "holdout.parquet",
    }


def test_listing_shows_complete_runs_only(saved, runs_dir):
    (runs_dir / f".tmp-{saved.run_id}-half").mkdir()
    listed = RunStore(runs_dir).list()
    assert saved.run_id in listed["run_id"].tolist()
    assert not any(r.startswith(".") for r in listed["run_id"])
    assert {"test_rmse", "params", "train_seconds"} <= set(listed.columns)


@pytest.mark.parametrize("bad", ["../../etc", "..", "a/b", "/etc/passwd", "", "x" * 200, "run id"])
def test_run_ids_cannot_escape_the_store(bad, runs_dir):
    with pytest.raises(RunStoreError, match="invalid run id"):
        RunStore(runs_dir).open(bad)


def test_missing_run_is_a_clear_error(runs_dir):
    with pytest.raises(RunStoreError, match="no run 'nope'"):
        RunStore(runs_dir).open("nope")


def _copy(saved, runs_dir, name):
    target = runs_dir / name
    shutil.copytree(saved.path, target)
    return target


def test_corrupted_metadata_is_reported(saved, runs_dir):
    target = _copy(saved, runs_dir, "broken-json")
    (target / "run.json").write_text("{not json")
    with pytest.raises(RunStoreError, match="run.json is corrupted"):
        RunStore(runs_dir).open("broken-json")
    listed = RunStore(runs_dir).list()
    assert "corrupted" in listed.set_index("run_id").loc["broken-json", "error"]
    (target / "run.json").write_text(json.dumps({"model": "dlrm"}))
    with pytest.raises(RunStoreError, match="lacks 'config'"):
        RunStore(runs_dir).open("broken-json")


def test_truncated_model_file_is_reported(saved, runs_dir):
    target = _copy(saved, runs_dir, "broken-model")
    data = (target / "model.keras").read_bytes()
    (target / "model.keras").write_bytes(data[: len(data) // 2])
    with pytest.raises(RunStoreError, match="model.keras"):
        _ = RunStore(runs_dir).open("broken-model").model


def test_delete_removes_the_run(saved, runs_dir):
    _copy(saved, runs_dir, "doomed")
    store = RunStore(runs_dir)
    store.delete("doomed")
    assert "doomed" not in store.list()["run_id"].tolist()
    assert not (runs_dir / "doomed").exists()


def test_failed_save_leaves_nothing_behind(trained, tmp_path, monkeypatch):
    store = RunStore(tmp_path)

    class Boom(Exception):
        pass

    def explode(*args, **kwargs):
        raise Boom

    # patched on the class (undone cleanly): an instance attribute would outlive the test and
    # shadow later class-level patches of the shared session fixture
    monkeypatch.setattr(type(trained.holdout), "to_parquet", explode)
    with pytest.raises(Boom):
        store.save(trained, run_id="half")
    assert list(tmp_path.iterdir()) == []
