"""What the native-view tests share: a small planted table, fast training, NumPy field vectors."""

from __future__ import annotations

import keras
import numpy as np

from recsys_core.data.planted import CTR_FIELDS, planted_table
from recsys_core.features.preprocessing import Preprocessor
from recsys_core.models import build_model
from recsys_core.training.engine import TrainConfig, Trainer

# The CTR table without its three id-like fields (1000, 1000, 100 values): 8 fields, 28 pairs, the
# same 4 planted pairs; small models fit it from a few thousand rows (test RMSE ~0.55-0.65 against a
# label noise of 0.5).
SMALL_FIELDS = tuple(f for f in CTR_FIELDS if f[1] <= 24)
N_ROWS, N_FIT = 4000, 3000


def planted_data():
    """``(fit rows, held-out rows, fitted preprocessor, truth)`` of the planted regression table."""
    df, spec, truth = planted_table(
        "ctr", n_rows=N_ROWS, seed=0, task="regression", fields=SMALL_FIELDS
    )
    fit, holdout = df.iloc[:N_FIT], df.iloc[N_FIT:].reset_index(drop=True)
    return fit, holdout, Preprocessor(spec).fit(fit), truth


def train(name, pre, fit, epochs=8, **hparams):
    """Model ``name`` (embedding width 8) trained on ``fit``: Adam, batch 64, lr 0.02, no
    validation split and no test evaluation (one compilation per model)."""
    keras.utils.set_random_seed(0)
    model = build_model(name, pre, {"embedding_dim": 8, **hparams})
    config = TrainConfig(epochs=epochs, batch_size=64, learning_rate=2e-2, seed=0)
    Trainer(model, "regression", config).fit(pre.transform(fit), pre.target(fit))
    return model


def randomised(name, pre, scale=0.3, **hparams):
    """Model ``name`` built untrained, every weight then drawn at random (seeded)."""
    keras.utils.set_random_seed(0)
    model = build_model(name, pre, {"embedding_dim": 4, **hparams})
    rng = np.random.default_rng(0)
    for v in model.weights:
        v.assign(rng.normal(scale=scale, size=v.shape).astype("float32"))
    return model


def weights(model):
    return {v.path: np.asarray(v.value, "float64") for v in model.weights}


def field_vectors(model, pre, x):
    """``(n, F, D)`` embedding rows of the sparse fields looked up in NumPy (no continuous field)."""
    w = weights(model)
    return np.stack(
        [w[f"{model.name}/embedding/embedding_{f}/embeddings"][x[f]] for f in pre.spec.categorical],
        axis=1,
    )


def upper_sum(matrix):
    """Sum of the strict upper triangle of ``(n, F, F)`` (or ``(F, F)``) matrices."""
    f = matrix.shape[-1]
    iu = np.triu_indices(f, k=1)
    return matrix[..., iu[0], iu[1]].sum(axis=-1)
