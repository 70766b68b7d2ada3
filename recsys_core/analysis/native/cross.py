"""Cross networks: block norms of the cross weights, their change since initialisation, and the
data-averaged, output-attributed pair terms (DCN-V2 and DCN).

The input of a cross network is x0 = concat(e_1, ..., e_F, x_cont), a column block per *flat
field* (``model.flat_blocks()``): ``D`` columns per sparse field, one per continuous column, so
blocks have unequal sizes k_i. A cross layer of DCN-V2 (Wang et al., "DCN V2: Improved Deep & Cross
Network and Practical Lessons for Web-scale Learning to Rank Systems", WWW 2021, arXiv:2008.13535,
eq. 1) computes

    x_{l+1} = x0 ⊙ (W_l x_l + b_l) + x_l,

and its block-wise reading (ibid., the cross layer's block view W = [W_{i,j}] and the analysis of
learned weight matrices by block-wise Frobenius norms): the block W_{i,j} (rows of field i,
columns of field j) carries the interaction of field i of x0 with field j of x_l, because

    x0 ⊙ (W_l x_l) restricted to block i = sum_j x0_i ⊙ (W_{i,j} x_{l,j}).

Every matrix here uses that orientation: **row = the field of x0 that multiplies, column = the
field of x_l that is read** (the paper's column-vector W; Keras kernels are its transpose). The
matrices are not symmetric and their diagonal is real (x0_i ⊙ W_{i,i} x_{l,i} are self-crosses).

Views (``native_views(model)``):

- ``cross_blocks`` (weights-only): ``||W_{i,j}||_F / sqrt(k_i k_j)``, the root-mean-square weight
  of each block, so a 1-wide continuous column and a D-wide embedding are comparable. Low-rank
  layers (W = U V, ``projection_dim``) are never formed as d x d: with W = L R^T (L, R of shape
  (d, r)), ``||L_i R_j^T||_F^2 = <L_i^T L_i, R_j^T R_j>`` (r x r Gram matrices). DCN-Mix
  (``kind="mix"``): each expert e is linearised at x_l = 0 (tanh' (0) = 1), W_e = U_e C_e V_e^T,
  and the view shows the **uniform-gate mixture** W = (1/E) sum_e W_e (the layer's linear map when
  every gate is 1/E; the gates are softmax weights summing to one), again block-wise from the
  concatenated factors. ``diag_scale`` (W + diag_scale I in keras-rs' FeatureCross) is left out of
  the weights-only views and reported in ``extra``.
- ``cross_change`` (weights-only): the same block norms of W_l - W_l(init), the change from
  initialisation. W_l(init) comes from rebuilding the model from its config after
  ``keras.utils.set_random_seed(seed)``, exactly as training builds it
  (``training.pipeline.train_run``), so ``seed`` (the run's ``config.train.seed``) is required.
- ``cross_data`` (data-averaged): over held-out rows, E_x |a_{i,j}(x)| with the **attributed**,
  **centred** pair term

      a_{i,j}(x) = sum_{c in block i} g_c(x) (x0_c - m0_c) (W_l[c, block j] (x_l - m_l)_{block j}),
      g(x) = d score / d x_{l+1}  (at the row x, back through the later layers and the output),

  with m0, m_l the means of x0 and x_l over the same rows. "Attributed" = gradient x input: the
  first-order share of the model's score carried by the pair term x0_i ⊙ W_{i,j} x_{l,j} of layer
  l, in score units (rating or logit); for the last cross layer with a linear output unit
  (``dnn=[]``) g is the output kernel and the attribution is exact. "Centred" removes what a pair
  term carries of one field alone (x0_i W_ij E[x_j] is a main effect of field i): for the first
  layer with a linear output and independent fields, the centred term is exactly the term's
  doubly-centred (functional-ANOVA) interaction part. DCN-Mix uses each row's own gates with the
  experts linearised as above; FeatureCross's ``diag_scale`` is included (it is part of x0 ⊙ (.)).
- DCN (Wang et al., "Deep & Cross Network for Ad Click Predictions", ADKDD 2017, arXiv:1708.05123):
  x_{l+1} = x0 (x_l . w_l) + b_l + x_l is x0 ⊙ (W_l x_l) with W_l = 1 w_l^T (rank one, every row
  the same), so a heatmap of its blocks would repeat one row: ``cross_fields`` shows bars,
  ``||w_{l,j}||_2 / sqrt(k_j)`` per field j (the block norm of any row block). ``cross_data``
  applies to it too. The matrix parametrisation of ``CrossNet`` (``parameterization="matrix"``,
  DCN-M) gets ``cross_blocks``/``cross_change`` like DCN-V2.

Data-dependent views run under ``jax.jit`` in chunks (``models.pure.apply_in_chunks``).
"""

from __future__ import annotations

import random
import weakref
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import keras
import numpy as np
import pandas as pd
from keras import ops

from recsys_core.analysis.matrix import InteractionMatrix
from recsys_core.analysis.native.base import (
    FieldScores,
    NativeView,
    check_choice,
    check_rows,
    register_view,
)
from recsys_core.analysis.units import score_unit
from recsys_core.errors import RecsysCoreError
from recsys_core.features.spec import CONTINUOUS_FIELD
from recsys_core.models.dcn import DCN, combine
from recsys_core.models.dcn_v2 import DCNV2
from recsys_core.models.pure import apply_in_chunks, model_params, pure_method

ORIENTATION = "row: field of x0 (multiplies); column: field of x_l (read by W)"


# --------------------------------------------------------------------------- fields and blocks


def flat_fields(model: Any) -> tuple[list[str], np.ndarray]:
    """Names and widths of the cross network's input blocks (sparse fields, then continuous columns)."""
    blocks = model.flat_blocks()
    return [name for name, _ in blocks], np.array([width for _, width in blocks], dtype=int)


def block_indicator(widths: np.ndarray) -> np.ndarray:
    """``(F, d)`` 0/1 matrix: S[i, c] = 1 when column c of x0 belongs to block i."""
    owner = np.repeat(np.arange(len(widths)), widths)
    return (owner[None, :] == np.arange(len(widths))[:, None]).astype(np.float32)


def _flat_groups(model: Any, preprocessor: Any) -> dict[str, str]:
    spec = getattr(preprocessor, "spec", None)
    if spec is None:
        return {}
    groups = {t["name"]: spec.group_of(t["name"]) for t in model.tables}
    cont = spec.groups.get(CONTINUOUS_FIELD, "context")
    groups.update({c: spec.groups.get(c, cont) for c in model.continuous})
    return groups


# --------------------------------------------------------------------------- weights of a layer


@dataclass
class CrossWeights:
    """One layer's W in the paper's orientation (row = output coordinate, multiplied by x0):
    ``dense`` (d, d), or ``left @ right.T`` with ``left``, ``right`` of shape (d, r)."""

    dense: np.ndarray | None = None
    left: np.ndarray | None = None
    right: np.ndarray | None = None
    diag_scale: float = 0.0

    def minus(self, other: CrossWeights) -> CrossWeights:
        if self.dense is not None and other.dense is not None:
            return CrossWeights(dense=self.dense - other.dense, diag_scale=self.diag_scale)
        if self.left is None or other.left is None:
            raise RecsysCoreError(
                "the cross weights differ in parametrisation (a model rebuilt from its config "
                "must match the trained one to give its initial weights)."
            )
        return CrossWeights(
            left=np.concatenate([self.left, other.left], axis=1),
            right=np.concatenate([self.right, -other.right], axis=1),
            diag_scale=self.diag_scale,
        )

    def full(self) -> np.ndarray:
        """The d x d matrix (for tests and small models only; the views never form it)."""
        return self.dense if self.dense is not None else self.left @ self.right.T


def block_norms(weights: CrossWeights, widths: np.ndarray) -> np.ndarray:
    """``||W_{i,j}||_F / sqrt(k_i k_j)`` for every block pair, without forming a low-rank W."""
    s = block_indicator(widths).astype(np.float64)
    if weights.dense is not None:
        squared = s @ (weights.dense.astype(np.float64) ** 2) @ s.T
    else:
        left, right = (np.asarray(a, np.float64) for a in (weights.left, weights.right))
        gram_l = np.einsum("ic,cr,cs->irs", s, left, left)
        gram_r = np.einsum("jc,cr,cs->jrs", s, right, right)
        squared = np.einsum("irs,jrs->ij", gram_l, gram_r)
    sizes = widths.astype(np.float64)
    return np.sqrt(np.maximum(squared, 0.0) / np.outer(sizes, sizes))


def n_cross_layers(model: Any) -> int:
    return int(model.num_cross_layers)


def _is_vector_dcn(model: Any) -> bool:
    return isinstance(model, DCN) and model.cross.parameterization == "vector"


def cross_weights(model: Any, layer: int) -> CrossWeights:
    """Layer ``layer``'s W (paper orientation) from the model's variables, as NumPy."""
    if isinstance(model, DCN):
        cross = model.cross
        kernel = np.asarray(cross.kernels[layer])
        if cross.parameterization == "vector":
            w = kernel.reshape(-1, 1)
            return CrossWeights(left=np.ones_like(w), right=w)
        return CrossWeights(dense=kernel)  # CrossNet's matrix kernel is already W[out, in]
    if not isinstance(model, DCNV2):
        raise RecsysCoreError(f"model {model.name!r} has no cross network to read.")
    if model.cross_mix is not None:
        mix = model.cross_mix
        u, v, c = (np.asarray(w[layer]) for w in (mix.U_list, mix.V_list, mix.C_list))
        e, d, r = u.shape
        left = np.einsum("edr,ers->eds", u, c) / e  # W_e = (U_e C_e) V_e^T, mean over experts
        return CrossWeights(
            left=left.transpose(1, 0, 2).reshape(d, e * r),
            right=v.transpose(1, 0, 2).reshape(d, e * r),
        )
    cross = model.cross_layers[layer]
    scale = float(cross.diag_scale or 0.0)
    kernel = np.asarray(cross.dense.kernel)  # Keras row-vector kernel: W = kernel^T
    if cross.projection_dim is None:
        return CrossWeights(dense=kernel.T, diag_scale=scale)
    down = np.asarray(cross.down_proj_dense.kernel)  # (d, r); Keras kernel = down @ kernel
    return CrossWeights(left=kernel.T, right=down, diag_scale=scale)


# --------------------------------------------------------------------------- initial weights

# model -> {seed: [CrossWeights per layer]}: a rebuild costs a model construction, do it once.
_INITIAL: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def initial_model(model: Any, seed: int) -> Any:
    """The model as training built it before the first step: ``type(model).from_config(config)``
    after ``keras.utils.set_random_seed(seed)`` (the order of ``training.pipeline.train_run``).

    Python's, NumPy's and Keras' global random state are restored afterwards, so analysing a run
    does not reseed the caller.
    """
    from keras.src.backend.common import global_state

    py_state, np_state = random.getstate(), np.random.get_state()
    saved = {
        key: global_state.get_global_attribute(key)
        for key in ("global_random_seed", "global_seed_generator")
    }
    try:
        keras.utils.set_random_seed(int(seed))
        fresh = type(model).from_config(model.get_config())
        fresh.build()
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
        for key, value in saved.items():
            global_state.set_global_attribute(key, value)
    return fresh


def initial_cross_weights(model: Any, seed: int) -> list[CrossWeights]:
    per_seed = _INITIAL.setdefault(model, {})
    if int(seed) not in per_seed:
        fresh = initial_model(model, seed)
        per_seed[int(seed)] = [cross_weights(fresh, k) for k in range(n_cross_layers(fresh))]
    return per_seed[int(seed)]


# --------------------------------------------------------------------------- weights-only views


def _describe_weights(model: Any, weights: CrossWeights) -> dict[str, Any]:
    extra: dict[str, Any] = {"orientation": ORIENTATION, "diag_scale": weights.diag_scale}
    if isinstance(model, DCNV2):
        if model.cross_mix is not None:
            extra.update(
                parametrisation="mixture of low-rank experts, uniform-gate mean (linearised)",
                experts=model.num_experts,
                rank=model.low_rank,
            )
        elif model.projection_dim:
            extra.update(parametrisation="low rank W = U V", rank=model.projection_dim)
        else:
            extra.update(parametrisation="full rank")
    else:
        extra.update(parametrisation=f"CrossNet ({model.cross.parameterization})")
    return extra


def _matrix_layer(model: Any, layer: int | None) -> int:
    if _is_vector_dcn(model):
        raise RecsysCoreError(
            "DCN's vector cross weights are rank one (every row of W is w_l): "
            "use the bar view 'cross_fields'."
        )
    return check_choice("cross layer", layer, n_cross_layers(model))


def cross_block_matrix(
    model: Any,
    preprocessor: Any,
    rows: pd.DataFrame | None = None,
    layer: int | None = None,
    **_: Any,
) -> InteractionMatrix:
    """Block-wise RMS weight ``||W_{i,j}||_F / sqrt(k_i k_j)`` of cross layer ``layer`` (weights-only)."""
    index = _matrix_layer(model, layer)
    names, widths = flat_fields(model)
    weights = cross_weights(model, index)
    L = n_cross_layers(model)
    mix = " (uniform-gate mean of the linearised experts)" if _mix(model) else ""
    return InteractionMatrix(
        values=block_norms(weights, widths),
        fields=names,
        method="native",
        title=f"Cross weights, layer {index + 1} of {L}: block RMS of W",
        description=(
            f"||W_ij||_F / sqrt(k_i k_j) of cross layer {index + 1}{mix}: row = field of x0 that "
            "multiplies, column = field of x_l; weights-only, unsigned, not symmetric."
        ),
        kind="weights-only",
        signed=False,
        groups=_flat_groups(model, preprocessor),
        extra={"layer": index, **_describe_weights(model, weights)},
    )


def cross_change_matrix(
    model: Any,
    preprocessor: Any,
    rows: pd.DataFrame | None = None,
    layer: int | None = None,
    seed: int | None = None,
    **_: Any,
) -> InteractionMatrix:
    """Block-wise RMS of W - W_init of cross layer ``layer``; ``seed`` is the run's training seed."""
    if seed is None:
        raise RecsysCoreError(
            "the 'cross_change' view needs the run's training seed (config.train.seed) to "
            "rebuild the initial weights."
        )
    index = _matrix_layer(model, layer)
    names, widths = flat_fields(model)
    weights = cross_weights(model, index)
    change = weights.minus(initial_cross_weights(model, int(seed))[index])
    L = n_cross_layers(model)
    return InteractionMatrix(
        values=block_norms(change, widths),
        fields=names,
        method="native",
        title=f"Cross weights, layer {index + 1} of {L}: change from initialisation",
        description=(
            f"||W_ij - W_ij(init)||_F / sqrt(k_i k_j) of cross layer {index + 1}, initial weights "
            f"rebuilt from seed {int(seed)}: row = field of x0, column = field of x_l; "
            "weights-only, unsigned."
        ),
        kind="weights-only",
        signed=False,
        groups=_flat_groups(model, preprocessor),
        extra={"layer": index, "seed": int(seed), **_describe_weights(model, weights)},
    )


def cross_field_scores(
    model: Any,
    preprocessor: Any,
    rows: pd.DataFrame | None = None,
    layer: int | None = None,
    **_: Any,
) -> FieldScores:
    """DCN's vector cross weights: ``||w_{l,j}||_2 / sqrt(k_j)`` per field j (weights-only bars)."""
    if not _is_vector_dcn(model):
        raise RecsysCoreError("'cross_fields' reads DCN's vector cross weights only.")
    index = check_choice("cross layer", layer, n_cross_layers(model))
    names, widths = flat_fields(model)
    w = np.asarray(model.cross.kernels[index]).reshape(-1).astype(np.float64)
    s = block_indicator(widths).astype(np.float64)
    L = n_cross_layers(model)
    return FieldScores(
        values=np.sqrt((s @ w**2) / widths),
        fields=names,
        method="native",
        title=f"Cross weights, layer {index + 1} of {L}: RMS of w per field",
        description=(
            f"||w_j||_2 / sqrt(k_j) of DCN cross layer {index + 1}: how strongly field j of x_l "
            "enters x0 (x_l . w); W = 1 w^T is rank one, so one bar per field replaces a heatmap "
            "of identical rows. Weights-only, unsigned."
        ),
        kind="weights-only",
        signed=False,
        groups=_flat_groups(model, preprocessor),
        extra={"layer": index, "parametrisation": "CrossNet (vector)"},
    )


# --------------------------------------------------------------------------- data-averaged view


def _mix(model: Any) -> bool:
    return isinstance(model, DCNV2) and model.cross_mix is not None


def _v(variable: Any) -> Any:
    """A variable's value inside the pure function (the traced value bound by ``pure_method``)."""
    return ops.convert_to_tensor(variable)


def _step(model: Any, k: int, x0: Any, x: Any) -> Any:
    """x_{k+1} from x_k (traced)."""
    if isinstance(model, DCN):
        cross = model.cross
        bias = jnp.reshape(_v(cross.bias[k]), (1, -1))
        kernel = _v(cross.kernels[k])
        if cross.parameterization == "vector":
            return x0 * jnp.matmul(x, kernel) + bias + x
        return x0 * (jnp.matmul(x, jnp.transpose(kernel)) + bias) + x
    if model.cross_mix is not None:
        return model.cross_mix._layer(k, x0, x)[0]
    return model.cross_layers[k](x0, x)


def _applied(model: Any, k: int, x: Any, zs: Any) -> Any:
    """t[n, i, c'] = sum_c zs[n, i, c] W(x)[c, c'] for layer k (traced)."""
    if isinstance(model, DCN):
        cross = model.cross
        if cross.parameterization == "vector":
            w = jnp.reshape(_v(cross.kernels[k]), (-1,))
            return jnp.sum(zs, axis=-1, keepdims=True) * w[None, None, :]
        return jnp.matmul(zs, _v(cross.kernels[k]))
    if model.cross_mix is not None:
        mix = model.cross_mix
        gates = jax.nn.softmax(mix._gate_logits(x), axis=-1)  # (n, E)
        left = jnp.einsum("edr,ers->eds", _v(mix.U_list[k]), _v(mix.C_list[k]))  # U_e C_e
        return jnp.einsum("nic,ecr,edr,ne->nid", zs, left, _v(mix.V_list[k]), gates)
    layer = model.cross_layers[k]
    out = jnp.matmul(zs, jnp.transpose(_v(layer.dense.kernel)))
    if layer.projection_dim is not None:
        out = jnp.matmul(out, jnp.transpose(_v(layer.down_proj_dense.kernel)))
    if layer.diag_scale:
        out = out + layer.diag_scale * zs
    return out


def _rest(model: Any, k: int, x0: Any, x: Any) -> Any:
    """The score from x_{k+1} = x (traced)."""
    for j in range(k + 1, n_cross_layers(model)):
        x = _step(model, j, x0, x)
    return combine(model.structure, x0, x, model.deep, model.head, False)[:, 0]


_MEAN_X0, _MEAN_XL = "__cross_mean_x0", "__cross_mean_xl"
_DATA_METHODS: dict[tuple[str, int], Any] = {}


def _inputs(model: Any, x: dict[str, Any], k: int) -> tuple[Any, Any]:
    """x0 and x_k (traced)."""
    x0 = model.flat_features(x)
    xk = x0
    for j in range(k):
        xk = _step(model, j, x0, xk)
    return x0, xk


def _data_method(what: str, k: int) -> Any:
    """Module-level functions per layer, so ``pure_method``/``jax.jit`` caches are reused:
    ``"inputs"`` gives (x0, x_k) per row, ``"terms"`` the attributed pair terms (the rows' means of
    x0 and x_k ride along in ``x`` under private keys, one copy per row)."""
    key = (what, k)
    if key in _DATA_METHODS:
        return _DATA_METHODS[key]

    def inputs(model: Any, x: dict[str, Any]) -> Any:
        return _inputs(model, x, k)

    def terms(model: Any, x: dict[str, Any]) -> Any:
        x = dict(x)
        mean_x0, mean_xk = x.pop(_MEAN_X0), x.pop(_MEAN_XL)
        x0, xk = _inputs(model, x, k)
        _, widths = flat_fields(model)
        s = jnp.asarray(block_indicator(widths), x0.dtype)
        grad = jax.grad(lambda h: jnp.sum(_rest(model, k, x0, h)))(_step(model, k, x0, xk))
        zs = (grad * (x0 - mean_x0))[:, None, :] * s[None]  # (n, F, d): block i's columns only
        return jnp.einsum("nid,nd,jd->nij", _applied(model, k, xk, zs), xk - mean_xk, s)

    _DATA_METHODS[key] = inputs if what == "inputs" else terms
    return _DATA_METHODS[key]


def attributed_pair_terms(
    model: Any, x: dict[str, np.ndarray], layer: int, centred: bool = True, batch: int = 4096
) -> np.ndarray:
    """``(rows, F, F)`` signed attributed pair terms a_{i,j}(x) of cross layer ``layer``; with
    ``centred``, x0 and x_l are centred on their means over these rows (module docstring)."""
    params = model_params(model)
    n = len(next(iter(x.values())))
    d = int(sum(w for _, w in model.flat_blocks()))
    if centred:
        x0, xk = apply_in_chunks(
            pure_method(model, _data_method("inputs", layer)), params, x, batch
        )
        means = (x0.mean(axis=0), xk.mean(axis=0))
    else:
        means = (np.zeros(d, np.float32), np.zeros(d, np.float32))
    x = {
        **x,
        _MEAN_X0: np.broadcast_to(means[0].astype(np.float32), (n, d)),
        _MEAN_XL: np.broadcast_to(means[1].astype(np.float32), (n, d)),
    }
    fn = pure_method(model, _data_method("terms", layer))
    return np.asarray(apply_in_chunks(fn, params, x, batch))


def cross_data_matrix(
    model: Any, preprocessor: Any, rows: pd.DataFrame, layer: int | None = None, **_: Any
) -> InteractionMatrix:
    """E |a_{i,j}(x)| over held-out rows: the pair terms of cross layer ``layer`` attributed to the score."""
    if not isinstance(model, DCN | DCNV2):
        raise RecsysCoreError(f"model {model.name!r} has no cross network to read.")
    index = check_choice("cross layer", layer, n_cross_layers(model))
    rows = check_rows(rows)
    names, _ = flat_fields(model)
    terms = attributed_pair_terms(model, preprocessor.transform(rows), index)
    L = n_cross_layers(model)
    linearised = " (experts linearised, each row's own gates)" if _mix(model) else ""
    return InteractionMatrix(
        values=np.abs(terms).mean(axis=0),
        fields=names,
        method="native",
        title=f"Cross terms, layer {index + 1} of {L}: mean |attributed x0_i ⊙ W_ij x_j|",
        description=(
            f"Mean over {len(rows):,} held-out rows of |sum over block i of g ⊙ x0 ⊙ (W_ij x_j)|, "
            f"x0 and x_l centred, g = d score / d x_(l+1){linearised}: the score (first order) "
            "each pair term of the cross layer carries; row = field of x0, column = field of x_l; "
            "data-averaged, unsigned."
        ),
        kind="data-averaged",
        n_rows=len(rows),
        signed=False,
        groups=_flat_groups(model, preprocessor),
        extra={
            "layer": index,
            "orientation": ORIENTATION,
            "attribution": "gradient x input at x_(l+1), x0 and x_l centred, score units",
            "quantity": "mean |attributed pair term|",
            "unit": score_unit(preprocessor.spec),
            **({"linearised_experts": True} if _mix(model) else {}),
        },
    )


# --------------------------------------------------------------------------- registration


def _layers(model: Any) -> dict[str, int]:
    return {"layer": n_cross_layers(model)}


def _matrix_weights(model: Any) -> bool:
    return not _is_vector_dcn(model)


_VIEWS = {
    "cross_blocks": NativeView(
        name="cross_blocks",
        title="Cross weights: block RMS of W",
        kind="weights-only",
        compute=cross_block_matrix,
        options=_layers,
        applies=_matrix_weights,
    ),
    "cross_change": NativeView(
        name="cross_change",
        title="Cross weights: change from initialisation",
        kind="weights-only",
        compute=cross_change_matrix,
        options=_layers,
        applies=_matrix_weights,
        needs_seed=True,
    ),
    "cross_data": NativeView(
        name="cross_data",
        title="Cross terms: mean |attributed x0_i ⊙ W_ij x_j|",
        kind="data-averaged",
        compute=cross_data_matrix,
        options=_layers,
    ),
    "cross_fields": NativeView(
        name="cross_fields",
        title="Cross weights: RMS of w per field",
        kind="weights-only",
        compute=cross_field_scores,
        shape="bars",
        options=_layers,
        applies=_is_vector_dcn,
    ),
}
for _name in ("cross_blocks", "cross_change", "cross_data"):
    register_view(DCNV2, _VIEWS[_name])
# DCN: the bars first (vector cross), the block views only for the matrix parametrisation.
for _name in ("cross_fields", "cross_blocks", "cross_change", "cross_data"):
    register_view(DCN, _VIEWS[_name])


# --------------------------------------------------------------------------- the Cross weights page

FULL_LIMIT = 2048  # largest d for which the d x d |W| (and a dense SVD) is formed


@dataclass
class CrossStructure:
    """What a model's cross network is: ``parametrisation`` one of ``vector`` (DCN, W = 1 w^T),
    ``matrix`` (DCN's CrossNet matrix), ``full``, ``low_rank`` (W = U V), ``mix`` (DCN-Mix);
    ``rank`` the parametrised rank bound of each layer's W (1, d, projection_dim, or experts x
    low_rank for the mixture mean), ``diag_scale`` per layer (FeatureCross' W + diag_scale I)."""

    parametrisation: str
    layers: int
    dim: int
    rank: int
    fields: list[str]
    widths: np.ndarray
    experts: int = 0
    expert_rank: int = 0
    diag_scale: list[float] = field(default_factory=list)

    @property
    def is_vector(self) -> bool:
        return self.parametrisation == "vector"

    @property
    def factored(self) -> bool:
        return self.parametrisation in ("low_rank", "mix")


def cross_structure(model: Any) -> CrossStructure:
    """The parametrisation, depth, width and rank of ``model``'s cross network."""
    if not isinstance(model, DCN | DCNV2):
        raise RecsysCoreError(f"model {model.name!r} has no cross network to read.")
    names, widths = flat_fields(model)
    d, layers = int(widths.sum()), n_cross_layers(model)
    scales = [0.0] * layers
    experts = expert_rank = 0
    if isinstance(model, DCN):
        kind = model.cross.parameterization  # "vector" or "matrix"
        rank = 1 if kind == "vector" else d
    elif model.cross_mix is not None:
        kind, experts, expert_rank = "mix", model.num_experts, model.low_rank
        rank = min(d, experts * expert_rank)
    else:
        kind = "low_rank" if model.projection_dim else "full"
        rank = min(d, model.projection_dim) if model.projection_dim else d
        scales = [float(layer.diag_scale or 0.0) for layer in model.cross_layers]
    return CrossStructure(kind, layers, d, rank, names, widths, experts, expert_rank, scales)


@dataclass
class FullCrossMatrix:
    """|W| of one cross layer as a d x d array (paper orientation) with its field blocks:
    ``widths[i]`` columns (and rows) per field, in ``fields`` order."""

    values: np.ndarray
    fields: list[str]
    widths: np.ndarray
    layer: int
    title: str
    description: str
    kind: str = "weights-only"
    diag_scale: float = 0.0

    @property
    def boundaries(self) -> np.ndarray:
        """Index where each block after the first starts (a line is drawn at ``b - 0.5``)."""
        return np.cumsum(self.widths)[:-1]

    @property
    def centres(self) -> np.ndarray:
        """The centre coordinate of each field's block (where its name is written)."""
        starts = np.concatenate([[0], self.boundaries])
        return starts + (self.widths - 1) / 2.0


def full_cross_matrix(
    model: Any, layer: int | None = None, limit: int = FULL_LIMIT
) -> FullCrossMatrix:
    """The d x d |W| of cross layer ``layer``, formed on demand (U V for low-rank layers, the
    uniform-gate mean of the linearised experts for DCN-Mix); refused above ``limit`` columns."""
    structure = cross_structure(model)
    index = check_choice("cross layer", layer, structure.layers)
    if structure.dim > limit:
        raise RecsysCoreError(
            f"the cross network is {structure.dim:,} wide: its {structure.dim:,} x "
            f"{structure.dim:,} matrix W is too large to draw (limit {limit:,}); use the block "
            "norms instead."
        )
    weights = cross_weights(model, index)
    what = {
        "vector": "1 w^T (rank one: every row is w)",
        "matrix": "the CrossNet matrix kernel",
        "full": "the full-rank kernel",
        "low_rank": f"U V of rank {structure.rank}, formed here",
        "mix": f"the uniform-gate mean of {structure.experts} linearised experts, formed here",
    }[structure.parametrisation]
    scale = weights.diag_scale
    note = (
        f" (diag_scale {scale:g} is added to the diagonal in the layer, not shown)" if scale else ""
    )
    return FullCrossMatrix(
        values=np.abs(weights.full()).astype(np.float32),
        fields=structure.fields,
        widths=structure.widths,
        layer=index,
        title=f"Cross weights, layer {index + 1} of {structure.layers}: |W| ({structure.dim} x {structure.dim})",
        description=(
            f"|W[c, c']| of cross layer {index + 1}, W = {what}{note}: row = coordinate of x0 that "
            "multiplies, column = coordinate of x_l; lines mark the field blocks; weights-only, "
            "unsigned."
        ),
        diag_scale=scale,
    )


def singular_values(weights: CrossWeights) -> np.ndarray:
    """Singular values of W, largest first. A factored W = L R^T is never formed: with L = Q_L T_L
    and R = Q_R T_R (thin QR), W = Q_L (T_L T_R^T) Q_R^T, so they are those of the r x r core."""
    if weights.dense is not None:
        return np.linalg.svd(np.asarray(weights.dense, np.float64), compute_uv=False)
    left, right = (np.asarray(a, np.float64) for a in (weights.left, weights.right))
    _, t_left = np.linalg.qr(left)
    _, t_right = np.linalg.qr(right)
    return np.linalg.svd(t_left @ t_right.T, compute_uv=False)


@dataclass
class CrossSpectrum:
    """Singular values of every cross layer's W (``values[l]``, largest first)."""

    values: list[np.ndarray]
    rank: int
    dim: int
    title: str
    description: str
    kind: str = "weights-only"


def cross_spectrum(model: Any, limit: int = FULL_LIMIT) -> CrossSpectrum:
    """Singular values of each layer's W, from the r x r factors for low-rank and DCN-Mix layers
    (a dense W above ``limit`` columns is refused: its SVD costs d^3)."""
    structure = cross_structure(model)
    if not structure.factored and structure.parametrisation != "vector" and structure.dim > limit:
        raise RecsysCoreError(
            f"the full-rank W is {structure.dim:,} x {structure.dim:,}: too large for an SVD here "
            f"(limit {limit:,})."
        )
    values = [singular_values(cross_weights(model, k)) for k in range(structure.layers)]
    what = {
        "vector": "rank one (W = 1 w^T)",
        "matrix": f"full rank, at most {structure.dim}",
        "full": f"full rank, at most {structure.dim}",
        "low_rank": f"rank at most {structure.rank} (projection_dim), computed from the r x r factors",
        "mix": (
            f"uniform-gate mean of {structure.experts} linearised experts of rank "
            f"{structure.expert_rank}: rank at most {structure.rank}, from the factors"
        ),
    }[structure.parametrisation]
    return CrossSpectrum(
        values=values,
        rank=structure.rank,
        dim=structure.dim,
        title=f"Singular values of W per cross layer (rank at most {structure.rank} of {structure.dim})",
        description=(
            f"Singular values of each cross layer's W, largest first; {what}. A fast decay means "
            "the layer uses fewer directions than it may; weights-only."
        ),
    )


def expert_block_norms(
    model: Any, layer: int | None = None, preprocessor: Any = None
) -> list[InteractionMatrix]:
    """DCN-Mix: per expert e, the block RMS ``||W_e,ij||_F / sqrt(k_i k_j)`` of its linearised
    W_e = U_e C_e V_e^T (gate-free; ``cross_blocks`` shows the block norms of their mean)."""
    if not _mix(model):
        raise RecsysCoreError("per-expert block norms need a DCN-Mix model (DCN-V2 kind='mix').")
    mix = model.cross_mix
    index = check_choice("cross layer", layer, n_cross_layers(model))
    names, widths = flat_fields(model)
    u, v, c = (np.asarray(w[index]) for w in (mix.U_list, mix.V_list, mix.C_list))
    groups = _flat_groups(model, preprocessor)
    out = []
    for e in range(u.shape[0]):
        weights = CrossWeights(left=u[e] @ c[e], right=v[e])
        out.append(
            InteractionMatrix(
                values=block_norms(weights, widths),
                fields=names,
                method="native",
                title=f"Cross layer {index + 1}, expert {e + 1}: block RMS of W_e",
                description=(
                    f"||W_e,ij||_F / sqrt(k_i k_j) of expert {e + 1} of cross layer {index + 1}, "
                    "W_e = U_e C_e V_e^T (linearised at x_l = 0, before its gate): row = field of "
                    "x0, column = field of x_l; weights-only, unsigned."
                ),
                kind="weights-only",
                signed=False,
                groups=groups,
                extra={"layer": index, "expert": e, "rank": int(u.shape[2])},
            )
        )
    return out
