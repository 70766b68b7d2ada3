"""From a run configuration to a trained run: load, split, preprocess, build, train, evaluate."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import keras
import numpy as np
import pandas as pd

from recsys_core import _backend, limits  # noqa: F401  (_backend: JAX before keras)
from recsys_core.data.movielens import load_movielens_100k
from recsys_core.data.splits import split_table
from recsys_core.errors import DataError, RecsysCoreError, wrap
from recsys_core.features.preprocessing import Preprocessor
from recsys_core.features.spec import FeatureSpec, movielens_spec
from recsys_core.models.registry import build_model, get_entry, resolve_hparams
from recsys_core.training.engine import CancelFlag, EpochLog, History, TrainConfig, Trainer
from recsys_core.training.health import Verdict, assess
from recsys_core.training.metrics import task_metrics

DATASETS = ("movielens-100k",)
HOLDOUT_ROWS = 2000  # held-out rows kept with a run so analysis needs no data set at hand


@dataclass
class RunConfig:
    """Everything that defines a run; saved with it so it can be reproduced."""

    model: str = "dlrm"
    dataset: str = "movielens-100k"
    task: str = "regression"
    features: str = "default"
    hparams: dict[str, Any] = field(default_factory=dict)
    train: TrainConfig = field(default_factory=TrainConfig)
    split: str = "random"
    test_fraction: float = 0.2
    split_seed: int = 42
    validation_fraction: float = 0.1
    # after early stopping, train again from the same seed on all training rows (validation part
    # included) for the best epoch count, along the same learning-rate schedule
    refit: bool = True
    # dataset "table": the user's table (file name, path, rows, schema, feature spec); see
    # recsys_core.data.user_table.UserTable.run_data
    data: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        limits.check_seed(self.split_seed, "split_seed")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["train"] = self.train.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunConfig:
        d = dict(d)
        d["train"] = TrainConfig(**d.get("train", {}))
        d.setdefault("refit", False)  # runs saved before refitting existed were not refitted
        return cls(**d)


@dataclass
class TrainedRun:
    config: RunConfig
    model: keras.Model
    preprocessor: Preprocessor
    history: History
    test_metrics: dict[str, float]
    params: int
    train_seconds: float
    holdout: pd.DataFrame
    data_source: str
    # did it learn? (recsys_core.training.health); None only for runs built by hand
    health: Verdict | None = None


def load_dataset(name: str) -> tuple[pd.DataFrame, FeatureSpec | None, str]:
    if name == "movielens-100k":
        df = load_movielens_100k()
        return df, None, df.attrs.get("source", "movielens-100k")
    raise DataError(f"unknown dataset {name!r}; available: {', '.join(DATASETS)}.")


def check_run(config: RunConfig, spec: FeatureSpec | None = None) -> None:
    """Refuse a run that is over a budget of :mod:`recsys_core.limits`, before any work starts.

    Without ``spec``: what the configuration alone shows (the epoch count). With it: the field
    count, and the pair count of a model that forms every pair. ``train_run`` calls it; a job queue
    can call it when a training is submitted, so the refusal comes before the wait in the queue.
    Budgets that need the fitted vocabularies (bag lengths, parameters) follow in ``_prepared``.
    """
    limits.EPOCHS.check(config.train.epochs, "the training asks for")
    if spec is None:
        return
    limits.check_fields(spec, f"the {config.data.get('name', config.dataset)!r} table")
    if get_entry(config.model).cls.forms_pairs:
        limits.check_pairs(config.model, len(spec.fields))


def _prepared(
    config: RunConfig, spec: FeatureSpec, hparams: dict[str, Any], rows: pd.DataFrame
) -> tuple[Preprocessor, keras.Model]:
    """A preprocessor fitted on ``rows`` and the model built on it from the run's seed.

    Between the two, the budgets that need the fitted preprocessor: every row of a multi-hot field
    is padded to its longest bag, and a constant regression target leaves nothing to learn.
    """
    pre = Preprocessor(spec).fit(rows)
    for col, size in pre.bag_sizes.items():
        limits.BAG_LENGTH.check(size, f"multi-hot column {col!r} has a bag of")
    low, high = pre.target_range or (None, None)
    if spec.task == "regression" and low is not None and low == high:
        raise DataError(
            f"the target {spec.target!r} is {low:g} in every training row: a "
            "constant target leaves a regression nothing to learn."
        )
    keras.utils.set_random_seed(config.train.seed)
    try:
        return pre, build_model(config.model, pre, hparams)
    except ValueError as exc:  # e.g. a pairwise model on a table with a single field
        if isinstance(exc, RecsysCoreError):
            raise
        on = f"the fields {spec.fields}" if len(spec.fields) <= 20 else f"{len(spec.fields)} fields"
        raise wrap(DataError, f"{config.model} cannot be built on {on}", exc) from exc


def train_run(
    config: RunConfig,
    table: pd.DataFrame | None = None,
    spec: FeatureSpec | None = None,
    on_epoch: Callable[[EpochLog], None] | None = None,
    cancel: CancelFlag | None = None,
) -> TrainedRun:
    """Train ``config.model`` on the configured data set (or on ``table`` with ``spec``)."""
    check_run(config)
    hparams = resolve_hparams(config.model, config.hparams)
    if table is None and config.dataset == "table":
        from recsys_core.data.user_table import table_from_run_data

        table, spec = table_from_run_data(config.data)
        source = config.data.get("name", config.dataset)
    elif table is None:
        table, spec, source = load_dataset(config.dataset)
    else:
        source = config.data.get("name", config.dataset)
    if spec is None:
        spec = movielens_spec(config.features, task=config.task)
    check_run(config, spec)
    train_df, test_df = split_table(table, config.test_fraction, config.split_seed, config.split)
    fit_df, val_df = (
        split_table(train_df, config.validation_fraction, config.split_seed + 1, config.split)
        if config.validation_fraction > 0
        else (train_df, None)
    )
    pre, model = _prepared(config, spec, hparams, fit_df)
    trainer = Trainer(model, spec.task, config.train)
    start = time.perf_counter()
    y_fit = y_train = pre.target(fit_df)
    y_val = pre.target(val_df) if val_df is not None else None
    history = trainer.fit(
        pre.transform(fit_df),
        y_fit,
        pre.transform(val_df) if val_df is not None else None,
        y_val,
        on_epoch=on_epoch,
        cancel=cancel,
    )
    if config.refit and val_df is not None and history.best_epoch >= 1:
        # The validation part only chose the epoch count; its rows (and the users and items only
        # they contain) are worth training on: 0.003-0.007 RMSE on MovieLens 100K.
        pre, model = _prepared(config, spec, hparams, train_df)
        trainer = Trainer(
            model, spec.task, replace(config.train, epochs=history.best_epoch, patience=0)
        )
        y_train = pre.target(train_df)
        refit = trainer.fit(
            pre.transform(train_df),
            y_train,
            on_epoch=None
            if on_epoch is None
            else lambda log: on_epoch(replace(log, phase="refit")),
            cancel=cancel,
            schedule_epochs=config.train.epochs,
        )
        history.refit_epochs = history.best_epoch
        history.refit_history = refit.epochs
    seconds = time.perf_counter() - start
    y_test = pre.target(test_df)
    predictions = trainer.predict(pre.transform(test_df))
    test_metrics = task_metrics(spec.task, y_test, predictions)
    # A model that learned nothing is still saved, but marked: its maps would show noise.
    health = assess(spec.task, history.epochs, history.best_epoch, y_fit, y_val, y_train, y_test,
                    test_metrics, predictions)  # fmt: skip
    sample = np.random.default_rng(config.split_seed).permutation(len(test_df))[:HOLDOUT_ROWS]
    return TrainedRun(
        config=RunConfig.from_dict({**config.to_dict(), "hparams": hparams}),
        model=model,
        preprocessor=pre,
        history=history,
        test_metrics=test_metrics,
        params=int(model.count_params()),
        train_seconds=seconds,
        holdout=test_df.iloc[np.sort(sample)].reset_index(drop=True),
        data_source=source,
        health=health,
    )
