import dataclasses
import threading

import keras
import numpy as np
import pytest

from recsys_core.data import split_table, synthetic_ratings
from recsys_core.errors import TrainingError
from recsys_core.features import Preprocessor, movielens_spec
from recsys_core.models import build_model
from recsys_core.training import RunConfig, TrainConfig, Trainer, TrainingCancelled, train_run
from recsys_core.training.metrics import auc, log_loss, mae, rmse


def _setup(task="regression", seed=0):
    train, test = split_table(synthetic_ratings(2000, seed=seed))
    pre = Preprocessor(movielens_spec(task=task)).fit(train)
    keras.utils.set_random_seed(seed)
    model = build_model("dlrm", pre, {"top_mlp": [32]})
    return pre, model, train, test


def test_metrics_against_hand_computation():
    y, p = np.array([1.0, 2.0, 4.0]), np.array([1.5, 2.0, 3.0])
    assert rmse(y, p) == pytest.approx(np.sqrt((0.25 + 0 + 1) / 3))
    assert mae(y, p) == pytest.approx(0.5)
    # 2 positives, 2 negatives: pairs (pos > neg) = (0.8>0.1, 0.8>0.4, 0.35>0.1) = 3 of 4
    assert auc(np.array([1, 0, 1, 0]), np.array([0.8, 0.4, 0.35, 0.1])) == pytest.approx(0.75)
    assert auc(np.array([1, 0]), np.array([0.5, 0.5])) == pytest.approx(0.5)
    assert log_loss(np.array([1, 0]), np.array([0.8, 0.3])) == pytest.approx(
        -(np.log(0.8) + np.log(0.7)) / 2
    )


@pytest.mark.parametrize("task", ["regression", "binary"])
def test_training_reduces_the_loss_and_beats_the_constant_baseline(task):
    pre, model, train, test = _setup(task)
    trainer = Trainer(model, task, TrainConfig(epochs=10, batch_size=128, patience=0))
    history = trainer.fit(pre.transform(train), pre.target(train))
    losses = [e["loss"] for e in history.epochs]
    assert losses[-1] < losses[0]
    y = pre.target(test)
    pred = trainer.predict(pre.transform(test))
    if task == "regression":
        assert rmse(y, pred) < rmse(y, np.full_like(y, pre.target_mean))
    else:
        assert auc(y, pred) > 0.56 and ((pred >= 0) & (pred <= 1)).all()


def test_training_is_reproducible_for_a_seed():
    config = RunConfig(
        hparams={"top_mlp": [16]}, train=TrainConfig(epochs=2, batch_size=256, seed=5)
    )
    table = synthetic_ratings(1500, seed=4)
    a, b = train_run(config, table=table), train_run(config, table=table)
    assert a.test_metrics == b.test_metrics
    assert [e["loss"] for e in a.history.epochs] == [e["loss"] for e in b.history.epochs]


def test_early_stopping_restores_the_best_epoch():
    pre, model, train, test = _setup()
    tr, va = split_table(train, 0.2, seed=1)
    trainer = Trainer(
        model,
        "regression",
        TrainConfig(epochs=40, batch_size=64, learning_rate=1e-2, patience=2, schedule="constant"),
    )
    history = trainer.fit(pre.transform(tr), pre.target(tr), pre.transform(va), pre.target(va))
    assert history.stopped_early
    val = [e["val_rmse"] for e in history.epochs]
    assert history.best_epoch == int(np.argmin(val)) + 1
    assert trainer.evaluate(pre.transform(va), pre.target(va))["rmse"] == pytest.approx(
        min(val), rel=1e-5
    )


def test_diverging_loss_stops_with_a_clear_message():
    pre, model, train, _ = _setup()
    y = np.full(len(train), 1e30, np.float32)
    with pytest.raises(TrainingError, match="diverged at epoch 1.*Lower the learning rate"):
        Trainer(model, "regression", TrainConfig(epochs=3)).fit(pre.transform(train), y)


def test_cancel_flag_stops_training():
    pre, model, train, _ = _setup()
    flag = threading.Event()
    seen = []

    def on_epoch(log):
        seen.append(log.epoch)
        flag.set()

    with pytest.raises(TrainingCancelled, match="cancelled before epoch 2"):
        Trainer(model, "regression", TrainConfig(epochs=5)).fit(
            pre.transform(train), pre.target(train), on_epoch=on_epoch, cancel=flag
        )
    assert seen == [1]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"epochs": 0}, "epochs must be >= 1"),
        ({"learning_rate": -1.0}, "learning_rate"),
        ({"schedule": "warp"}, "schedule"),
    ],
)
def test_bad_training_settings_are_errors(kwargs, message):
    with pytest.raises(TrainingError, match=message):
        TrainConfig(**kwargs)


@pytest.mark.movielens
def test_a_refit_follows_the_schedule_of_the_validated_run():
    def fresh(epochs):  # the same initial weights and dropout seeds each time
        pre, model, train, _ = _setup()
        trainer = Trainer(
            model, "regression", TrainConfig(epochs=epochs, batch_size=128, patience=0)
        )
        return trainer, pre.transform(train), pre.target(train)

    full, x, y = fresh(5)
    long_losses = [e["loss"] for e in full.fit(x, y).epochs]
    short, x, y = fresh(2)
    short_losses = [e["loss"] for e in short.fit(x, y, schedule_epochs=5).epochs]
    assert short_losses == pytest.approx(long_losses[:2], rel=1e-6)
    decayed, x, y = fresh(2)
    # without it the cosine decay would finish in 2 epochs: a different second epoch
    assert [e["loss"] for e in decayed.fit(x, y).epochs][1] != pytest.approx(long_losses[1])


def test_refit_trains_on_every_training_row_for_the_best_epoch_count():
    table = synthetic_ratings(1500, seed=4)
    config = RunConfig(
        hparams={"top_mlp": [16]}, train=TrainConfig(epochs=4, batch_size=256, seed=5)
    )
    logs = []
    run = train_run(config, table=table, on_epoch=logs.append)
    train_part, _ = split_table(table, config.test_fraction, config.split_seed)
    fit_part, _ = split_table(train_part, config.validation_fraction, config.split_seed + 1)
    spec = movielens_spec(task="regression")
    # users and movies seen only in the validation part get trained embeddings too
    assert run.preprocessor.vocabularies == Preprocessor(spec).fit(train_part).vocabularies
    fit_logs = [log for log in logs if log.phase == "fit"]
    refit_logs = [log for log in logs if log.phase == "refit"]
    assert len(fit_logs) == len(run.history.epochs) and all(log.val for log in fit_logs)
    assert len(refit_logs) == run.history.best_epoch == run.history.refit_epochs >= 1
    assert not any(log.val for log in refit_logs)

    kept = train_run(dataclasses.replace(config, refit=False), table=table)
    assert kept.history.refit_epochs == 0
    assert kept.preprocessor.vocabularies == Preprocessor(spec).fit(fit_part).vocabularies
    assert RunConfig.from_dict({"model": "dlrm"}).refit is False  # runs saved before refitting


def test_predicted_ratings_are_clipped_to_the_training_range_but_scores_are_not(tmp_path):
    from recsys_core.training.engine import predict, predict_scores

    pre, model, train, test = _setup()
    y = pre.target(train)
    assert model.output_range == [float(y.min()), float(y.max())] == pre.target_range
    x = pre.transform(test)
    scores = predict_scores(model, x)
    model.output_range = [2.5, 3.5]  # narrower than the untrained scores' spread
    ratings = predict(model, x, "regression")
    assert ratings == pytest.approx(np.clip(scores, 2.5, 3.5))
    assert (scores < 2.5).any() or (scores > 3.5).any()
    model.save(tmp_path / "m.keras")
    assert keras.saving.load_model(tmp_path / "m.keras").output_range == [2.5, 3.5]
    old = pre.to_dict()
    del old["target_range"]  # a run saved before the range was kept
    assert Preprocessor.from_dict(old).target_range is None
