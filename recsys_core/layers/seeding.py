"""Distinct seeds for the weights of one layer.

A seeded Keras 3 initializer returns the same values every time it is called with the same shape,
so a layer passing one ``seed`` to all its weights (as DeepCTR does with ``seed=1024``) starts every
CrossNet layer, every CrossNetMix expert's U and V, and every bilinear pair matrix identical. Each
weight gets ``seed + k`` instead: still reproducible, no longer degenerate.
"""

from __future__ import annotations


def weight_seed(seed: int | None, k: int) -> int | None:
    """The seed of a layer's ``k``-th seeded weight (None stays None: unseeded)."""
    return None if seed is None else int(seed) + int(k)
