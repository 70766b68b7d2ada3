"""FieldWiseBiInteraction (use_bias True/False): NumPy, DeepCTR golden, shapes, save, jit/grad, explain, errors."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import keras
import numpy as np
import pytest

from recsys_core.layers.field_wise_bi_interaction import FieldWiseBiInteraction

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SIZES = (2, 1, 3, 2)


def load(name: str) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray]:
    d = np.load(FIXTURES / f"deepctr_{name}.npz")
    xs = [d[k] for k in sorted(d.files) if k.startswith("x")]
    ws = [d[k] for k in sorted(d.files) if k[0] == "w" and k[1:].isdigit()]
    return xs, ws, d["y"]


def fwbi_numpy(xs: list[np.ndarray], ws: list[np.ndarray], use_bias: bool) -> np.ndarray:
    """Inter-group: sum_{m<n} r_k s_m * s_n; intra-group: sum_m c_m * 2 sum_{u<v in m} u * v."""
    r, c = ws[0][:, 0], ws[1][:, 0]
    sums = [x.sum(axis=1) for x in xs]
    out = np.zeros_like(sums[0], dtype="float64")
    k = 0
    for m in range(len(xs)):
        for n in range(m + 1, len(xs)):
            out += r[k] * sums[m] * sums[n]
            k += 1
    for m, x in enumerate(xs):
        for u in range(x.shape[1]):
            for v in range(u + 1, x.shape[1]):
                out += c[m] * 2.0 * x[:, u] * x[:, v]
    if use_bias:
        out += ws[2] + ws[3]
    return out


def groups(seed: int, sizes: tuple[int, ...] = SIZES, e: int = 3, b: int = 3) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(b, n, e)).astype("float32") for n in sizes]


def built(use_bias: bool, xs: list[np.ndarray], seed: int) -> tuple[FieldWiseBiInteraction, list]:
    layer = FieldWiseBiInteraction(use_bias=use_bias)
    layer.build([x.shape for x in xs])
    rng = np.random.default_rng(seed)
    ws = [rng.normal(size=w.shape).astype("float32") for w in layer.get_weights()]
    layer.set_weights(ws)
    return layer, ws


def test_hand_computed() -> None:
    # group 0: u = [1, 2], w = [3, -1]; group 1: z = [0.5, 4]; default weights r=1, c=0.5, b=0
    xs = [np.array([[[1.0, 2.0], [3.0, -1.0]]], "float32"), np.array([[[0.5, 4.0]]], "float32")]
    layer = FieldWiseBiInteraction()
    # (u + w) * z + 0.5 * 2 * u * w = [4 * 0.5, 1 * 4] + [3, -2] = [5, 2]
    np.testing.assert_allclose(np.asarray(layer(xs)), [[5.0, 2.0]], rtol=1e-6)
    xs = groups(0)
    for use_bias in (True, False):
        layer, ws = built(use_bias, xs, 1)
        np.testing.assert_allclose(
            np.asarray(layer(xs)), fwbi_numpy(xs, ws, use_bias), rtol=1e-5, atol=1e-5
        )


@pytest.mark.parametrize("mode", ["bias", "no_bias"])
def test_deepctr_golden(mode: str) -> None:
    xs, ws, y = load(f"field_wise_bi_interaction_{mode}")
    layer = FieldWiseBiInteraction(use_bias=mode == "bias")
    layer.build([x.shape for x in xs])
    layer.set_weights(ws)
    np.testing.assert_allclose(np.asarray(layer(xs)), y, rtol=1e-5, atol=1e-5)


def test_shapes_and_weights() -> None:
    shapes = [(None, n, 5) for n in SIZES]
    assert FieldWiseBiInteraction().compute_output_shape(shapes) == (None, 5)
    layer = FieldWiseBiInteraction()
    assert layer([keras.Input((n, 5)) for n in SIZES]).shape == (None, 5)
    assert [tuple(w.shape) for w in layer.weights] == [(6, 1), (4, 1), (5,), (5,)]
    np.testing.assert_allclose(layer.get_weights()[1], 0.5)
    no_bias = FieldWiseBiInteraction(use_bias=False)
    no_bias([keras.Input((n, 5)) for n in SIZES])
    assert [w.name for w in no_bias.weights] == ["kernel_mf", "kernel_fm"]


@pytest.mark.parametrize("use_bias", [True, False])
def test_config_and_save(tmp_path: Path, use_bias: bool) -> None:
    config = FieldWiseBiInteraction(use_bias=use_bias, seed=3).get_config()
    assert (config["use_bias"], config["seed"]) == (use_bias, 3)
    assert FieldWiseBiInteraction.from_config(config).use_bias is use_bias
    inputs = [keras.Input((n, 3)) for n in SIZES]
    layer = FieldWiseBiInteraction(use_bias=use_bias)
    model = keras.Model(inputs, layer(inputs))
    rng = np.random.default_rng(5)
    layer.set_weights([rng.normal(size=w.shape).astype("float32") for w in layer.weights])
    xs = groups(1)
    model.save(tmp_path / "fwbi.keras")
    loaded = keras.saving.load_model(tmp_path / "fwbi.keras")
    np.testing.assert_allclose(np.asarray(loaded(xs)), np.asarray(model(xs)), rtol=1e-6)


def test_jit_and_grad() -> None:
    xs = groups(2)
    layer, ws = built(True, xs, 3)
    np.testing.assert_allclose(
        np.asarray(jax.jit(layer)(xs)), fwbi_numpy(xs, ws, True), rtol=1e-5, atol=1e-5
    )
    grads = jax.grad(lambda ts: jnp.sum(layer(ts)))([jnp.asarray(x) for x in xs])
    eps = 1e-6
    x64 = [x.astype("float64") for x in xs]
    for n, g in enumerate(grads):
        numeric = np.zeros_like(x64[n])
        for idx in np.ndindex(x64[n].shape):
            up = [x.copy() for x in x64]
            down = [x.copy() for x in x64]
            up[n][idx] += eps
            down[n][idx] -= eps
            diff = fwbi_numpy(up, ws, True).sum() - fwbi_numpy(down, ws, True).sum()
            numeric[idx] = diff / (2 * eps)
        np.testing.assert_allclose(np.asarray(g), numeric, rtol=1e-4, atol=1e-4)


def test_pair_terms() -> None:
    xs = groups(4)
    for use_bias in (True, False):
        layer, ws = built(use_bias, xs, 6)
        terms = np.asarray(layer.pair_terms(xs))
        assert terms.shape == (3, 4, 4)
        r, c = ws[0][:, 0], ws[1][:, 0]
        sums = [x.sum(axis=1) for x in xs]
        for k, (m, n) in enumerate(layer.pair_index(4)):
            want = r[k] * np.sum(sums[m] * sums[n], axis=-1)
            np.testing.assert_allclose(terms[:, m, n], want, rtol=1e-5, atol=1e-5)
            np.testing.assert_allclose(terms[:, n, m], want, rtol=1e-5, atol=1e-5)
        for m, x in enumerate(xs):
            intra = np.sum(sums[m] ** 2 - np.sum(x**2, axis=1), axis=-1)
            np.testing.assert_allclose(terms[:, m, m], c[m] * intra, rtol=1e-5, atol=1e-5)
        bias = (ws[2].sum() + ws[3].sum()) if use_bias else 0.0
        np.testing.assert_allclose(
            np.triu(terms).sum(axis=(1, 2)) + bias,
            np.asarray(layer(xs)).sum(axis=-1),
            rtol=1e-5,
            atol=1e-4,
        )


def test_errors() -> None:
    with pytest.raises(ValueError, match="use_bias must be True or False, got 'no'"):
        FieldWiseBiInteraction(use_bias="no")
    with pytest.raises(ValueError, match="at least 2 inputs, got 1"):
        FieldWiseBiInteraction()([np.zeros((2, 2, 3), "float32")])
    with pytest.raises(ValueError, match="got a single tensor"):
        FieldWiseBiInteraction()(np.zeros((2, 4, 3), "float32"))
    with pytest.raises(ValueError, match="rank 2"):
        FieldWiseBiInteraction()([np.zeros((2, 3), "float32"), np.zeros((2, 1, 3), "float32")])
    with pytest.raises(ValueError, match="same embedding_size"):
        FieldWiseBiInteraction()([np.zeros((2, 2, 3), "float32"), np.zeros((2, 1, 4), "float32")])
