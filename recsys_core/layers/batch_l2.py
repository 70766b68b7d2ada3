"""A per-example L2 penalty on a layer's input, passed through unchanged."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from recsys_core import _backend  # noqa: F401


@keras.saving.register_keras_serializable(package="recsys_core")
class BatchL2(keras.layers.Layer):
    """Identity that adds λ · mean over the batch of ‖x_b‖² (``add_loss``) for ``(batch, D)`` x.

    The penalty of a computed field vector (a projection or MLP of continuous columns), held back
    per example like the looked-up rows of ``EmbeddingBagCollection(batch_l2=...)``. Because it
    penalises the vector itself, not the weights making it, no later layer can undo it by rescaling.
    A call replaces the layer's previous penalty (one penalty per forward pass).
    """

    def __init__(self, l2: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if float(l2) < 0:
            raise ValueError(f"l2 must be >= 0, got {l2!r}.")
        self.l2 = float(l2)

    def call(self, x: Any) -> Any:
        if self.l2:
            self._clear_losses()
            self.add_loss(self.l2 * ops.mean(ops.sum(ops.square(x), axis=-1)))
        return x

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "l2": self.l2}
