"""Analyses saved beside a run: exact round trips, damaged files recomputed, no model when saved."""

import json
import shutil
import time

import numpy as np
import pytest

from recsys_core import dashboard
from recsys_core.analysis import interaction_matrix
from recsys_core.analysis import saved as store_of
from recsys_core.analysis.matrix import InteractionMatrix
from recsys_core.analysis.native import FieldScores, native_views
from recsys_core.analysis.views import AnalysisMenu, analysis_menu
from recsys_core.runs import RunStore
from recsys_core.training import RunConfig, TrainConfig


def _matrix() -> InteractionMatrix:
    values = np.array([[np.nan, 0.25, -1 / 3], [0.25, np.nan, 1e-12], [-1 / 3, 1e-12, np.nan]])
    return InteractionMatrix(
        values,
        ["user_id", "movie_id", "hour"],
        "tii",
        "TII",
        "sqrt of the Total Interaction Index",
        "data-averaged",
        n_rows=2000,
        signed=True,
        groups={"user_id": "user", "movie_id": "movie"},
        extra={"lower": [[None, 0.1, 0.0], [0.1, None, 0.0], [0.0, 0.0, None]], "seed": 3},
    )


def test_a_matrix_and_scores_come_back_exactly_from_their_dict():
    m = _matrix()
    back = InteractionMatrix.from_dict(json.loads(m.to_json()))
    np.testing.assert_array_equal(back.values, m.values)  # NaN where NaN, every bit elsewhere
    assert (back.fields, back.groups, back.extra, back.signed, back.n_rows) == (
        m.fields, m.groups, m.extra, m.signed, m.n_rows,
    )  # fmt: skip
    assert back.ordered("strength").fields == m.ordered("strength").fields
    s = FieldScores(np.array([0.5, np.nan]), ["a", "b"], "native", "w", "d", "weights-only")
    again = FieldScores.from_dict(json.loads(s.to_json()))
    np.testing.assert_array_equal(again.values, s.values)
    assert again.fields == ["a", "b"]


def test_saved_results_round_trip_and_refuse_other_keys_versions_and_damage(tmp_path, caplog):
    key = store_of.result_key("tii")
    assert store_of.load_result(tmp_path, key) is None
    assert store_of.save_result(tmp_path, key, _matrix())
    got = store_of.load_result(tmp_path, key)
    np.testing.assert_array_equal(got.values, _matrix().values)
    assert store_of.load_result(tmp_path, store_of.result_key("tii", row=0)) is None
    (path,) = (tmp_path / store_of.FOLDER).glob("*.json")
    record = json.loads(path.read_text())
    path.write_text(json.dumps({**record, "version": "0.0.0-other"}))
    assert store_of.load_result(tmp_path, key) is None  # another release may compute it differently
    path.write_text(json.dumps({**record, "code": "0" * 16}))
    assert store_of.load_result(tmp_path, key) is None  # an analysis fixed in a working copy
    path.write_text(json.dumps({**record, "key": store_of.result_key("native")}))
    assert store_of.load_result(tmp_path, key) is None  # a digest collision cannot mix two maps
    path.write_text(json.dumps({**record, "payload": {"matrix": [[1.0]], "fields": ["a", "b"]}}))
    assert store_of.load_result(tmp_path, key) is None  # a 1x1 matrix for two fields
    path.write_bytes(b'{"key": ')  # cut off mid-write by a crash of an older writer
    with caplog.at_level("WARNING"):
        assert store_of.load_result(tmp_path, key) is None
    assert "unreadable" in caplog.text
    assert store_of.save_result(tmp_path, key, _matrix())  # replaced whole
    assert store_of.load_result(tmp_path, key) is not None
    assert [p.name for p in (tmp_path / store_of.FOLDER).iterdir()] == [path.name]  # no temp left


def test_a_store_that_cannot_be_written_keeps_results_in_memory(tmp_path):
    (tmp_path / store_of.FOLDER).write_text("not a folder")  # as a read-only volume refuses writes
    assert store_of.save_result(tmp_path, store_of.result_key("tii"), _matrix()) is False
    assert store_of.load_result(tmp_path, store_of.result_key("tii")) is None


@pytest.fixture
def fresh_server(saved, runs_dir, tmp_path, monkeypatch):
    """A copy of the shared run in its own store, the dashboard's caches empty as after a restart."""
    root = tmp_path / "runs"
    shutil.copytree(runs_dir / saved.run_id, root / saved.run_id)
    shutil.rmtree(root / saved.run_id / store_of.FOLDER, ignore_errors=True)
    monkeypatch.setenv("RECSYS_CORE_RUNS", str(root))

    def restart():
        dashboard.job_manager.cache_clear()
        for cache in (dashboard._cached_run, dashboard._cached_matrix, dashboard._cached_menu):
            cache.cache_clear()

    restart()
    yield root, saved.run_id, restart
    restart()


def _model_loaded(run_id: str) -> bool:
    return dashboard._cached_run(run_id, dashboard._mtime(run_id))._model is not None


def test_a_restarted_dashboard_draws_saved_maps_without_the_model(fresh_server):
    root, run_id, restart = fresh_server
    menu = dashboard.run_menu(run_id)
    first = dashboard.run_matrix(run_id, "native", view=menu.views[0].name)
    tii = dashboard.run_matrix(run_id, "tii")
    assert _model_loaded(run_id)
    assert len(list((root / run_id / store_of.FOLDER).glob("*.json"))) == 3  # menu, native, TII
    restart()
    assert dashboard.run_menu(run_id) == menu
    again = dashboard.run_matrix(run_id, "native", view=menu.views[0].name)
    np.testing.assert_array_equal(again.values, first.values)
    np.testing.assert_array_equal(dashboard.run_matrix(run_id, "tii").values, tii.values)
    assert not _model_loaded(run_id)  # read back: the model was never built
    direct = interaction_matrix(RunStore(root).open(run_id), "native", view=menu.views[0].name)
    np.testing.assert_allclose(again.values, direct.values, rtol=1e-6)
    dashboard.run_matrix(run_id, "archipelago", row=0)  # not saved yet: computed with the model
    assert _model_loaded(run_id)


def test_a_damaged_saved_map_is_computed_again_and_replaced(fresh_server):
    root, run_id, restart = fresh_server
    tii = dashboard.run_matrix(run_id, "tii")
    restart()
    for path in (root / run_id / store_of.FOLDER).glob("*.json"):
        path.write_text("{ truncated")
    np.testing.assert_array_equal(dashboard.run_matrix(run_id, "tii").values, tii.values)
    assert _model_loaded(run_id)
    restart()
    dashboard.run_matrix(run_id, "tii")
    assert not _model_loaded(run_id)  # the file was replaced by the recomputed map


def test_the_menu_lists_what_the_model_offers(saved):
    menu = analysis_menu(saved)
    assert list(menu.methods) == ["native", "tii", "archipelago"]
    views = native_views(saved.model)
    assert menu.view_names() == [v.name for v in views]  # primary first
    assert [c.options for c in menu.views] == [v.options(saved.model) for v in views]
    assert menu.view_names("bars") == [v.name for v in views if v.shape == "bars"]
    assert AnalysisMenu.from_dict(json.loads(json.dumps(menu.to_dict()))) == menu
    with pytest.raises(Exception, match="unknown native view 'nope'"):
        menu.view("nope")


def test_a_finished_training_computes_the_first_maps_in_its_worker(table, tmp_path, monkeypatch):
    from tests.workers import running_worker

    monkeypatch.setenv("RECSYS_CORE_RUNS", str(tmp_path))
    monkeypatch.setenv("RECSYS_CORE_QUEUE", f"sqlite:///{tmp_path / 'queue.db'}")
    dashboard.job_manager.cache_clear()
    try:
        config = RunConfig(model="fm", train=TrainConfig(epochs=1, batch_size=256))
        with running_worker(RECSYS_CORE_WARM_UP="1"):
            (job,) = dashboard.submit_training(config, 1, table=table)
            assert dashboard.job_manager().wait(job.job_id, timeout=300).state == "done"
            deadline = time.time() + 300
            while dashboard.job_manager().get(job.job_id).maps != "saved":
                assert time.time() < deadline, dashboard.job_manager().get(job.job_id).maps
                time.sleep(0.2)
        job = dashboard.job_manager().get(job.job_id)
        folder = tmp_path / job.run_id / store_of.FOLDER
        menu = AnalysisMenu.from_dict(store_of.load(tmp_path / job.run_id, {"what": "menu"}))
        first = menu.views[0]
        key = store_of.result_key(
            "native", view=first.name, layer=0 if "layer" in first.options else None
        )
        assert store_of.load_result(tmp_path / job.run_id, key) is not None
        assert store_of.load_result(tmp_path / job.run_id, store_of.result_key("tii")) is not None
        assert len(list(folder.glob("*.json"))) == 3
    finally:
        dashboard.job_manager.cache_clear()


def test_failing_first_maps_leave_the_job_done(monkeypatch, tmp_path):
    from recsys_core.service import worker
    from recsys_core.service.jobs import Job

    class Progress:
        saved: list[dict] = []

        def save(self):
            self.saved.append(job.to_dict())

    def boom(run_id):
        raise RuntimeError("disk full")

    monkeypatch.setenv("RECSYS_CORE_WARM_UP", "1")
    monkeypatch.setenv("RECSYS_CORE_RUNS", str(tmp_path))  # _precompute points its process here
    monkeypatch.setattr(dashboard, "precompute", boom)
    job = Job("j1", state="done", run_id="r1", runs_dir=str(tmp_path), maps="computing")
    worker._precompute(job, Progress())
    assert job.state == "done" and job.error is None and job.maps == "failed"
    assert Progress.saved[-1]["maps"] == "failed"


def test_attention_maps_are_saved_and_read_back_without_the_model(table, tmp_path, monkeypatch):
    from recsys_core.analysis.native.attention import attention_grid
    from recsys_core.training import train_run

    config = RunConfig(model="autoint", train=TrainConfig(epochs=1, batch_size=256))
    run = RunStore(tmp_path).save(train_run(config, table=table))
    monkeypatch.setenv("RECSYS_CORE_RUNS", str(tmp_path))
    dashboard._cached_grid.cache_clear()
    dashboard._cached_run.cache_clear()
    try:
        dashboard.precompute(run.run_id)  # as after training: menu, native, TII, attention maps
        dashboard._cached_grid.cache_clear()
        dashboard._cached_run.cache_clear()
        drawn = dashboard.run_attention_maps(run.run_id)
        assert not _model_loaded(run.run_id)
        direct = attention_grid(run.model, run.preprocessor, run.holdout())
        assert len(drawn.maps) == len(direct) == len(drawn.titles)
        assert drawn.cols == max(m.extra["head"] for m in direct) + 1
        for got, want in zip(drawn.maps, direct, strict=True):
            np.testing.assert_allclose(got.values, want.values, rtol=1e-6)
            assert got.extra["layer"] == want.extra["layer"]
    finally:
        dashboard._cached_grid.cache_clear()
        dashboard._cached_run.cache_clear()


def test_a_page_waits_for_the_workers_first_maps_instead_of_computing_them(
    worker, saved, tmp_path, monkeypatch
):
    shutil.copytree(saved.path, tmp_path / saved.run_id)
    shutil.rmtree(tmp_path / saved.run_id / store_of.FOLDER, ignore_errors=True)
    monkeypatch.setenv("RECSYS_CORE_RUNS", str(tmp_path))
    for cache in (dashboard.job_manager, dashboard._cached_run, dashboard._cached_matrix):
        cache.cache_clear()

    def computed_here(*args, **kwargs):
        raise AssertionError("the page computed a map the worker was computing")

    monkeypatch.setattr(dashboard, "interaction_matrix", computed_here)
    try:
        job = dashboard.job_manager().submit_maps(saved.run_id)
        result = dashboard.run_matrix(saved.run_id, "tii")  # as a page asks, at once
        assert result.values.shape == (len(result.fields), len(result.fields))
        done = dashboard.job_manager().wait(job.job_id, timeout=300)
        assert done.state == "done"
        assert store_of.load_result(tmp_path / saved.run_id, store_of.result_key("tii")) is not None
    finally:
        for cache in (dashboard.job_manager, dashboard._cached_run, dashboard._cached_matrix):
            cache.cache_clear()
