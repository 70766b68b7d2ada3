import numpy as np
import pytest

from recsys_core.errors import RecsysCoreError
from recsys_core.training import RunConfig, TrainConfig, pipeline
from recsys_core.training.jobs import JobManager


def test_trials_run_in_the_background_and_summarise(tmp_path, monkeypatch, table):
    monkeypatch.setattr(pipeline, "load_dataset", lambda name: (table, None, "generated"))
    manager = JobManager(tmp_path, max_workers=1)
    config = RunConfig(
        hparams={"top_mlp": [16]}, train=TrainConfig(epochs=2, batch_size=256, seed=3)
    )
    jobs = manager.submit_trials(config, 2, owner="me")
    assert [j.config.train.seed for j in jobs] == [3, 4] and jobs[0].group == jobs[1].group
    for job in jobs:
        done = manager.wait(job.job_id, timeout=300)
        assert done.state == "done", done.error
        assert len(done.epochs) >= 1 and done.run_id in manager.store.list()["run_id"].tolist()
    summary = manager.group_summary(jobs[0].group)
    rmses = [j.test["rmse"] for j in jobs]
    assert summary["rmse"] == pytest.approx((np.mean(rmses), np.std(rmses)))
    assert manager.jobs(owner="someone else") == []


def test_cancelled_and_failed_jobs_report_their_state(tmp_path, monkeypatch, table):
    monkeypatch.setattr(pipeline, "load_dataset", lambda name: (table, None, "generated"))
    manager = JobManager(tmp_path, max_workers=1)
    bad = manager.submit(
        RunConfig(hparams={"top_mlp": [16]}, train=TrainConfig(epochs=1), split="weird")
    )
    assert manager.wait(bad.job_id).state == "failed" and "split method" in bad.error
    job = manager.submit(RunConfig(train=TrainConfig(epochs=50)))
    job.cancel()
    assert manager.wait(job.job_id, timeout=300).state == "cancelled"
    assert list(manager.store.root.glob("*")) == [] or manager.store.list().empty
    with pytest.raises(RecsysCoreError, match="trials must be >= 1"):
        manager.submit_trials(RunConfig(), 0)
