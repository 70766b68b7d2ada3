"""The Trust page: a planted-interaction check runs in the background and shows truth vs recovery."""

import json

import numpy as np

from recsys_core import dashboard
from recsys_core.analysis.validation import PlantedCheck
from tests.test_app import _page, store_at  # noqa: F401  (fixture)


def test_trust_page_runs_a_planted_check_and_draws_truth_and_recovery(
    store_at,  # noqa: F811
    tmp_path,
    plotly_array,
    worker,
):
    store_at(tmp_path)
    at = _page("trust")
    assert any("No check yet" in i.value for i in at.info)
    assert next(w for w in at.number_input if w.label == "Rows").value == 10_000
    at.button[0].click()
    at.run()
    jobs = dashboard.job_manager().jobs(kind="check")
    assert len(jobs) == 1 and jobs[0].label.startswith("dlrm on planted ctr, regression")
    job = dashboard.job_manager().wait(jobs[0].job_id, timeout=300)
    assert job.state == "done", job.error
    at.run()
    check = PlantedCheck.from_dict(job.result)  # what the worker process found
    shown = {m.label: m.value for m in at.metric}
    assert shown["TII recovery AUC"] == f"{check.auc:.3f}"
    assert check.auc >= 0.9  # DLRM finds the planted pairs of the CTR table
    assert set(check.native_auc) >= {"pair_terms"}
    assert shown["Native 'pair_terms' AUC"] == f"{check.native_auc['pair_terms']:.3f}"
    specs = [json.loads(el.proto.spec) for el in at.get("plotly_chart")]
    truth, found = specs[0]["data"][0], specs[1]["data"][0]
    np.testing.assert_allclose(plotly_array(truth["z"]), check.truth.values, equal_nan=True)
    np.testing.assert_allclose(plotly_array(found["z"]), check.recovered.values, equal_nan=True)
    assert truth["zmax"] == found["zmax"]  # one colour scale for truth and recovery
    assert (tmp_path / ".tmp").exists() is False or not any((tmp_path / ".tmp").iterdir())
