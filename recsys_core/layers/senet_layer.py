"""FiBiNET's squeeze-excitation field reweighting, DeepCTR's ``SENETLayer``."""

from __future__ import annotations

from typing import Any

from recsys_core import _backend  # noqa: F401

# isort: split
import keras
from keras import ops

from recsys_core.layers.field_inputs import check_field_list
from recsys_core.layers.seeding import weight_seed


@keras.saving.register_keras_serializable(package="recsys_core")
class SENETLayer(keras.layers.Layer):
    """SENET: z_f = mean_e v_fe, a = relu(relu(z W_1) W_2), outputs v_f * a_f for every field f.

    ``W_1`` is ``(F, R)`` and ``W_2`` ``(R, F)`` with R = max(1, F // reduction_ratio), created in
    that order. Input: a list of F >= 2 tensors ``(batch, 1, embedding_size)``; output: the list of
    F reweighted tensors of the same shapes. Same behaviour as ``deepctr.layers.SENETLayer`` (0.9.4),
    including ReLU (not the paper's sigmoid) as the excitation activation. Fixed DeepCTR defects:
    its error messages name "AttentionalFM" and ``reduction_ratio`` was not validated; here wrong
    shapes and non-positive ``reduction_ratio`` raise ``ValueError`` naming this layer.

    Reference: T. Huang, Z. Zhang, J. Zhang, "FiBiNET: Combining Feature Importance and Bilinear
    feature Interaction for Click-Through Rate Prediction", RecSys 2019 (arXiv:1905.09433).
    """

    def __init__(self, reduction_ratio: int = 3, seed: int | None = 1024, **kwargs: Any) -> None:
        if int(reduction_ratio) != reduction_ratio or reduction_ratio < 1:
            raise ValueError(
                f"reduction_ratio must be a positive integer, got {reduction_ratio!r}."
            )
        super().__init__(**kwargs)
        self.reduction_ratio = int(reduction_ratio)
        self.seed = seed

    @staticmethod
    def _check_shapes(shapes: Any) -> tuple[int, Any]:
        return check_field_list("SENETLayer", shapes)

    def build(self, input_shape: Any) -> None:
        num_fields, _ = self._check_shapes(input_shape)
        self.num_fields = num_fields
        reduction_size = max(1, num_fields // self.reduction_ratio)
        self.W_1 = self.add_weight(
            name="W_1",
            shape=(num_fields, reduction_size),
            initializer=keras.initializers.GlorotNormal(seed=weight_seed(self.seed, 0)),
        )
        self.W_2 = self.add_weight(
            name="W_2",
            shape=(reduction_size, num_fields),
            initializer=keras.initializers.GlorotNormal(seed=weight_seed(self.seed, 1)),
        )
        self.built = True

    def _weights_and_stack(self, inputs: Any) -> tuple[Any, Any]:
        inputs = [ops.convert_to_tensor(x) for x in inputs]
        shapes = [tuple(x.shape) for x in inputs]
        num_fields, _ = self._check_shapes(shapes)
        if not self.built:
            self.build(shapes)
        if num_fields != self.num_fields:
            raise ValueError(
                f"SENETLayer was built for {self.num_fields} fields, got {num_fields} inputs."
            )
        x = ops.concatenate(inputs, axis=1)  # (b, F, E)
        z = ops.mean(x, axis=-1)
        a = ops.relu(ops.matmul(ops.relu(ops.matmul(z, self.W_1)), self.W_2))
        return a, x

    def call(self, inputs: Any) -> list[Any]:
        a, x = self._weights_and_stack(inputs)
        v = x * a[..., None]
        return [v[:, f : f + 1] for f in range(self.num_fields)]

    def compute_output_shape(self, input_shape: Any) -> list[tuple[Any, ...]]:
        self._check_shapes(input_shape)
        return [tuple(s) for s in input_shape]

    def field_weights(self, inputs: Any) -> Any:
        """``(batch, F)`` excitation weights a_f; output f is input f times a_f."""
        return self._weights_and_stack(inputs)[0]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "reduction_ratio": self.reduction_ratio, "seed": self.seed}
