"""Golden values from DeepCTR 0.9.4's pairwise interaction layers, for the migration tests.

Not needed at test time: the tests read the ``.npz`` files this script writes.

Create the reference environment (TensorFlow + tf-keras + DeepCTR, separate from the project's venv):

    python3.11 -m venv /work/deepctr-venv
    /work/deepctr-venv/bin/pip install tensorflow-cpu deepctr==0.9.4
    /work/deepctr-venv/bin/pip install --no-deps tf-keras

Run from the repository root:

    TF_USE_LEGACY_KERAS=1 /work/deepctr-venv/bin/python tools/golden_deepctr_pairwise.py

For every layer and mode it builds the DeepCTR layer on small random inputs, replaces every weight
by random normal values (so that the comparison does not hinge on zeros and ones), and writes
``tests/fixtures/deepctr_<layer>[_<mode>].npz`` holding:

- ``x`` (one input tensor) or ``x000``, ``x001``, ... (a list of input tensors),
- ``w000``, ``w001``, ... the weights in ``layer.get_weights()`` order, and ``weight_names``,
- ``y`` (one output tensor) or ``y000``, ``y001``, ... (a list of outputs, SENETLayer),
- ``config``: the constructor arguments as a JSON string.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from deepctr.layers import interaction  # noqa: E402

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures"
BATCH, FIELDS, EMBED = 4, 4, 3


def _save(
    name: str, layer: Any, inputs: Any, config: dict[str, Any], seed: int, shift: float = 0.0
) -> None:
    """Randomise ``layer``'s weights (normal + ``shift``), run it on ``inputs``, write ``name``."""
    rng = np.random.default_rng(seed)
    as_tf = [tf.constant(x) for x in inputs] if isinstance(inputs, list) else tf.constant(inputs)
    layer(as_tf)  # build
    weights = [(rng.normal(size=w.shape) + shift).astype(np.float32) for w in layer.get_weights()]
    layer.set_weights(weights)
    out = layer(as_tf, training=False) if "training" in _call_args(layer) else layer(as_tf)
    arrays: dict[str, Any] = {
        "config": np.array(json.dumps(config)),
        "weight_names": np.array([w.name for w in layer.weights]),
    }
    if isinstance(inputs, list):
        arrays.update({f"x{i:03d}": x for i, x in enumerate(inputs)})
    else:
        arrays["x"] = inputs
    arrays.update({f"w{i:03d}": w for i, w in enumerate(weights)})
    if isinstance(out, list | tuple):
        arrays.update({f"y{i:03d}": np.asarray(y) for i, y in enumerate(out)})
    else:
        arrays["y"] = np.asarray(out)
    FIXTURES.mkdir(parents=True, exist_ok=True)
    path = FIXTURES / f"deepctr_{name}.npz"
    np.savez_compressed(path, **arrays)
    print(f"{path.name}: {len(weights)} weights, {path.stat().st_size} bytes")


def _call_args(layer: Any) -> tuple[str, ...]:
    import inspect

    return tuple(inspect.signature(layer.call).parameters)


def main() -> None:
    rng = np.random.default_rng(20240607)

    def dense() -> np.ndarray:
        return rng.normal(size=(BATCH, FIELDS, EMBED)).astype(np.float32)

    def fields() -> list[np.ndarray]:
        return [rng.normal(size=(BATCH, 1, EMBED)).astype(np.float32) for _ in range(FIELDS)]

    _save("fm", interaction.FM(), dense(), {}, 1)
    _save("bi_interaction_pooling", interaction.BiInteractionPooling(), dense(), {}, 2)
    for reduce_sum in (True, False):
        cfg = {"reduce_sum": reduce_sum}
        mode = "reduce_sum" if reduce_sum else "no_reduce_sum"
        _save(f"inner_product_layer_{mode}", interaction.InnerProductLayer(**cfg), fields(), cfg, 3)
    for kernel_type in ("mat", "vec", "num"):
        cfg = {"kernel_type": kernel_type, "seed": 1024}
        _save(
            f"outter_product_layer_{kernel_type}",
            interaction.OutterProductLayer(**cfg),
            fields(),
            cfg,
            4,
        )
    cfg = {"num_fields": FIELDS, "regularizer": 1e-6}
    _save("fwfm_layer", interaction.FwFMLayer(**cfg), dense(), cfg, 5)
    cfg = {"regularizer": 1e-6}
    _save("fefm_layer", interaction.FEFMLayer(**cfg), dense(), cfg, 6)
    for use_bias in (True, False):
        cfg = {"use_bias": use_bias, "seed": 1024}
        groups = [rng.normal(size=(BATCH, n, EMBED)).astype(np.float32) for n in (2, 1, 3, 2)]
        mode = "bias" if use_bias else "no_bias"
        _save(
            f"field_wise_bi_interaction_{mode}",
            interaction.FieldWiseBiInteraction(**cfg),
            groups,
            cfg,
            7,
        )
    cfg = {"attention_factor": 5, "l2_reg_w": 0.0, "dropout_rate": 0.5, "seed": 1024}
    _save("afm_layer", interaction.AFMLayer(**cfg), fields(), cfg, 8)
    for bilinear_type in ("all", "each", "interaction"):
        cfg = {"bilinear_type": bilinear_type, "seed": 1024}
        _save(
            f"bilinear_interaction_{bilinear_type}",
            interaction.BilinearInteraction(**cfg),
            fields(),
            cfg,
            9,
        )
    # SENET's two ReLUs zero most outputs for zero-mean data: shift inputs and weights upwards.
    for ratio in (2, 3):
        cfg = {"reduction_ratio": ratio, "seed": 1024}
        shifted = [x + np.float32(0.5) for x in fields()]
        _save(
            f"senet_layer_ratio{ratio}",
            interaction.SENETLayer(**cfg),
            shifted,
            cfg,
            10 + ratio,
            0.7,
        )


if __name__ == "__main__":
    main()
