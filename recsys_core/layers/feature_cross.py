"""DCN's cross layer, built on ``keras_rs.layers.FeatureCross``."""

from __future__ import annotations

from typing import Any

from recsys_core import _backend  # noqa: F401

# isort: split
import keras
import keras_rs
from keras import ops


@keras.saving.register_keras_serializable(package="recsys_core")
class FeatureCross(keras_rs.layers.FeatureCross):
    """x_{i+1} = x_0 * (act(x_i W + b) + diag_scale * x_i) + x_i, with W = U V when projection_dim is set
    (``*`` element-wise, ``act`` = pre_activation, identity by default).

    Numerically identical to ``keras_rs.layers.FeatureCross`` 0.4 (same arguments, defaults,
    weights and ``call(x0, x=None)``); adds argument/shape checks and ``effective_kernel`` to
    explain itself. Defaults follow keras-rs' code where its docstring disagrees: ``diag_scale``
    defaults to 0.0 (documented as None; None is accepted and means 0) and ``bias_initializer`` to
    "zeros" (documented as "ones").

    Explaining: ``effective_kernel(include_diag=False)`` returns the ``(input_dim, input_dim)``
    matrix W in Keras' row-vector convention, ``W[i, j]`` = weight of x_i[i] in output coordinate j
    (the paper's column-vector W is its transpose): the full kernel, or U @ V (down-projection
    kernel ``(input_dim, projection_dim)`` times up-projection kernel ``(projection_dim,
    input_dim)``) in the low-rank case. ``include_diag=True`` adds ``diag_scale * I``; with no
    pre_activation, output = x_0 * (x_i @ that matrix + b) + x_i exactly.

    References: Wang et al., "Deep & Cross Network for Ad Click Predictions", ADKDD 2017
    (arXiv:1708.05123); Wang et al., "DCN V2: Improved Deep & Cross Network and Practical Lessons
    for Web-scale Learning to Rank Systems", WWW 2021 (arXiv:2008.13535).
    """

    def __init__(
        self,
        projection_dim: int | None = None,
        diag_scale: float | None = 0.0,
        use_bias: bool = True,
        pre_activation: Any = None,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        bias_regularizer: Any = None,
        **kwargs: Any,
    ) -> None:
        if projection_dim is not None and (
            isinstance(projection_dim, bool)
            or int(projection_dim) != projection_dim
            or projection_dim < 1
        ):
            raise ValueError(
                f"FeatureCross projection_dim must be None or a positive integer, got {projection_dim!r}."
            )
        if diag_scale is not None and diag_scale < 0.0:
            raise ValueError(f"FeatureCross diag_scale must be non-negative, got {diag_scale!r}.")
        super().__init__(
            projection_dim=None if projection_dim is None else int(projection_dim),
            diag_scale=diag_scale,
            use_bias=use_bias,
            pre_activation=pre_activation,
            kernel_initializer=kernel_initializer,
            bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer,
            bias_regularizer=bias_regularizer,
            **kwargs,
        )

    def build(self, input_shape: Any) -> None:
        shape = tuple(input_shape)
        if len(shape) < 2 or shape[-1] is None:
            raise ValueError(
                "FeatureCross expects inputs of rank >= 2 (batch, ..., input_dim) with a known "
                f"input_dim, got shape {shape}."
            )
        super().build(input_shape)

    def call(self, x0: Any, x: Any | None = None) -> Any:
        if len(x0.shape) < 2:
            raise ValueError(
                f"FeatureCross expects x0 of rank >= 2 (batch, ..., input_dim), got shape {tuple(x0.shape)}."
            )
        if x is not None and tuple(x.shape) != tuple(x0.shape):
            raise ValueError(
                f"FeatureCross expects x and x0 of the same shape, got x0 {tuple(x0.shape)} and "
                f"x {tuple(x.shape)}."
            )
        return super().call(x0, x)

    def effective_kernel(self, include_diag: bool = False) -> Any:
        """The ``(input_dim, input_dim)`` matrix W (row-vector convention, see the class docstring),
        plus ``diag_scale * I`` when ``include_diag``."""
        if not self.built:
            raise ValueError(
                "FeatureCross.effective_kernel needs a built layer; call it on data first."
            )
        kernel = ops.convert_to_tensor(self.dense.kernel)
        if self.projection_dim is not None:
            kernel = ops.matmul(self.down_proj_dense.kernel, kernel)
        if include_diag and self.diag_scale:
            kernel = kernel + self.diag_scale * ops.eye(kernel.shape[0], dtype=kernel.dtype)
        return kernel
