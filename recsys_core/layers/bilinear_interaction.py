"""FiBiNET's bilinear interaction, DeepCTR's ``BilinearInteraction`` layer."""

from __future__ import annotations

from typing import Any

from recsys_core import _backend  # noqa: F401

# isort: split
import keras
from keras import ops

from recsys_core.layers.field_inputs import check_field_list, pair_index, pairs_to_matrix
from recsys_core.layers.seeding import weight_seed

BILINEAR_TYPES = ("all", "each", "interaction")


@keras.saving.register_keras_serializable(package="recsys_core")
class BilinearInteraction(keras.layers.Layer):
    """FiBiNET bilinear pairs: p_ij = (v_i W) * v_j (element-wise), for i < j, as a ``(batch, P, E)`` tensor.

    W is one shared ``(E, E)`` matrix ('all', weight ``bilinear_weight``), one per left field i
    ('each', weights ``bilinear_weight{i}``, i < F-1) or one per pair ('interaction', weights
    ``bilinear_weight{i}_{j}``), created in that order. Input: a list of F >= 2 tensors
    ``(batch, 1, embedding_size)``; output ``(batch, F(F-1)/2, embedding_size)``, pairs in row-major
    order (see ``pair_index``). Same behaviour as ``deepctr.layers.BilinearInteraction`` (0.9.4).
    Deviations: an unknown ``bilinear_type`` raises ``ValueError`` in the constructor (DeepCTR
    raises a bare ``NotImplementedError`` in ``build``), inputs must share one ``(batch, 1, E)``
    shape (DeepCTR does not check), and ``compute_output_shape`` keeps the batch dimension.

    Reference: T. Huang, Z. Zhang, J. Zhang, "FiBiNET: Combining Feature Importance and Bilinear
    feature Interaction for Click-Through Rate Prediction", RecSys 2019 (arXiv:1905.09433).
    """

    def __init__(
        self, bilinear_type: str = "interaction", seed: int | None = 1024, **kwargs: Any
    ) -> None:
        if bilinear_type not in BILINEAR_TYPES:
            raise ValueError(
                f"bilinear_type must be one of {BILINEAR_TYPES}, got {bilinear_type!r}."
            )
        super().__init__(**kwargs)
        self.bilinear_type = bilinear_type
        self.seed = seed

    @staticmethod
    def _check_shapes(shapes: Any) -> tuple[int, Any]:
        return check_field_list("BilinearInteraction", shapes)

    def build(self, input_shape: Any) -> None:
        num_fields, embedding_size = self._check_shapes(input_shape)
        if embedding_size is None:
            raise ValueError("BilinearInteraction needs a known embedding_size (last input axis).")
        self.num_fields = num_fields
        shape = (int(embedding_size), int(embedding_size))
        if self.bilinear_type == "all":
            names = ["bilinear_weight"]
        elif self.bilinear_type == "each":
            names = [f"bilinear_weight{i}" for i in range(num_fields - 1)]
        else:
            names = [f"bilinear_weight{i}_{j}" for i, j in self.pair_index(num_fields)]
        self.W_list = [
            self.add_weight(
                name=name,
                shape=shape,
                initializer=keras.initializers.GlorotNormal(seed=weight_seed(self.seed, k)),
            )
            for k, name in enumerate(names)
        ]
        self.built = True

    def call(self, inputs: Any) -> Any:
        inputs = [ops.convert_to_tensor(x) for x in inputs]
        shapes = [tuple(x.shape) for x in inputs]
        num_fields, _ = self._check_shapes(shapes)
        if not self.built:
            self.build(shapes)
        if num_fields != self.num_fields:
            raise ValueError(
                f"BilinearInteraction was built for {self.num_fields} fields, got {num_fields} inputs."
            )
        x = ops.concatenate(inputs, axis=1)  # (b, F, E)
        rows, cols = (list(t) for t in zip(*self.pair_index(num_fields), strict=True))
        right = ops.take(x, cols, axis=1)
        if self.bilinear_type == "all":
            left = ops.matmul(ops.take(x, rows, axis=1), self.W_list[0])
        elif self.bilinear_type == "each":
            projected = ops.einsum("bfe,feg->bfg", x[:, :-1], ops.stack(self.W_list, axis=0))
            left = ops.take(projected, rows, axis=1)
        else:
            left = ops.einsum(
                "bke,keg->bkg", ops.take(x, rows, axis=1), ops.stack(self.W_list, axis=0)
            )
        return left * right

    def compute_output_shape(self, input_shape: Any) -> tuple[Any, ...]:
        num_fields, embedding_size = self._check_shapes(input_shape)
        return (input_shape[0][0], num_fields * (num_fields - 1) // 2, embedding_size)

    def pair_vectors(self, inputs: Any) -> Any:
        """``(batch, P, E)`` pair vectors p_ij in ``pair_index`` order (the layer's output itself)."""
        return self.call(inputs)

    def pair_terms(self, inputs: Any) -> Any:
        """``(batch, F, F)`` matrix N with N[i, j] = N[j, i] = ||p_ij||_2 (Euclidean norm), N[i, i] = 0.

        The layer outputs vectors, so these are unsigned magnitudes of the pair vectors (how much
        each pair feeds the next layer), not terms that sum to the output.
        """
        values = ops.sqrt(ops.sum(ops.square(self.call(inputs)), axis=-1))
        num_fields = self.num_fields
        return pairs_to_matrix(values, num_fields)

    @staticmethod
    def pair_index(num_fields: int) -> list[tuple[int, int]]:
        """The pairs (i, j), i < j, in output order: (0, 1), (0, 2), ..., (F-2, F-1)."""
        return pair_index(num_fields)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "bilinear_type": self.bilinear_type, "seed": self.seed}
