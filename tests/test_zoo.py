"""Every registered model: builds from the feature spec, learns, saves and reloads, runs under jit/grad."""

import jax
import jax.numpy as jnp
import keras
import numpy as np
import pytest

from recsys_core.data import split_table, synthetic_ratings
from recsys_core.features import Preprocessor, movielens_spec
from recsys_core.models import MODELS, InteractionModel, build_model
from recsys_core.training import TrainConfig, Trainer, predict


@pytest.fixture(scope="module")
def data():
    train, test = split_table(synthetic_ratings(1500, seed=11))
    pre = Preprocessor(movielens_spec()).fit(train)
    return pre, pre.transform(train), pre.target(train), pre.transform(test)


def _model(name, pre):
    keras.utils.set_random_seed(0)
    return build_model(name, pre)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_one_epoch_lowers_the_loss(name, data):
    pre, x, y, _ = data
    model = _model(name, pre)
    assert isinstance(model, InteractionModel)
    trainer = Trainer(
        model,
        "regression",
        TrainConfig(epochs=1, batch_size=64, patience=0, schedule="constant", learning_rate=1e-3),
    )
    before = float(np.mean((trainer.predict(x) - y) ** 2))
    trainer.fit(x, y)
    after = float(np.mean((trainer.predict(x) - y) ** 2))
    assert after < before, f"{name}: training MSE {before:.4f} -> {after:.4f}"


@pytest.mark.parametrize("name", sorted(MODELS))
def test_keras_round_trip_gives_identical_predictions(name, data, tmp_path):
    pre, _, _, x_test = data
    model = _model(name, pre)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert type(loaded) is type(model)
    assert loaded.get_config() == model.get_config()
    np.testing.assert_array_equal(
        predict(model, x_test, "regression"), predict(loaded, x_test, "regression")
    )


@pytest.mark.parametrize("name", sorted(MODELS))
def test_jit_and_grad_and_field_vectors(name, data):
    pre, x, _, _ = data
    model = _model(name, pre)
    xb = {k: v[:16] for k, v in x.items()}
    tv = [v.value for v in model.trainable_variables]
    ntv = [v.value for v in model.non_trainable_variables]

    def loss(tv):
        out, _ = model.stateless_call(tv, ntv, xb)
        return jnp.mean(out**2)

    value, grads = jax.jit(jax.value_and_grad(loss))(tv)
    assert np.isfinite(float(value)) and any(float(jnp.abs(g).sum()) > 0 for g in grads)
    vectors = model.field_vectors(xb)
    assert len(vectors) == len(model.field_names)
    assert model(xb).shape == (16, 1)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_binary_task_starts_at_the_base_rate(name):
    table = synthetic_ratings(600, seed=12)
    pre = Preprocessor(movielens_spec(task="binary")).fit(table)
    model = _model(name, pre)
    assert model.output_bias == pytest.approx(np.log(pre.target_mean / (1 - pre.target_mean)))
