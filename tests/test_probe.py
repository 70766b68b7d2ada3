"""A saved model is loaded in a child process before the server loads it: an abort, a crash or an
error there makes the run "cannot be opened" and leaves the server's process alive."""

from __future__ import annotations

import shutil

import pytest

from recsys_core import dashboard
from recsys_core.errors import RunStoreError
from recsys_core.service import probe


@pytest.fixture
def copied(saved, tmp_path, monkeypatch):
    """The session's saved run, copied into a store of this test's own."""
    path = tmp_path / saved.run_id
    shutil.copytree(saved.path, path)
    monkeypatch.setenv("RECSYS_CORE_RUNS", str(tmp_path))
    for cache in (dashboard.job_manager, dashboard._cached_run, dashboard._cached_matrix):
        cache.cache_clear()
    yield path
    for cache in (dashboard.job_manager, dashboard._cached_run, dashboard._cached_matrix):
        cache.cache_clear()


def test_a_good_model_passes_the_probe_and_is_then_loaded_here(copied, saved):
    probe.ensure_loadable(copied, saved.run_id)
    assert dashboard.open_run(saved.run_id).model.count_params() == saved.model.count_params()


def _abort_like_xla(path, conn):
    """What XLA does when a weight cannot be allocated: abort() the process."""
    import os

    os.abort()


def _raise_like_keras(path, conn):
    conn.send("Could not deserialize class 'Evil'")
    raise SystemExit(2)


def test_a_model_whose_loading_aborts_is_refused_and_the_server_lives_on(copied, saved):
    reason = probe._probe(copied, _abort_like_xla)
    assert "aborted" in reason and "SIGABRT" in reason
    assert probe._probe(copied, _raise_like_keras) == "Could not deserialize class 'Evil'"
    probe._verdicts[probe._fingerprint(copied)] = reason  # as ensure_loadable records it
    with pytest.raises(RunStoreError, match=r"cannot be loaded: loading|cannot be loaded: the pro"):
        dashboard.open_run(saved.run_id)
    assert saved.run_id in dashboard.runs_table()["run_id"].tolist()  # still listed, and
    assert dashboard.run_health(saved.run_id).status  # what needs no model still opens


def test_a_damaged_archive_is_reported_in_one_line(copied, saved):
    (copied / "model.keras").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(RunStoreError) as err:
        dashboard.open_run(saved.run_id)
    assert "\n" not in str(err.value) and saved.run_id in str(err.value)
