"""A fresh dashboard process loads the newest runs' models in the background, once per store."""

import threading

from recsys_core import dashboard
from recsys_core.runs import RunStore


def test_first_listing_loads_the_newest_models_once(saved, runs_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("RECSYS_CORE_RUNS", str(runs_dir))
    monkeypatch.setenv("RECSYS_CORE_WARM_UP", "1")
    monkeypatch.setenv("RECSYS_CORE_QUEUE", f"sqlite:///{tmp_path / 'queue.db'}")  # no worker
    dashboard.job_manager.cache_clear()
    dashboard._cached_run.cache_clear()
    monkeypatch.setattr(dashboard, "_warmed", set())
    loaded = []
    original = RunStore.open
    monkeypatch.setattr(
        RunStore, "open", lambda self, rid: loaded.append(rid) or original(self, rid)
    )
    try:
        missing = not dashboard.first_maps_saved(saved.run_id)
        assert saved.run_id in dashboard.runs_table()["run_id"].tolist()
        for thread in threading.enumerate():
            if thread.name == "recsys-core-warm-up":
                thread.join(120)
        assert loaded.count(saved.run_id) == 1
        # its first maps, when none are saved, are a worker's job, not the server's
        queued = [j.call["run_id"] for j in dashboard.job_manager().jobs(kind="maps")]
        assert queued == ([saved.run_id] if missing else [])
        cached = dashboard._cached_run(saved.run_id, dashboard._mtime(saved.run_id))
        assert cached._model is not None  # loaded by the background thread, not by a page
        assert dashboard.open_run(saved.run_id) is cached
        assert loaded.count(saved.run_id) == 1
        dashboard.runs_table()  # a second listing starts nothing new
        assert not any(t.name == "recsys-core-warm-up" for t in threading.enumerate())
    finally:
        dashboard.job_manager.cache_clear()
        dashboard._cached_run.cache_clear()
