"""Training on several devices: ``keras.distribution`` layouts applied to the engine's jitted loop.

The engine does not use ``model.fit``, so it cannot rely on Keras to place arrays. It asks a
``keras.distribution.Distribution`` where every variable and every batch should live and places
them itself with ``jax.sharding``; XLA's SPMD partitioner then splits the jitted epoch across the
devices and inserts the gradient all-reduce (data parallel) or the gathers of the sharded tables.

- ``"data"``: ``DataParallel`` over all local devices: every variable replicated, each batch split
  along its rows (mesh axis ``batch``).
- ``"model"``: ``ModelParallel`` on a ``(1, devices)`` mesh ``("batch", "model")`` whose layout map
  shards the large embedding tables (at least ``SHARD_MIN_ROWS`` rows) across the ``model`` axis:
  by columns when the width divides evenly, else by rows when the vocabulary does (else the table
  stays replicated); everything else is replicated. The optimizer's slots follow their variable.

Any other ``Distribution`` (a hybrid ``(2, 4)`` mesh, another layout map) can be passed to
``Trainer(..., distribution=...)``. The whole training table is replicated on every device.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import keras
from jax.sharding import NamedSharding, PartitionSpec

from recsys_core import _backend  # noqa: F401

KINDS = (None, "data", "model")
SHARD_MIN_ROWS = 64


def embedding_tables(model: keras.Model) -> list[Any]:
    """The model's embedding tables: the rank-2 ``embeddings`` variables of its Embedding layers."""
    return [v for v in model.variables if v.path.endswith("/embeddings") and len(v.shape) == 2]


def make_distribution(
    kind: str | None, model: keras.Model, devices: list[str] | None = None
) -> keras.distribution.Distribution | None:
    """The ``keras.distribution`` object for ``TrainConfig.distribution`` (None: one device)."""
    if kind not in KINDS:
        raise ValueError(f"distribution must be one of {KINDS}, got {kind!r}.")
    if kind is None:
        return None
    devices = devices or keras.distribution.list_devices()
    if kind == "data":
        return keras.distribution.DataParallel(devices=devices)
    k = len(devices)
    mesh = keras.distribution.DeviceMesh((1, k), ("batch", "model"), devices)
    layout_map = keras.distribution.LayoutMap(mesh)
    for table in embedding_tables(model):
        rows, width = table.shape
        if rows < SHARD_MIN_ROWS or k == 1:
            continue
        if width % k == 0:
            layout_map[table.path] = (None, "model")
        elif rows % k == 0:
            layout_map[table.path] = ("model", None)
    return keras.distribution.ModelParallel(layout_map=layout_map, batch_dim_name="batch")


def _mesh(distribution: keras.distribution.Distribution) -> jax.sharding.Mesh:
    return distribution.device_mesh.backend_mesh


def batch_shards(distribution: keras.distribution.Distribution) -> int:
    """How many pieces each batch is split into (the size of the batch axis of the mesh)."""
    mesh = distribution.device_mesh
    return int(mesh.shape[list(mesh.axis_names).index(distribution.batch_dim_name)])


def round_batch(distribution: keras.distribution.Distribution, batch: int) -> int:
    """``batch`` rounded up to a multiple of the batch shards (extra rows are zero-weight padding)."""
    shards = batch_shards(distribution)
    return math.ceil(batch / shards) * shards


def replicated(distribution: keras.distribution.Distribution) -> NamedSharding:
    return NamedSharding(_mesh(distribution), PartitionSpec())


def batch_sharding(distribution: keras.distribution.Distribution) -> NamedSharding:
    """Rows split along the batch axis, other dimensions whole (a prefix for any rank)."""
    return NamedSharding(_mesh(distribution), PartitionSpec(distribution.batch_dim_name))


def state_shardings(
    distribution: keras.distribution.Distribution,
    model: keras.Model,
    optimizer: keras.optimizers.Optimizer,
) -> tuple[list[Any], list[Any], list[Any]]:
    """Shardings of the engine's state ``(trainable, non_trainable, optimizer)`` values.

    Model variables get ``distribution.get_variable_layout``; an optimizer variable made from a
    model variable (Keras names it ``<variable path with _>_<slot>``, e.g. Adam's momentum) gets
    that variable's layout, the others (iteration count, learning rate) are replicated.
    """

    def layout(variable: Any) -> Any:
        return distribution.get_variable_layout(variable).backend_layout

    trainable = [layout(v) for v in model.trainable_variables]
    non_trainable = [layout(v) for v in model.non_trainable_variables]
    by_prefix = {
        v.path.replace("/", "_"): s
        for v, s in zip(model.trainable_variables, trainable, strict=True)
    }
    shapes = {v.path.replace("/", "_"): tuple(v.shape) for v in model.trainable_variables}
    slots = []
    for ov in optimizer.variables:
        matches = [
            p for p in by_prefix if ov.name.startswith(p + "_") and tuple(ov.shape) == shapes[p]
        ]
        slots.append(by_prefix[max(matches, key=len)] if matches else replicated(distribution))
    return trainable, non_trainable, slots
