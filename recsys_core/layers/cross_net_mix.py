"""DCN-Mix's cross network: a mixture of low-rank experts, DeepCTR's ``CrossNetMix``."""

from __future__ import annotations

from typing import Any

from recsys_core import _backend  # noqa: F401

# isort: split
import keras
from keras import ops

from recsys_core.layers.seeding import weight_seed


@keras.saving.register_keras_serializable(package="recsys_core")
class CrossNetMix(keras.layers.Layer):
    """x_{l+1} = sum_e softmax_e(g_e . x_l) * x_0 * (U_{l,e} tanh(C_{l,e} tanh(V_{l,e}^T x_l)) + b_l) + x_l
    (``*`` element-wise; one gate vector g_e per expert, shared by the cross layers).

    Input and output ``(batch, units)``. Same arguments, defaults and weights as DeepCTR 0.9.4:
    ``U_list{i}`` ``(num_experts, units, low_rank)`` for every layer, then ``V_list{i}`` (same
    shape), ``C_list{i}`` ``(num_experts, low_rank, low_rank)``, ``bias{i}`` ``(units, 1)``, then the
    ``num_experts`` gating Dense kernels ``(units, 1)``, so
    ``set_weights(deepctr_crossnetmix.get_weights())`` reproduces it.

    Explaining: ``effective_kernels()`` gives per layer a ``(num_experts, units, units)`` array
    U_e C_e V_e^T: each expert's map x_l -> U_e tanh(C_e tanh(V_e^T x_l)) linearised at x_l = 0
    (its exact Jacobian there; tanh is the identity to first order); ``gating_scores(inputs)`` the
    softmax expert weights per layer.

    Reference: Wang et al., "DCN V2: Improved Deep & Cross Network and Practical Lessons for
    Web-scale Learning to Rank Systems", WWW 2021 (arXiv:2008.13535).
    """

    def __init__(
        self,
        low_rank: int = 32,
        num_experts: int = 4,
        layer_num: int = 2,
        l2_reg: float = 0,
        seed: int = 1024,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        for arg, value, low in (
            ("low_rank", low_rank, 1),
            ("num_experts", num_experts, 1),
            ("layer_num", layer_num, 0),
        ):
            if int(value) < low:
                raise ValueError(f"CrossNetMix {arg} must be >= {low}, got {value}.")
        if float(l2_reg) < 0:
            raise ValueError(f"CrossNetMix l2_reg must be non-negative, got {l2_reg}.")
        self.low_rank = int(low_rank)
        self.num_experts = int(num_experts)
        self.layer_num = int(layer_num)
        self.l2_reg = float(l2_reg)
        self.seed = int(seed)

    def build(self, input_shape: Any) -> None:
        shape = tuple(input_shape)
        if len(shape) != 2:
            raise ValueError(
                f"CrossNetMix expects inputs of rank 2 (batch, units), got shape {shape}."
            )
        if shape[-1] is None:
            raise ValueError(
                "CrossNetMix needs a known last dimension (units) to create its weights."
            )
        dim = int(shape[-1])
        self._dim = dim
        e, r = self.num_experts, self.low_rank
        regularizer = keras.regularizers.L2(self.l2_reg) if self.l2_reg else None

        def make(name: str, shape: tuple[int, ...], offset: int) -> list[Any]:
            return [
                self.add_weight(
                    name=f"{name}{i}",
                    shape=shape,
                    initializer=keras.initializers.GlorotNormal(
                        seed=weight_seed(self.seed, offset * self.layer_num + i)
                    ),
                    regularizer=regularizer,
                )
                for i in range(self.layer_num)
            ]

        self.U_list = make("U_list", (e, dim, r), 0)
        self.V_list = make("V_list", (e, dim, r), 1)
        self.C_list = make("C_list", (e, r, r), 2)
        self.bias = [
            self.add_weight(name=f"bias{i}", shape=(dim, 1), initializer="zeros")
            for i in range(self.layer_num)
        ]
        self.gating = [
            keras.layers.Dense(1, use_bias=False, name=f"gating_{k}")
            for k in range(self.num_experts)
        ]
        for gate in self.gating:
            gate.build((None, dim))
        self.built = True

    def _check(self, inputs: Any) -> None:
        if len(inputs.shape) != 2 or inputs.shape[-1] != self._dim:
            raise ValueError(
                f"CrossNetMix expects inputs of shape (batch, {self._dim}), got {tuple(inputs.shape)}."
            )

    def _gate_logits(self, x: Any) -> Any:
        return ops.concatenate([gate(x) for gate in self.gating], axis=-1)  # (batch, experts)

    def _layer(self, i: int, x0: Any, x: Any) -> tuple[Any, Any]:
        v = ops.tanh(ops.einsum("edr,bd->ber", self.V_list[i], x))
        v = ops.tanh(ops.einsum("ers,bes->ber", self.C_list[i], v))
        uv = ops.einsum("edr,ber->bed", self.U_list[i], v)
        experts = x0[:, None, :] * (
            uv + ops.reshape(self.bias[i], (1, 1, -1))
        )  # (batch, experts, dim)
        gates = ops.softmax(self._gate_logits(x), axis=-1)
        return ops.sum(experts * gates[..., None], axis=1) + x, gates

    def call(self, inputs: Any) -> Any:
        self._check(inputs)
        x = inputs
        for i in range(self.layer_num):
            x, _ = self._layer(i, inputs, x)
        return x

    def gating_scores(self, inputs: Any) -> Any:
        """Softmax weights of the experts, ``(batch, layer_num, num_experts)``."""
        self._check(inputs)
        x = inputs
        scores = []
        for i in range(self.layer_num):
            x, gates = self._layer(i, inputs, x)
            scores.append(gates)
        return ops.stack(scores, axis=1)

    def effective_kernels(self) -> list[Any]:
        """Per cross layer a ``(num_experts, units, units)`` array U_e @ C_e @ V_e^T (the Jacobian of
        expert e's low-rank map at x_l = 0)."""
        return [
            ops.einsum("edr,ers,ecs->edc", u, c, v)
            for u, v, c in zip(self.U_list, self.V_list, self.C_list, strict=True)
        ]

    def compute_output_shape(self, input_shape: Any) -> tuple:
        shape = tuple(input_shape)
        if len(shape) != 2:
            raise ValueError(
                f"CrossNetMix expects inputs of rank 2 (batch, units), got shape {shape}."
            )
        return shape

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "low_rank": self.low_rank,
            "num_experts": self.num_experts,
            "layer_num": self.layer_num,
            "l2_reg": self.l2_reg,
            "seed": self.seed,
        }
