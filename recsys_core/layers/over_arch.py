"""torchrec DeepFM's over arch: the final one-unit layer."""

from __future__ import annotations

from typing import Any

from recsys_core import _backend  # noqa: F401

# isort: split
import keras


@keras.saving.register_keras_serializable(package="recsys_core")
class OverArch(keras.layers.Layer):
    """out = sigmoid(x w + b): Linear(in_features, 1) -> Sigmoid.

    Input ``(batch, in_features)``; output ``(batch, 1)``, a probability: torchrec's
    ``torchrec.models.deepfm.OverArch`` ends with ``nn.Sigmoid`` although its docs call the output
    "logits"; kept as is. Weights ``[w (in_features, 1), b (1,)]`` (torch ``Linear.weight``
    transposed).

    Reference: Guo et al., "DeepFM: A Factorization-Machine based Neural Network for CTR
    Prediction", IJCAI 2017 (arXiv:1703.04247); torchrec ``models.deepfm``.
    """

    def __init__(self, in_features: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(in_features, bool) or int(in_features) != in_features or in_features < 1:
            raise ValueError(
                f"OverArch in_features must be a positive integer, got {in_features!r}."
            )
        self.in_features = int(in_features)
        self.linear = keras.layers.Dense(1, activation="sigmoid", name="linear")

    def build(self, input_shape: Any = None) -> None:
        self.linear.build((None, self.in_features))
        self.built = True

    def call(self, features: Any) -> Any:
        if len(features.shape) != 2 or features.shape[-1] != self.in_features:
            raise ValueError(
                f"OverArch expects features of shape (batch, {self.in_features}), "
                f"got {tuple(features.shape)}."
            )
        return self.linear(features)

    def compute_output_shape(self, input_shape: Any) -> tuple:
        shape = tuple(input_shape)
        if len(shape) != 2:
            raise ValueError(f"OverArch expects features of rank 2, got shape {shape}.")
        return (shape[0], 1)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "in_features": self.in_features}
