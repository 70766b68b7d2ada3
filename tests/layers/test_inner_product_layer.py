"""InnerProductLayer (reduce_sum True/False): NumPy, DeepCTR golden, shapes, save, jit/grad, explain, errors."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import keras
import numpy as np
import pytest

from recsys_core.layers.inner_product_layer import InnerProductLayer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def load(name: str) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray]:
    d = np.load(FIXTURES / f"deepctr_{name}.npz")
    xs = [d[k] for k in sorted(d.files) if k.startswith("x")]
    ws = [d[k] for k in sorted(d.files) if k[0] == "w" and k[1:].isdigit()]
    return xs, ws, d["y"]


def inner_numpy(xs: list[np.ndarray], reduce_sum: bool) -> np.ndarray:
    f = len(xs)
    out = [xs[i][:, 0] * xs[j][:, 0] for i in range(f) for j in range(i + 1, f)]
    out = np.stack(out, axis=1)
    return out.sum(-1, keepdims=True) if reduce_sum else out


def fields(seed: int, f: int = 4, e: int = 3, b: int = 3) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(b, 1, e)).astype("float32") for _ in range(f)]


def test_hand_computed() -> None:
    xs = [np.array([[[1.0, 2.0]]]), np.array([[[3.0, -1.0]]]), np.array([[[0.5, 4.0]]])]
    xs = [x.astype("float32") for x in xs]
    np.testing.assert_allclose(
        np.asarray(InnerProductLayer()(xs)), [[[1.0], [8.5], [-2.5]]], rtol=1e-6
    )
    np.testing.assert_allclose(
        np.asarray(InnerProductLayer(reduce_sum=False)(xs)),
        [[[3.0, -2.0], [0.5, 8.0], [1.5, -4.0]]],
        rtol=1e-6,
    )
    xs = fields(0, f=5)
    for reduce_sum in (True, False):
        np.testing.assert_allclose(
            np.asarray(InnerProductLayer(reduce_sum)(xs)), inner_numpy(xs, reduce_sum), rtol=1e-5
        )


@pytest.mark.parametrize("mode", ["reduce_sum", "no_reduce_sum"])
def test_deepctr_golden(mode: str) -> None:
    xs, ws, y = load(f"inner_product_layer_{mode}")
    layer = InnerProductLayer(reduce_sum=mode == "reduce_sum")
    layer.build([x.shape for x in xs])
    layer.set_weights(ws)
    np.testing.assert_allclose(np.asarray(layer(xs)), y, rtol=1e-5, atol=1e-5)


def test_shapes() -> None:
    shapes = [(None, 1, 5)] * 4
    assert InnerProductLayer().compute_output_shape(shapes) == (None, 6, 1)
    assert InnerProductLayer(False).compute_output_shape(shapes) == (None, 6, 5)
    inputs = [keras.Input((1, 5)) for _ in range(4)]
    assert InnerProductLayer()(inputs).shape == (None, 6, 1)
    assert InnerProductLayer(False)(inputs).shape == (None, 6, 5)


@pytest.mark.parametrize("reduce_sum", [True, False])
def test_config_and_save(tmp_path: Path, reduce_sum: bool) -> None:
    layer = InnerProductLayer(reduce_sum=reduce_sum)
    config = layer.get_config()
    assert config["reduce_sum"] is reduce_sum
    assert InnerProductLayer.from_config(config).reduce_sum is reduce_sum
    inputs = [keras.Input((1, 3)) for _ in range(4)]
    model = keras.Model(inputs, layer(inputs))
    xs = fields(1)
    model.save(tmp_path / "ip.keras")
    loaded = keras.saving.load_model(tmp_path / "ip.keras")
    np.testing.assert_allclose(np.asarray(loaded(xs)), np.asarray(model(xs)), rtol=1e-6)


def test_jit_and_grad() -> None:
    xs = fields(2)
    layer = InnerProductLayer()
    np.testing.assert_allclose(
        np.asarray(jax.jit(layer)(xs)), inner_numpy(xs, True), rtol=1e-5, atol=1e-5
    )
    grads = jax.grad(lambda ts: jnp.sum(layer(ts)))([jnp.asarray(x) for x in xs])
    total = sum(xs)
    for x, g in zip(xs, grads, strict=True):
        np.testing.assert_allclose(np.asarray(g), total - x, rtol=1e-5, atol=1e-5)


def test_pair_terms() -> None:
    xs = fields(3, f=5)
    for reduce_sum in (True, False):
        layer = InnerProductLayer(reduce_sum)
        terms = np.asarray(layer.pair_terms(xs))
        out = np.asarray(layer(xs)).sum(-1)
        assert terms.shape == (3, 5, 5)
        np.testing.assert_allclose(np.diagonal(terms, axis1=1, axis2=2), 0.0)
        for k, (i, j) in enumerate(layer.pair_index(5)):
            want = np.sum(xs[i][:, 0] * xs[j][:, 0], axis=-1)
            np.testing.assert_allclose(terms[:, i, j], want, rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(terms[:, j, i], want, rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(out[:, k], want, rtol=1e-5, atol=1e-6)


def test_errors() -> None:
    with pytest.raises(ValueError, match="reduce_sum must be True or False, got 'yes'"):
        InnerProductLayer(reduce_sum="yes")
    with pytest.raises(ValueError, match="at least 2 inputs, got 1"):
        InnerProductLayer()([np.zeros((2, 1, 3), "float32")])
    with pytest.raises(ValueError, match="got a single tensor of shape"):
        InnerProductLayer()(np.zeros((2, 4, 3), "float32"))
    with pytest.raises(ValueError, match=r"shape \(2, 2, 3\) for input 1"):
        InnerProductLayer()([np.zeros((2, 1, 3), "float32"), np.zeros((2, 2, 3), "float32")])
    with pytest.raises(ValueError, match="same shape"):
        InnerProductLayer()([np.zeros((2, 1, 3), "float32"), np.zeros((2, 1, 4), "float32")])
