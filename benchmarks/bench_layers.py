"""Forward + backward time of every interaction layer of ``recsys_core.layers``, next to keras-rs.

One step = ``jax.jit(jax.value_and_grad(sum of outputs))`` with respect to the inputs and all
trainable weights, at batch 4096, 26 fields, embedding size 16 (CrossNet-style layers take the
flattened ``(batch, 26 * 16)`` vector). Prints the median ms per step over several runs after
warm-up, with the machine it ran on. Layers that are not importable (yet) are skipped with a note.

    .venv/bin/python benchmarks/bench_layers.py [--batch 4096] [--runs 7] [--only CIN,FM]
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import re
import statistics
import time
from collections.abc import Callable
from typing import Any

from recsys_core import _backend  # noqa: F401

# isort: split
import jax
import jax.numpy as jnp
import keras
import keras_rs
import numpy as np

FIELDS, DIM = 26, 16
# module names that the CamelCase -> snake_case rule does not give
MODULES = {
    "FwFMLayer": "fwfm_layer",
    "FEFMLayer": "fefm_layer",
    "AFMLayer": "afm_layer",
    "SENETLayer": "senet_layer",
}


def _layer_class(name: str) -> Any:
    """``recsys_core.layers.<name>`` (or its module ``recsys_core.layers.<snake_name>`` when not yet
    registered in the package), or None when it cannot be imported yet."""
    cls = getattr(importlib.import_module("recsys_core.layers"), name, None)
    if cls is None:
        snake = MODULES.get(name) or re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()
        try:
            cls = getattr(importlib.import_module(f"recsys_core.layers.{snake}"), name, None)
        except ImportError:
            return None
    return cls


def _specs(batch: int) -> list[tuple[str, str, Callable[[], Any], Callable[[], tuple], dict]]:
    """(label, source, layer factory, input factory, call kwargs)."""
    rng = np.random.default_rng(0)

    def arr(*shape: int) -> Any:
        return jnp.asarray(rng.normal(scale=0.1, size=shape).astype(np.float32))

    def stacked() -> tuple:
        return (arr(batch, FIELDS, DIM),)

    def field_list() -> tuple:  # DeepCTR's list of (batch, 1, dim)
        x = arr(batch, FIELDS, DIM)
        return ([x[:, i : i + 1] for i in range(FIELDS)],)

    def vector_list() -> tuple:  # DLRM's list of (batch, dim)
        x = arr(batch, FIELDS, DIM)
        return ([x[:, i] for i in range(FIELDS)],)

    def flat() -> tuple:
        return (arr(batch, FIELDS * DIM),)

    def groups() -> tuple:  # FLEN's field groups
        x = arr(batch, FIELDS, DIM)
        return ([x[:, :9], x[:, 9:18], x[:, 18:]],)

    def ours(name: str, **kwargs: Any) -> Callable[[], Any]:
        def make() -> Any:
            cls = _layer_class(name)
            if cls is None:
                raise ImportError(f"recsys_core.layers has no {name} yet")
            return cls(**kwargs)

        return make

    rs = "keras-rs 0.4"
    lib = "recsys_core"
    names = [f"f{i}" for i in range(FIELDS)]
    return [
        ("FM", lib, ours("FM"), stacked, {}),
        ("BiInteractionPooling", lib, ours("BiInteractionPooling"), stacked, {}),
        ("InnerProductLayer", lib, ours("InnerProductLayer"), field_list, {}),
        (
            "OutterProductLayer(mat)",
            lib,
            ours("OutterProductLayer", kernel_type="mat"),
            field_list,
            {},
        ),
        ("FwFMLayer", lib, ours("FwFMLayer", num_fields=FIELDS), stacked, {}),
        ("FEFMLayer", lib, ours("FEFMLayer", regularizer=0.0), stacked, {}),
        ("FieldWiseBiInteraction", lib, ours("FieldWiseBiInteraction"), groups, {}),
        ("AFMLayer", lib, ours("AFMLayer"), field_list, {}),
        ("BilinearInteraction", lib, ours("BilinearInteraction"), field_list, {}),
        ("SENETLayer", lib, ours("SENETLayer"), field_list, {}),
        ("DotInteraction", lib, ours("DotInteraction"), vector_list, {}),
        ("DotInteraction", rs, lambda: keras_rs.layers.DotInteraction(), vector_list, {}),
        ("CIN(128,128)", lib, ours("CIN"), stacked, {}),
        ("CIN(128,128) no split", lib, ours("CIN", split_half=False), stacked, {}),
        ("CrossNet(vector, 2)", lib, ours("CrossNet"), flat, {}),
        ("CrossNet(matrix, 2)", lib, ours("CrossNet", parameterization="matrix"), flat, {}),
        ("CrossNetMix(32, 4, 2)", lib, ours("CrossNetMix"), flat, {}),
        ("FeatureCross(full)", lib, ours("FeatureCross"), flat, {}),
        ("FeatureCross(full)", rs, lambda: keras_rs.layers.FeatureCross(), flat, {}),
        ("FeatureCross(proj 104)", lib, ours("FeatureCross", projection_dim=104), flat, {}),
        (
            "FeatureCross(proj 104)",
            rs,
            lambda: keras_rs.layers.FeatureCross(projection_dim=104),
            flat,
            {},
        ),
        ("FGCNNLayer", lib, ours("FGCNNLayer"), stacked, {}),
        ("InteractingLayer(8, 2)", lib, ours("InteractingLayer"), stacked, {}),
        (
            "DenseArch(13, 512, 16)",
            lib,
            ours("DenseArch", in_features=13, hidden_layer_size=512, embedding_dim=16),
            lambda: (arr(batch, 13),),
            {},
        ),
        (
            "FMInteractionArch",
            lib,
            ours(
                "FMInteractionArch",
                fm_in_features=DIM * (FIELDS + 1),
                sparse_feature_names=names,
                deep_fm_dimension=16,
            ),
            lambda: (arr(batch, DIM), arr(batch, FIELDS, DIM)),
            {},
        ),
        (
            "OverArch(33)",
            lib,
            ours("OverArch", in_features=2 * DIM + 1),
            lambda: (arr(batch, 2 * DIM + 1),),
            {},
        ),
    ]


def time_layer(make: Callable[[], Any], inputs: tuple, kwargs: dict, runs: int) -> float:
    layer = make()
    layer(*inputs, **kwargs)  # build
    trainable = [v.value for v in layer.trainable_variables]
    frozen = [v.value for v in layer.non_trainable_variables]

    def loss(params: list, args: tuple) -> Any:
        out, _ = layer.stateless_call(params, frozen, *args, **kwargs)
        return sum(jnp.sum(leaf) for leaf in jax.tree_util.tree_leaves(out))

    step = jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))
    for _ in range(2):
        jax.block_until_ready(step(trainable, inputs))
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        jax.block_until_ready(step(trainable, inputs))
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=4096)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--only", default="", help="comma-separated label prefixes")
    args = parser.parse_args()
    device = jax.devices()[0]
    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"jax {jax.__version__} on {device.platform} ({device.device_kind}), keras {keras.__version__}, "
        f"keras-rs {keras_rs.__version__}"
    )
    print(
        f"# batch {args.batch}, {FIELDS} fields, embedding {DIM}; median of {args.runs} runs after 2 warm-ups"
    )
    print(f"| {'layer':<26} | {'implementation':<14} | {'ms / step':>10} |")
    print(f"|{'-' * 28}|{'-' * 16}|{'-' * 12}|")
    only = [s for s in args.only.split(",") if s]
    for label, source, make, inputs, kwargs in _specs(args.batch):
        if only and not any(label.startswith(o) for o in only):
            continue
        try:
            ms = f"{time_layer(make, inputs(), kwargs, args.runs):10.2f}"
        except ImportError as exc:
            ms = f"skipped ({exc})"
        except Exception as exc:  # a layer of another module may not accept these inputs yet
            ms = f"failed: {type(exc).__name__}: {str(exc)[:80]}"
        print(f"| {label:<26} | {source:<14} | {ms:>10} |", flush=True)


if __name__ == "__main__":
    main()
