"""torchrec DeepFM's dense arch: dense features projected to the embedding dimension."""

from __future__ import annotations

from typing import Any

from recsys_core import _backend  # noqa: F401

# isort: split
import keras

from recsys_core.layers.mlp import MLP


@keras.saving.register_keras_serializable(package="recsys_core")
class DenseArch(keras.layers.Layer):
    """out = relu(W_2 relu(W_1 x + b_1) + b_2): Linear -> ReLU -> Linear -> ReLU.

    Input ``(batch, in_features)``; output ``(batch, embedding_dim)``. Same arguments and layers as
    torchrec's ``torchrec.models.deepfm.DenseArch``. Weights: ``[W_1, b_1, W_2, b_2]`` with Keras
    kernels ``(in, out)``, i.e. the transpose of torch ``Linear.weight`` ``(out, in)``.

    Reference: Guo et al., "DeepFM: A Factorization-Machine based Neural Network for CTR
    Prediction", IJCAI 2017 (arXiv:1703.04247); torchrec ``models.deepfm``.
    """

    def __init__(
        self, in_features: int, hidden_layer_size: int, embedding_dim: int, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        for arg, value in (
            ("in_features", in_features),
            ("hidden_layer_size", hidden_layer_size),
            ("embedding_dim", embedding_dim),
        ):
            if isinstance(value, bool) or int(value) != value or value < 1:
                raise ValueError(f"DenseArch {arg} must be a positive integer, got {value!r}.")
        self.in_features = int(in_features)
        self.hidden_layer_size = int(hidden_layer_size)
        self.embedding_dim = int(embedding_dim)
        self.model = MLP(
            [self.hidden_layer_size, self.embedding_dim],
            activation="relu",
            output_activation="relu",
            name="model",
        )

    def build(self, input_shape: Any = None) -> None:
        self.model.build((None, self.in_features))
        self.built = True

    def call(self, features: Any) -> Any:
        if len(features.shape) != 2 or features.shape[-1] != self.in_features:
            raise ValueError(
                f"DenseArch expects features of shape (batch, {self.in_features}), "
                f"got {tuple(features.shape)}."
            )
        return self.model(features)

    def compute_output_shape(self, input_shape: Any) -> tuple:
        shape = tuple(input_shape)
        if len(shape) != 2:
            raise ValueError(f"DenseArch expects features of rank 2, got shape {shape}.")
        return (shape[0], self.embedding_dim)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "in_features": self.in_features,
            "hidden_layer_size": self.hidden_layer_size,
            "embedding_dim": self.embedding_dim,
        }
