"""The cross network of Deep & Cross Network (DCN, and DCN-M's matrix form), DeepCTR's ``CrossNet``."""

from __future__ import annotations

from typing import Any

from recsys_core import _backend  # noqa: F401

# isort: split
import keras
from keras import ops

from recsys_core.layers.seeding import weight_seed

PARAMETERIZATIONS = ("vector", "matrix")


@keras.saving.register_keras_serializable(package="recsys_core")
class CrossNet(keras.layers.Layer):
    """vector: x_{l+1} = x_0 * (x_l . w_l) + b_l + x_l;  matrix: x_{l+1} = x_0 * (W_l x_l + b_l) + x_l
    (``*`` element-wise, ``.`` dot product, ``W_l x_l`` the matrix-vector product sum_j W_l[i, j] x_l[j]).

    Input and output ``(batch, units)``. Same arguments, defaults and weights as DeepCTR 0.9.4:
    all kernels ``kernel{i}`` first (``(units, 1)`` for "vector", ``(units, units)`` for "matrix"),
    then all biases ``bias{i}`` ``(units, 1)``, so ``set_weights(deepctr_crossnet.get_weights())``
    reproduces it.

    Fixed DeepCTR defect: its constructor prints the parameterization; this layer prints nothing.
    A bad ``parameterization`` raises at construction rather than at build.

    Explaining: ``effective_kernels()`` returns one array per cross layer, w_l ``(units,)`` or
    W_l ``(units, units)``.

    References: Wang et al., "Deep & Cross Network for Ad Click Predictions", ADKDD 2017
    (arXiv:1708.05123); Wang et al., "DCN V2: Improved Deep & Cross Network and Practical Lessons
    for Web-scale Learning to Rank Systems", WWW 2021 (arXiv:2008.13535).
    """

    def __init__(
        self,
        layer_num: int = 2,
        parameterization: str = "vector",
        l2_reg: float = 0,
        seed: int = 1024,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if int(layer_num) < 0:
            raise ValueError(f"CrossNet layer_num must be >= 0, got {layer_num}.")
        if parameterization not in PARAMETERIZATIONS:
            raise ValueError(
                f"CrossNet parameterization must be one of {PARAMETERIZATIONS}, got {parameterization!r}."
            )
        if float(l2_reg) < 0:
            raise ValueError(f"CrossNet l2_reg must be non-negative, got {l2_reg}.")
        self.layer_num = int(layer_num)
        self.parameterization = parameterization
        self.l2_reg = float(l2_reg)
        self.seed = int(seed)

    def build(self, input_shape: Any) -> None:
        shape = tuple(input_shape)
        if len(shape) != 2:
            raise ValueError(
                f"CrossNet expects inputs of rank 2 (batch, units), got shape {shape}."
            )
        if shape[-1] is None:
            raise ValueError("CrossNet needs a known last dimension (units) to create its weights.")
        dim = int(shape[-1])
        self._dim = dim
        kernel_shape = (dim, 1) if self.parameterization == "vector" else (dim, dim)
        regularizer = keras.regularizers.L2(self.l2_reg) if self.l2_reg else None
        self.kernels = [
            self.add_weight(
                name=f"kernel{i}",
                shape=kernel_shape,
                initializer=keras.initializers.GlorotNormal(seed=weight_seed(self.seed, i)),
                regularizer=regularizer,
            )
            for i in range(self.layer_num)
        ]
        self.bias = [
            self.add_weight(name=f"bias{i}", shape=(dim, 1), initializer="zeros")
            for i in range(self.layer_num)
        ]
        self.built = True

    def call(self, inputs: Any) -> Any:
        if len(inputs.shape) != 2 or inputs.shape[-1] != self._dim:
            raise ValueError(
                f"CrossNet expects inputs of shape (batch, {self._dim}), got {tuple(inputs.shape)}."
            )
        x0 = inputs
        x = inputs
        for i in range(self.layer_num):
            bias = ops.reshape(self.bias[i], (1, -1))
            if self.parameterization == "vector":
                x = x0 * ops.matmul(x, self.kernels[i]) + bias + x
            else:
                x = x0 * (ops.matmul(x, ops.transpose(self.kernels[i])) + bias) + x
        return x

    def effective_kernels(self) -> list[Any]:
        """One array per cross layer: w_l ``(units,)`` for "vector", W_l ``(units, units)`` for
        "matrix" (row i gives the weights of x_l in output coordinate i, which multiplies x_0[i])."""
        if self.parameterization == "vector":
            return [ops.reshape(k, (-1,)) for k in self.kernels]
        return [ops.convert_to_tensor(k) for k in self.kernels]

    def compute_output_shape(self, input_shape: Any) -> tuple:
        shape = tuple(input_shape)
        if len(shape) != 2:
            raise ValueError(
                f"CrossNet expects inputs of rank 2 (batch, units), got shape {shape}."
            )
        return shape

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "layer_num": self.layer_num,
            "parameterization": self.parameterization,
            "l2_reg": self.l2_reg,
            "seed": self.seed,
        }
