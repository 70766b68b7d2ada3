"""Training: the JAX engine, metrics, and the run pipeline."""

from recsys_core.training.engine import (
    EpochLog,
    History,
    TrainConfig,
    Trainer,
    TrainingCancelled,
    predict,
)
from recsys_core.training.pipeline import RunConfig, TrainedRun, train_run

__all__ = [
    "EpochLog",
    "History",
    "RunConfig",
    "TrainConfig",
    "TrainedRun",
    "Trainer",
    "TrainingCancelled",
    "predict",
    "train_run",
]
