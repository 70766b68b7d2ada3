"""torchrec DeepFM's interaction arch: deep interaction plus factorization machine over all features."""

from __future__ import annotations

from typing import Any

from recsys_core import _backend  # noqa: F401

# isort: split
import keras
from keras import ops


@keras.saving.register_keras_serializable(package="recsys_core")
class FMInteractionArch(keras.layers.Layer):
    """z = flatten(concat(dense, e_1, ..., e_F)); out = concat(dense, relu(z W + b), 0.5 * ((sum_k z_k)^2 - sum_k z_k^2)).

    ``call(dense_features, sparse_features)``: ``dense_features`` ``(batch, D)``;
    ``sparse_features`` the F pooled embeddings in ``sparse_feature_names`` order, as a list of
    ``(batch, D_f)`` tensors, a ``(batch, F, D)`` tensor, or a dict keyed by those names (torchrec
    takes a ``KeyedTensor``, which does not exist here). Output ``(batch, D + deep_fm_dimension +
    1)``; with no sparse feature names the dense features are returned unchanged, as in torchrec.
    ``fm_in_features`` must equal D + sum_f D_f (the dense vector is part of both interactions).

    Same arguments and numbers as ``torchrec.models.deepfm.FMInteractionArch``, including a
    deviation of torchrec's ``FactorizationMachine`` from the DeepFM paper kept on purpose: it
    flattens every vector into one row of scalars before the FM, so its FM term is the sum of
    z_k z_l over all pairs of distinct scalars (all pairs of embedding coordinates, within and
    across fields), not the paper's sum over field pairs of <e_i, e_j>. ``fm_pair_terms`` splits it
    by pair of inputs. Weights: the deep interaction's ``[W (fm_in_features, deep_fm_dimension), b]``.

    Reference: Guo et al., "DeepFM: A Factorization-Machine based Neural Network for CTR
    Prediction", IJCAI 2017 (arXiv:1703.04247); torchrec ``models.deepfm`` / ``modules.deepfm``.
    """

    def __init__(
        self,
        fm_in_features: int,
        sparse_feature_names: list[str] | tuple[str, ...],
        deep_fm_dimension: int,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        for arg, value in (
            ("fm_in_features", fm_in_features),
            ("deep_fm_dimension", deep_fm_dimension),
        ):
            if isinstance(value, bool) or int(value) != value or value < 1:
                raise ValueError(
                    f"FMInteractionArch {arg} must be a positive integer, got {value!r}."
                )
        names = list(sparse_feature_names)
        if not all(isinstance(n, str) for n in names) or len(set(names)) != len(names):
            raise ValueError(
                f"FMInteractionArch sparse_feature_names must be distinct strings, got {names!r}."
            )
        self.fm_in_features = int(fm_in_features)
        self.sparse_feature_names = names
        self.deep_fm_dimension = int(deep_fm_dimension)
        self.deep_fm = keras.layers.Dense(self.deep_fm_dimension, activation="relu", name="deep_fm")

    def build(self, dense_features_shape: Any = None, sparse_features_shape: Any = None) -> None:
        self.deep_fm.build((None, self.fm_in_features))
        self.built = True

    def _inputs(self, dense_features: Any, sparse_features: Any) -> list[Any]:
        """The list [dense, e_1, ..., e_F] of 2-D tensors, checked."""
        if len(dense_features.shape) != 2:
            raise ValueError(
                "FMInteractionArch expects dense_features of rank 2 (batch, D), "
                f"got shape {tuple(dense_features.shape)}."
            )
        names = self.sparse_feature_names
        if isinstance(sparse_features, dict):
            missing = [n for n in names if n not in sparse_features]
            if missing:
                raise ValueError(
                    f"FMInteractionArch sparse_features is missing features {missing}."
                )
            sparse = [sparse_features[n] for n in names]
        elif isinstance(sparse_features, list | tuple):
            sparse = list(sparse_features)
        else:
            if len(sparse_features.shape) != 3:
                raise ValueError(
                    "FMInteractionArch expects sparse_features as a list of (batch, D_f) tensors or "
                    f"a (batch, F, D) tensor, got shape {tuple(sparse_features.shape)}."
                )
            sparse = [sparse_features[:, f] for f in range(sparse_features.shape[1])]
        if len(sparse) != len(names):
            raise ValueError(
                f"FMInteractionArch expects {len(names)} sparse features ({names}), got {len(sparse)}."
            )
        for name, tensor in zip(names, sparse, strict=True):
            if len(tensor.shape) != 2:
                raise ValueError(
                    f"FMInteractionArch expects sparse feature {name!r} of rank 2 (batch, D_f), "
                    f"got shape {tuple(tensor.shape)}."
                )
        total = sum(int(t.shape[-1]) for t in [dense_features, *sparse])
        if total != self.fm_in_features:
            raise ValueError(
                f"FMInteractionArch fm_in_features={self.fm_in_features} does not match the inputs: "
                f"D + sum of D_f = {total}."
            )
        return [dense_features, *sparse]

    def call(self, dense_features: Any, sparse_features: Any) -> Any:
        if not self.sparse_feature_names:
            return dense_features
        tensors = self._inputs(dense_features, sparse_features)
        flat = ops.concatenate(tensors, axis=1)
        deep = self.deep_fm(flat)
        total = ops.sum(flat, axis=1, keepdims=True)
        fm = 0.5 * (total * total - ops.sum(flat * flat, axis=1, keepdims=True))
        return ops.concatenate([dense_features, deep, fm], axis=1)

    def fm_pair_terms(self, dense_features: Any, sparse_features: Any) -> Any:
        """``(batch, 1 + F, 1 + F)`` split of the FM term by pair of inputs (index 0 = dense).

        With s_a the sum of the entries of input a: off-diagonal ``[a, b]`` = 0.5 * s_a * s_b,
        diagonal ``[a, a]`` = 0.5 * (s_a^2 - sum of squares of a's entries); the whole matrix sums to
        the FM column of ``call``.
        """
        tensors = self._inputs(dense_features, sparse_features)
        sums = ops.stack([ops.sum(t, axis=1) for t in tensors], axis=1)  # (batch, 1 + F)
        squares = ops.stack([ops.sum(t * t, axis=1) for t in tensors], axis=1)
        outer = 0.5 * sums[:, :, None] * sums[:, None, :]
        eye = ops.eye(len(tensors), dtype=outer.dtype)
        return outer - eye[None] * (0.5 * squares)[:, :, None]

    def compute_output_shape(
        self, dense_features_shape: Any, sparse_features_shape: Any = None
    ) -> tuple:
        shape = tuple(dense_features_shape)
        if len(shape) != 2:
            raise ValueError(
                f"FMInteractionArch expects dense_features of rank 2, got shape {shape}."
            )
        if not self.sparse_feature_names:
            return shape
        width = None if shape[1] is None else shape[1] + self.deep_fm_dimension + 1
        return (shape[0], width)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "fm_in_features": self.fm_in_features,
            "sparse_feature_names": list(self.sparse_feature_names),
            "deep_fm_dimension": self.deep_fm_dimension,
        }
