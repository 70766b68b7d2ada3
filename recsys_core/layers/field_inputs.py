"""The input convention DeepCTR's pairwise layers share: a list of F tensors of shape (batch, 1, E)."""

from __future__ import annotations

from typing import Any

import numpy as np


def check_field_list(layer: str, shapes: Any) -> tuple[int, Any]:
    """Validate the shapes of a list of ``(batch, 1, E)`` inputs; return (num_fields, embedding_size).

    Errors name ``layer`` and what was received.
    """
    if not (isinstance(shapes, list | tuple) and shapes and isinstance(shapes[0], list | tuple)):
        raise ValueError(
            f"{layer} expects inputs as a list of at least 2 tensors of shape "
            f"(batch_size, 1, embedding_size), got a single tensor of shape {tuple(shapes)}."
        )
    shapes = [tuple(s) for s in shapes]
    if len(shapes) < 2:
        raise ValueError(f"{layer} expects a list of at least 2 inputs, got {len(shapes)}.")
    for k, s in enumerate(shapes):
        if len(s) != 3 or s[1] != 1:
            raise ValueError(
                f"{layer} expects every input of shape (batch_size, 1, embedding_size), "
                f"got shape {s} for input {k}."
            )
    if len({s[1:] for s in shapes}) > 1:
        raise ValueError(f"{layer} expects inputs of the same shape, got shapes {shapes}.")
    return len(shapes), shapes[0][2]


def pair_index(num_fields: int) -> list[tuple[int, int]]:
    """The field pairs (i, j), i < j, row by row: (0, 1), (0, 2), ..., (F-2, F-1)."""
    return [(i, j) for i in range(num_fields) for j in range(i + 1, num_fields)]


def pairs_to_matrix(values: Any, num_fields: int) -> Any:
    """``(batch, P)`` values in ``pair_index`` order -> symmetric ``(batch, F, F)``, zero diagonal.

    A fixed 0/1 scatter matrix keeps it a single matmul under ``jax.jit``.
    """
    from keras import ops

    pairs = pair_index(num_fields)
    scatter = np.zeros((len(pairs), num_fields * num_fields), dtype="float32")
    for k, (i, j) in enumerate(pairs):
        scatter[k, i * num_fields + j] = scatter[k, j * num_fields + i] = 1.0
    dense = ops.matmul(values, ops.convert_to_tensor(scatter, dtype=values.dtype))
    return ops.reshape(dense, (-1, num_fields, num_fields))
