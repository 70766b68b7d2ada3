"""DLRM's dot interaction, built on ``keras_rs.layers.DotInteraction``."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import keras
import keras_rs
from keras import ops

from recsys_core import _backend  # noqa: F401


@jax.custom_vjp
def _gram(features: Any) -> Any:
    """``(batch, F, D) -> (batch, F, F)``: F Fᵀ, computed exactly as keras-rs computes it."""
    return jnp.matmul(features, jnp.transpose(features, (0, 2, 1)))


def _gram_fwd(features: Any) -> tuple[Any, Any]:
    return _gram(features), features


def _gram_bwd(features: Any, g: Any) -> tuple[Any]:
    # d(F Fᵀ) = (G + Gᵀ) F: one batched product in the standard layout. Autodiff's version is two
    # products, one contracting the cotangent's first axis, which XLA:CPU runs ~10x slower (it was
    # 1/8 of a DLRM training step).
    return (jnp.matmul(g + jnp.transpose(g, (0, 2, 1)), features),)


_gram.defvjp(_gram_fwd, _gram_bwd)


@keras.saving.register_keras_serializable(package="recsys_core")
class DotInteraction(keras_rs.layers.DotInteraction):
    """Pairwise dot products of field vectors: out = [<e_i, e_j>] for i > j (i >= j with self_interaction).

    Numerically identical to ``keras_rs.layers.DotInteraction`` (same arguments, defaults and output
    order: the lower triangle row by row); adds ``pair_terms`` to explain itself. Its gradient is
    computed by a hand-written rule (the same values, one batched product instead of two).

    Reference: Naumov et al., "Deep Learning Recommendation Model for Personalization and
    Recommendation Systems", 2019 (arXiv:1906.00091).
    """

    def call(self, inputs: list[Any]) -> Any:
        if not isinstance(inputs, list | tuple) or not inputs:
            raise ValueError("DotInteraction expects a list of feature tensors.")
        shape = tuple(inputs[0].shape)
        for idx, tensor in enumerate(inputs):
            if len(tensor.shape) != 2 or tuple(tensor.shape)[1:] != shape[1:]:
                raise ValueError(
                    "All feature tensors inside `inputs` should have rank 2 and the same shape; "
                    f"got {shape} at index 0 and {tuple(tensor.shape)} at index {idx}."
                )
        features = ops.stack(inputs, axis=1)
        batch_size, num_features, _ = ops.shape(features)
        pairwise = _gram(features)
        if self.skip_gather:
            mask = ops.cast(self._generate_tril_mask(pairwise), pairwise.dtype)
            return ops.reshape(pairwise * mask, (batch_size, num_features * num_features))
        flat = ops.reshape(pairwise, (batch_size, num_features * num_features))
        return ops.take(flat, self._get_lower_triangular_indices(num_features), axis=-1)

    def pair_terms(self, inputs: list[Any]) -> Any:
        """The full ``(batch, F, F)`` matrix of dot products <e_i, e_j>, the terms ``call`` gathers."""
        if not isinstance(inputs, list | tuple) or len(inputs) < 2:
            raise ValueError(
                "DotInteraction.pair_terms expects a list of at least 2 feature tensors."
            )
        features = ops.stack(inputs, axis=1)
        return ops.matmul(features, ops.transpose(features, axes=(0, 2, 1)))
