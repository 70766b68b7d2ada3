"""Did the run learn? The verdict's numbers against independent references, and where it is shown."""

import itertools
import json
import math
import shutil

import numpy as np
import pandas as pd
import pytest

from recsys_core.analysis.matrix import InteractionMatrix
from recsys_core.cli import main
from recsys_core.data import synthetic_ratings
from recsys_core.data.splits import split_table
from recsys_core.runs import RunStore
from recsys_core.training import RunConfig, TrainConfig, train_run
from recsys_core.training.health import (
    DIVERGED,
    LEARNED,
    NOT_LEARNED,
    STATUSES,
    UNKNOWN,
    Verdict,
    assess,
    base_rate_log_loss,
    hanley_mcneil_se,
    health_line,
    mark,
    mean_predictor_rmse,
    rmse_margin,
    verdict_of_run,
)
from recsys_core.viz.heatmap import heatmap_figure
from tests.test_app import _page, store_at  # noqa: F401  (fixture)

# --- numbers against independent references --------------------------------------------------


def test_mean_predictor_rmse_on_a_hand_made_vector():
    # training mean 2.5; errors on [1, 5] are -1.5 and 2.5: sqrt((2.25 + 6.25) / 2)
    assert mean_predictor_rmse(np.array([1.0, 2, 3, 4]), np.array([1.0, 5])) == pytest.approx(
        math.sqrt(4.25), rel=1e-12
    )


def test_base_rate_log_loss_on_a_hand_made_vector():
    # base rate 0.25; labels [1, 0]: -(ln 0.25 + ln 0.75) / 2
    value = base_rate_log_loss(np.array([0.0, 0, 0, 1]), np.array([1.0, 0]))
    assert value == pytest.approx((math.log(4) + math.log(4 / 3)) / 2, rel=1e-9)


def test_hanley_mcneil_se_matches_its_closed_form():
    # A = 0.8, 10 positives, 20 negatives, by hand: Q1 = 2/3, Q2 = 1.28 / 1.8 = 0.71111...,
    # SE² = (0.16 + 9 (2/3 - 0.64) + 19 (0.71111 - 0.64)) / 200 = 1.751111 / 200
    assert hanley_mcneil_se(0.8, 10, 20) == pytest.approx(math.sqrt(1.751111111 / 200), rel=1e-8)
    assert hanley_mcneil_se(0.8, 10, 20) == pytest.approx(0.0935711, abs=1e-7)
    assert math.isnan(hanley_mcneil_se(0.7, 0, 5))


def test_hanley_mcneil_se_at_one_half_is_the_exact_null_spread_of_the_auc():
    # Under no signal every placement of the 3 positives among 7 ranks is equally likely: the
    # variance of the AUC over all 35 placements is (m + n + 1) / (12 m n), the Mann-Whitney null.
    m, n = 3, 4
    aucs = []
    for pos in itertools.combinations(range(m + n), m):
        neg = [r for r in range(m + n) if r not in pos]
        aucs.append(sum(p > q for p in pos for q in neg) / (m * n))
    assert np.mean(aucs) == pytest.approx(0.5)
    assert hanley_mcneil_se(0.5, m, n) == pytest.approx(math.sqrt(np.var(aucs)), rel=1e-12)
    assert hanley_mcneil_se(0.5, m, n) ** 2 == pytest.approx((m + n + 1) / (12 * m * n))


def test_the_rmse_margin_grows_on_few_rows():
    assert rmse_margin(100_000) == 0.01
    assert rmse_margin(300) == pytest.approx(9 / 600)


# --- verdicts from histories, without training ------------------------------------------------


def _history(losses, val):
    return [{"epoch": e + 1, "loss": a, "seconds": 0.1, "val_rmse": b}
            for e, (a, b) in enumerate(zip(losses, val, strict=True))]  # fmt: skip


def test_a_nan_loss_is_diverged():
    y = np.array([1.0, 2, 3, 4, 5])
    verdict = assess("regression", _history([1.2, float("nan")], [1.1, 1.0]), 1, y, y, y, y,
                     {"rmse": 1.0, "mae": 0.8}, y)  # fmt: skip
    assert verdict.status == DIVERGED and verdict.warns
    assert "nan" in verdict.summary and verdict.summary.startswith("diverged: ")
    # saved as JSON (no NaN in it) and read back
    back = Verdict.from_dict(json.loads(json.dumps(verdict.to_dict(), allow_nan=False)))
    assert back == verdict


def test_constant_predictions_did_not_learn():
    rng = np.random.default_rng(0)
    y = rng.normal(3.0, 1.0, 500)
    verdict = assess("regression", _history([1.5, 1.0], [1.0, 0.9]), 2, y, None, y, y,
                     {"rmse": 0.5, "mae": 0.4}, np.full(500, 3.0))  # fmt: skip
    assert verdict.status == NOT_LEARNED
    assert verdict.check("prediction_spread").passed is False
    assert "predictions spread 0.0 %" in verdict.summary


def test_a_verdict_round_trips_and_reads_an_unreadable_one_as_unknown():
    verdict = Verdict(LEARNED, "learned: fine", ())
    assert Verdict.from_dict(verdict.to_dict()) == verdict
    assert Verdict.from_dict({"status": "great"}).status == UNKNOWN
    assert health_line(None).startswith("unknown")
    assert health_line(verdict.to_dict()) == "learned: fine"


def test_a_map_of_a_run_that_did_not_learn_carries_the_warning():
    matrix = InteractionMatrix(np.eye(3), ["a", "b", "c"], "tii", "TII", "d", "approximation")
    # a learned map's subtitle is its caption only (run, view, data, tier): no warning
    assert "did not learn" not in heatmap_figure(matrix).layout.title.subtitle.text
    mark(matrix, Verdict(NOT_LEARNED, "did not learn: validation RMSE 1.2 vs 1.1", ()))
    subtitle = heatmap_figure(matrix).layout.title.subtitle.text
    assert "did not learn" in subtitle and "noise" in subtitle
    mark(matrix, Verdict(LEARNED, "learned: fine", ()))
    assert "health" not in matrix.extra


# --- real trainings: a frozen model and one that learns ---------------------------------------


@pytest.fixture(scope="module")
def frozen():
    """A DLRM whose learning rate is 1e-7: two epochs that change nothing (no dropout, so the
    training loss is exact and cannot fall by chance)."""
    config = RunConfig(
        model="dlrm",
        hparams={"top_mlp": [16], "dropout": 0.0},
        train=TrainConfig(epochs=2, batch_size=256, learning_rate=1e-7),
    )
    return train_run(config, table=synthetic_ratings(n_rows=1500, seed=1))


@pytest.fixture(scope="module")
def learned_table():
    return synthetic_ratings(n_rows=3000, seed=0)


@pytest.fixture(scope="module")
def learned(learned_table):
    config = RunConfig(model="dnn", train=TrainConfig(epochs=3, batch_size=128, learning_rate=1e-2))
    return train_run(config, table=learned_table)


@pytest.fixture(scope="module")
def health_store(tmp_path_factory, frozen, learned):
    store = RunStore(tmp_path_factory.mktemp("health-runs"))
    return store, store.save(frozen), store.save(learned)


def test_a_frozen_model_did_not_learn(frozen):
    verdict = frozen.health
    assert verdict.status == NOT_LEARNED and verdict.warns
    assert verdict.check("loss_fell").passed is False  # ~1e-5 of the loss in two epochs
    assert verdict.check("validation_vs_baseline").passed is False
    assert verdict.check("test_vs_baseline").passed is False
    assert verdict.summary.startswith("did not learn: validation RMSE ")


def test_a_short_training_on_a_real_signal_learned(learned, learned_table):
    verdict = learned.health
    assert verdict.status == LEARNED, verdict.summary
    assert all(c.passed is not False for c in verdict.checks)
    # The test baseline, recomputed independently: the final model trained on the whole training
    # part (refit), so the constant is its mean, scored on the test rows.
    train_df, test_df = split_table(learned_table, 0.2, 42, "random")
    y_train = train_df["user_rating"].to_numpy("float64")
    y_test = test_df["user_rating"].to_numpy("float64")
    expected = math.sqrt(np.mean((y_test - y_train.mean()) ** 2))
    test = verdict.check("test_vs_baseline")
    assert test.baseline == pytest.approx(expected, rel=1e-6)
    assert test.value == pytest.approx(learned.test_metrics["rmse"], rel=1e-12)
    assert test.value < test.baseline * 0.99
    assert verdict.summary.startswith("learned: validation RMSE ") and " → " in verdict.summary


def test_the_verdict_is_saved_listed_and_read_back(health_store):
    store, frozen_run, learned_run = health_store
    meta = json.loads((frozen_run.path / "run.json").read_text())
    assert meta["health"]["status"] == NOT_LEARNED
    assert verdict_of_run(store.open(frozen_run.run_id)).status == NOT_LEARNED
    statuses = dict(zip(store.list()["run_id"], store.list()["health"], strict=True))
    assert statuses[frozen_run.run_id] == NOT_LEARNED
    assert statuses[learned_run.run_id] == LEARNED


def test_a_run_saved_before_verdicts_reads_as_unknown_and_still_opens(health_store, tmp_path):
    store, frozen_run, learned_run = health_store
    old = RunStore(tmp_path)
    for run in (frozen_run, learned_run):
        shutil.copytree(run.path, tmp_path / run.run_id)
        meta = json.loads((run.path / "run.json").read_text())
        del meta["health"]
        (tmp_path / run.run_id / "run.json").write_text(json.dumps(meta))
    statuses = dict(zip(old.list()["run_id"], old.list()["health"], strict=True))
    # without the training targets there is no baseline: unknown, unless the saved history
    # already shows a loss that never fell
    assert statuses[learned_run.run_id] == UNKNOWN
    assert statuses[frozen_run.run_id] == NOT_LEARNED
    opened = old.open(learned_run.run_id)
    assert verdict_of_run(opened.meta).summary.startswith("unknown: saved before")
    assert opened.model is not None


def test_the_report_opens_with_the_verdict(health_store):
    from recsys_core.viz.report import run_report

    store, frozen_run, _ = health_store
    text = run_report(store.open(frozen_run.run_id), max_maps=0)
    top = text.index("did not learn")
    assert top < text.index("Test metrics") and "maps show noise" in text


def test_the_interactions_page_warns_about_a_run_that_did_not_learn(
    store_at,  # noqa: F811
    health_store,
):
    store, frozen_run, learned_run = health_store
    store_at(store.root)
    at = _page("interactions", run=frozen_run.run_id)
    warnings = [w.value for w in at.warning]
    assert any("did not learn" in w and "noise, not learned interactions" in w for w in warnings)
    heat = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert "did not learn" in heat["layout"]["title"]["subtitle"]["text"]
    at = _page("interactions", run=learned_run.run_id)
    assert not any("did not learn" in w.value for w in at.warning)
    home = _page("home")
    table = home.dataframe[0].value.set_index("run_id")
    assert table.loc[frozen_run.run_id, "health"] == NOT_LEARNED


def test_cli_train_json_carries_the_verdict_and_runs_shows_it(tmp_path, capsys):
    rng = np.random.default_rng(0)
    n = 1500
    item = rng.integers(0, 20, n)
    effect = rng.normal(0.0, 1.0, 20)
    table = pd.DataFrame({"user_id": rng.integers(0, 30, n), "item_id": item,
                          "y": 3.0 + effect[item] + rng.normal(0.0, 0.3, n)})  # fmt: skip
    table.to_csv(tmp_path / "t.csv", index=False)
    runs = tmp_path / "runs"
    argv = ["train", "--data", str(tmp_path / "t.csv"), "--target", "y", "--model", "dnn",
            "--epochs", "3", "--batch-size", "128", "--learning-rate", "0.01",
            "--runs-dir", str(runs), "--json"]  # fmt: skip
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    health = result["health"]
    assert health["status"] in STATUSES and health["summary"].startswith(health["status"])
    assert health["status"] == LEARNED, health["summary"]
    assert {c["name"] for c in health["checks"]} >= {"loss_fell", "test_vs_baseline"}
    assert main(["runs", "--runs-dir", str(runs)]) == 0
    listing = capsys.readouterr().out
    assert "health" in listing.splitlines()[0] and LEARNED in listing


@pytest.fixture(scope="module")
def frozen_check():
    """A planted check whose model cannot learn (learning rate 1e-7): its recovery is noise."""
    from recsys_core.analysis.validation import planted_check

    train = TrainConfig(epochs=2, batch_size=256, learning_rate=1e-7)
    return planted_check("fm", "ctr", n_rows=2000, train=train, tii_rows=200, n_boot=10)


def test_a_planted_check_carries_the_verdict_of_its_model(frozen_check):
    from recsys_core.analysis.validation import PlantedCheck

    assert frozen_check.health.status == NOT_LEARNED and not frozen_check.meaningful
    assert "did not learn" in frozen_check.recovered.extra["health"]["summary"]
    assert all("health" in m.extra for m in frozen_check.native.values())
    back = PlantedCheck.from_dict(json.loads(json.dumps(frozen_check.to_dict())))
    assert back.health == frozen_check.health and not back.meaningful


def test_the_trust_page_says_the_recovery_of_a_model_that_did_not_learn_is_meaningless(
    store_at,  # noqa: F811
    tmp_path,
    monkeypatch,
    frozen_check,
):
    from types import SimpleNamespace

    from recsys_core import dashboard

    store_at(tmp_path)
    # The page as it shows a finished check (what a worker wrote), without a queue and a worker.
    job = SimpleNamespace(label="fm on planted ctr", owner="", state="done", elapsed=1.0,
                          epochs=[], error=None, result=frozen_check.to_dict())  # fmt: skip
    queue = SimpleNamespace(store=RunStore(tmp_path), jobs=lambda **kw: [job])
    fake = lambda: queue  # noqa: E731
    fake.cache_clear = lambda: None
    monkeypatch.setattr(dashboard, "job_manager", fake)
    at = _page("trust")
    assert any("meaningless" in w.value and "did not learn" in w.value for w in at.warning)
    assert any("meaningless" in m.label for m in at.metric)
    found = json.loads(at.get("plotly_chart")[1].proto.spec)  # the recovered map
    assert "did not learn" in found["layout"]["title"]["subtitle"]["text"]
