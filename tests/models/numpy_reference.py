"""NumPy references shared by the model tests: randomised tiny models and the pieces models share."""

import keras
import numpy as np

from recsys_core.data import synthetic_ratings
from recsys_core.models import build_model


def randomised(name, pre, **hparams):
    """A model built with output_bias 2.5, its initial weights, then all its weights made random
    (the linear weights start at zero otherwise): (model, initial weights, random weights)."""
    keras.utils.set_random_seed(0)
    model = build_model(name, pre, hparams, output_bias=2.5)
    initial = {v.path: np.asarray(v.value, "float64") for v in model.weights}
    rng = np.random.default_rng(0)
    for v in model.weights:
        v.assign(rng.normal(scale=0.3, size=v.shape).astype("float32"))
    return model, initial, {v.path: np.asarray(v.value, "float64") for v in model.weights}


def inputs(pre):
    return pre.transform(synthetic_ratings(12, seed=4))


def fields(w, name, pre, x):
    """(batch, F, D): one embedding row per sparse field, then the projected continuous block."""
    vecs = [w[f"{name}/embedding/embedding_{f}/embeddings"][x[f]] for f in pre.spec.categorical]
    proj = f"{name}/continuous_projection"
    vecs.append(x["continuous"] @ w[f"{proj}/kernel"] + w[f"{proj}/bias"])
    return np.stack(vecs, axis=1)


def linear(w, name, pre, x):
    """(batch,): one weight per sparse value plus a linear map of the continuous columns."""
    out = sum(
        w[f"{name}/linear/values/embedding_{f}/embeddings"][x[f], 0] for f in pre.spec.categorical
    )
    return out + (x["continuous"] @ w[f"{name}/linear/continuous/kernel"])[:, 0]


def mlp(w, prefix, h, n_layers):
    """NumPy MLP: ReLU hidden layers, a linear last layer."""
    for i in range(n_layers):
        h = h @ w[f"{prefix}/dense_{i}/kernel"] + w[f"{prefix}/dense_{i}/bias"]
        if i < n_layers - 1:
            h = np.maximum(h, 0.0)
    return h[:, 0]
