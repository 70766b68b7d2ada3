"""xDeepFM's Compressed Interaction Network (CIN), DeepCTR's ``CIN`` as a Keras 3 layer."""

from __future__ import annotations

from typing import Any

from recsys_core import _backend  # noqa: F401

# isort: split
import keras
from keras import ops

from recsys_core.layers.seeding import weight_seed


@keras.saving.register_keras_serializable(package="recsys_core")
class CIN(keras.layers.Layer):
    """X^k[h, d] = act(sum_{i,j} W^k[i, j, h] * X^0[i, d] * X^{k-1}[j, d] + b^k[h]);
    out = concat over layers of sum_d X^k[h, d] (with split_half, half of each hidden layer's maps
    feed the next layer and the other half the output).

    Input ``(batch, field_size, embedding_size)``; output ``(batch, featuremap_num)`` with
    ``featuremap_num = sum(layer_size[:-1]) // 2 + layer_size[-1]`` if ``split_half`` else
    ``sum(layer_size)``. Same arguments, defaults, weights (``filter{i}`` of shape
    ``(1, F0 * F_{i}, layer_size[i])`` then ``bias{i}``, layer by layer) and outputs as DeepCTR 0.9.4,
    so ``set_weights(deepctr_cin.get_weights())`` reproduces it. ``activation`` is any Keras
    activation name or callable (DeepCTR's "dice" is not supported).

    Fixed DeepCTR defect: its ``get_config`` drops ``l2_reg``; here every argument is serialized.

    Explaining: ``first_layer_field_weights()`` gives W^1 as ``(F, F, layer_size[0])``, and
    ``first_layer_pair_contributions(inputs)`` the exact pair terms W^1[i, j, h] * <x_i, x_j>.

    Reference: Lian et al., "xDeepFM: Combining Explicit and Implicit Feature Interactions for
    Recommender Systems", KDD 2018 (arXiv:1803.05170).
    """

    def __init__(
        self,
        layer_size: list[int] | tuple[int, ...] = (128, 128),
        activation: Any = "relu",
        split_half: bool = True,
        l2_reg: float = 1e-5,
        seed: int = 1024,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        layer_size = [int(s) for s in layer_size]
        if len(layer_size) == 0:
            raise ValueError("CIN layer_size must hold at least one layer size, got [].")
        if any(s < 1 for s in layer_size):
            raise ValueError(f"CIN layer_size entries must be positive, got {layer_size}.")
        if split_half and any(s % 2 for s in layer_size[:-1]):
            raise ValueError(
                "CIN layer_size must be even except for the last layer when split_half=True, "
                f"got {layer_size}."
            )
        if float(l2_reg) < 0:
            raise ValueError(f"CIN l2_reg must be non-negative, got {l2_reg}.")
        self.layer_size = layer_size
        self.activation = activation
        self.split_half = bool(split_half)
        self.l2_reg = float(l2_reg)
        self.seed = int(seed)
        self._activation_fn = keras.activations.get(activation)

    @property
    def featuremap_num(self) -> int:
        if self.split_half:
            return sum(self.layer_size[:-1]) // 2 + self.layer_size[-1]
        return sum(self.layer_size)

    def _hidden_sizes(self, num_fields: int) -> list[int]:
        """Number of feature maps entering each layer: F0, F1, ... ."""
        sizes = [num_fields]
        for size in self.layer_size:
            sizes.append(size // 2 if self.split_half else size)
        return sizes

    def build(self, input_shape: Any) -> None:
        shape = tuple(input_shape)
        if len(shape) != 3:
            raise ValueError(
                f"CIN expects inputs of rank 3 (batch, field_size, embedding_size), got shape {shape}."
            )
        if shape[1] is None:
            raise ValueError("CIN needs a known field_size (axis 1) to create its weights.")
        self._num_fields = int(shape[1])
        fields = self._hidden_sizes(self._num_fields)
        self.filters = []
        self.bias = []
        for i, size in enumerate(self.layer_size):
            self.filters.append(
                self.add_weight(
                    name=f"filter{i}",
                    shape=(1, fields[i] * fields[0], size),
                    initializer=keras.initializers.GlorotUniform(seed=weight_seed(self.seed, i)),
                    regularizer=keras.regularizers.L2(self.l2_reg) if self.l2_reg else None,
                )
            )
            self.bias.append(self.add_weight(name=f"bias{i}", shape=(size,), initializer="zeros"))
        self.built = True

    def _check(self, inputs: Any) -> tuple[int, int]:
        if len(inputs.shape) != 3:
            raise ValueError(
                "CIN expects inputs of rank 3 (batch, field_size, embedding_size), "
                f"got shape {tuple(inputs.shape)}."
            )
        expected = self._num_fields
        if inputs.shape[1] != expected:
            raise ValueError(
                f"CIN was built for field_size={expected}, got inputs of shape {tuple(inputs.shape)}."
            )
        return expected, int(inputs.shape[2])

    def call(self, inputs: Any) -> Any:
        num_fields, _ = self._check(inputs)
        fields = self._hidden_sizes(num_fields)
        x0 = inputs
        hidden = inputs
        outputs = []
        for i, size in enumerate(self.layer_size):
            kernel = ops.reshape(self.filters[i], (fields[0], fields[i], size))
            # (batch, size, dim): sum_{i,j} W[i, j, h] x0[i, d] x_{k-1}[j, d]
            maps = ops.einsum("bid,bjd,ijh->bhd", x0, hidden, kernel)
            maps = self._activation_fn(maps + ops.reshape(self.bias[i], (1, size, 1)))
            if self.split_half and i != len(self.layer_size) - 1:
                hidden, direct = maps[:, : size // 2], maps[:, size // 2 :]
            else:
                hidden, direct = maps, maps
            outputs.append(direct)
        return ops.sum(ops.concatenate(outputs, axis=1), axis=-1)

    def first_layer_field_weights(self) -> Any:
        """W^1 as a ``(F, F, layer_size[0])`` tensor: entry ``[i, j, h]`` weighs the pair (field i of
        X^0, field j of X^0) in first-layer feature map h (``filter0[0, i * F + j, h]``)."""
        f = self._num_fields
        return ops.reshape(self.filters[0], (f, f, self.layer_size[0]))

    def first_layer_pair_contributions(self, inputs: Any) -> Any:
        """``(batch, F, F, layer_size[0])`` pair terms W^1[i, j, h] * <x_i, x_j>.

        Their sum over (i, j) plus ``embedding_size * bias0[h]`` equals the first layer's
        pre-activation feature map h summed over the embedding axis, exactly.
        """
        self._check(inputs)
        gram = ops.einsum("bid,bjd->bij", inputs, inputs)
        return gram[..., None] * self.first_layer_field_weights()[None]

    def compute_output_shape(self, input_shape: Any) -> tuple:
        shape = tuple(input_shape)
        if len(shape) != 3:
            raise ValueError(
                f"CIN expects inputs of rank 3 (batch, field_size, embedding_size), got shape {shape}."
            )
        return (shape[0], self.featuremap_num)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "layer_size": list(self.layer_size),
            "activation": keras.activations.serialize(self._activation_fn)
            if not isinstance(self.activation, str)
            else self.activation,
            "split_half": self.split_half,
            "l2_reg": self.l2_reg,
            "seed": self.seed,
        }
