"""Golden values for the deep/cross DeepCTR layers (CIN, CrossNet, CrossNetMix, FGCNNLayer, InteractingLayer).

Runs in a separate TensorFlow venv holding the reference implementation, DeepCTR 0.9.4:

    python3.11 -m venv /work/deepctr-venv
    /work/deepctr-venv/bin/pip install tensorflow-cpu deepctr==0.9.4
    /work/deepctr-venv/bin/pip install --no-deps tf-keras

    TF_USE_LEGACY_KERAS=1 /work/deepctr-venv/bin/python tools/golden_deepctr_deep.py

For every layer and mode it builds the DeepCTR layer on a small random input, replaces all its
weights by random normal values (not the initial ones), and writes ``x`` (the input), ``y`` (the
output), ``w000, w001, ...`` (the weights in ``get_weights()`` order), ``weight_names`` and
``config`` (the constructor arguments as JSON) to ``tests/fixtures/deepctr_<layer>_<mode>.npz``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from deepctr.layers.interaction import (  # noqa: E402
    CIN,
    CrossNet,
    CrossNetMix,
    FGCNNLayer,
    InteractingLayer,
)

OUT = Path(__file__).resolve().parents[1] / "tests" / "fixtures"
BATCH = 5

# (fixture name, DeepCTR class, constructor arguments, input shape without batch, weight scale)
CASES = [
    (
        "cin_split_half",
        CIN,
        {
            "layer_size": [4, 6, 3],
            "activation": "relu",
            "split_half": True,
            "l2_reg": 1e-5,
            "seed": 7,
        },
        (5, 4),
        0.5,
    ),
    (
        "cin_no_split",
        CIN,
        {"layer_size": [3, 5], "activation": "tanh", "split_half": False, "l2_reg": 0.0, "seed": 7},
        (4, 3),
        0.5,
    ),
    (
        "cin_linear",
        CIN,
        {
            "layer_size": [4, 2],
            "activation": "linear",
            "split_half": True,
            "l2_reg": 1e-5,
            "seed": 7,
        },
        (3, 4),
        0.5,
    ),
    (
        "cross_net_vector",
        CrossNet,
        {"layer_num": 3, "parameterization": "vector", "l2_reg": 0.0, "seed": 7},
        (6,),
        0.5,
    ),
    (
        "cross_net_matrix",
        CrossNet,
        {"layer_num": 2, "parameterization": "matrix", "l2_reg": 0.0, "seed": 7},
        (6,),
        0.5,
    ),
    (
        "cross_net_mix",
        CrossNetMix,
        {"low_rank": 3, "num_experts": 2, "layer_num": 2, "l2_reg": 0.0, "seed": 7},
        (6,),
        0.5,
    ),
    (
        "fgcnn_layer",
        FGCNNLayer,
        {"filters": [3, 4], "kernel_width": [3, 2], "new_maps": [2, 3], "pooling_width": [2, 2]},
        (7, 4),
        0.5,
    ),
    (
        "interacting_layer_res",
        InteractingLayer,
        {"att_embedding_size": 3, "head_num": 2, "use_res": True, "scaling": False, "seed": 7},
        (4, 5),
        0.5,
    ),
    (
        "interacting_layer_scaling",
        InteractingLayer,
        {"att_embedding_size": 3, "head_num": 2, "use_res": False, "scaling": True, "seed": 7},
        (4, 5),
        0.5,
    ),
    (
        "interacting_layer_res_scaling",
        InteractingLayer,
        {"att_embedding_size": 4, "head_num": 3, "use_res": True, "scaling": True, "seed": 7},
        (4, 5),
        0.5,
    ),
]


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20240611)
    tf.random.set_seed(0)
    for name, cls, config, shape, scale in CASES:
        x = rng.normal(size=(BATCH, *shape)).astype(np.float32)
        layer = cls(**config)
        layer(tf.constant(x))  # builds the layer and any sub-layers created lazily
        weights = [
            (scale * rng.normal(size=w.shape)).astype(np.float32) for w in layer.get_weights()
        ]
        layer.set_weights(weights)
        y = layer(tf.constant(x)).numpy()
        assert np.all(np.isfinite(y)), name
        arrays = {f"w{i:03d}": w for i, w in enumerate(weights)}
        np.savez(
            OUT / f"deepctr_{name}.npz",
            x=x,
            y=y.astype(np.float32),
            weight_names=np.array([w.name for w in layer.weights]),
            config=np.array(json.dumps(config)),
            **arrays,
        )
        shapes = [tuple(w.shape) for w in weights]
        print(f"deepctr_{name}.npz: x{x.shape} -> y{y.shape}, weights {shapes}")


if __name__ == "__main__":
    main()
