"""AutoInt and AutoInt+: the self-attention weights of every interacting layer and head.

Each interacting layer l and head h of AutoInt (Song et al., "AutoInt: Automatic Feature
Interaction Learning via Self-Attentive Neural Networks", CIKM 2019, arXiv:1810.11921)
computes, on one row with field matrix E^(l) (F x D_l),

    A^(l,h) = softmax_rows( (E^(l) W_Q^(h)) (E^(l) W_K^(h))^T [/ sqrt(d')] ),

so A^(l,h)[i, j] is how much field i (the query) attends to field j (the key); each row sums to 1.
Above the first layer, E^(l) is the previous layer's output, so "field j" means the position of
field j, which has already mixed in the other fields.

The ``attention`` view shows A^(l,h) averaged over the held-out rows (data-averaged), or on one
row (``row=``): then it is exactly the weights the model computes on that row, but, as every
attention map, a proxy for interaction rather than a decomposition of the score, hence
"approximation". Titles say "attention", never interaction strength. ``attention_grid`` returns
every layer x head map (a faceted page); ``symmetrised`` turns a map into (A + A^T) / 2 with the
diagonal masked on request (self-attention is not an interaction); ``relative_to_uniform``
subtracts the uniform weight 1/F. Maps are computed under
``jax.jit`` in chunks (``models.pure.apply_in_chunks``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd

from recsys_core.analysis.matrix import InteractionMatrix
from recsys_core.analysis.native.base import (
    NativeView,
    check_choice,
    check_row,
    check_rows,
    field_groups,
    register_view,
)
from recsys_core.errors import RecsysCoreError
from recsys_core.models.autoint import AutoInt
from recsys_core.models.pure import apply_in_chunks, model_params, pure_method


def _attention_maps(model: Any, x: dict[str, Any]) -> Any:
    return model.attention_maps(x)


def attention_maps(
    model: Any, preprocessor: Any, rows: pd.DataFrame, row: int | None = None, batch: int = 4096
) -> np.ndarray:
    """``(L, H, F, F)`` attention weights averaged over ``rows`` (or of ``rows.iloc[row]``)."""
    if not isinstance(model, AutoInt):
        raise RecsysCoreError(f"model {model.name!r} has no self-attention layers to read.")
    rows = check_rows(rows)
    row = check_row(row, rows)
    if row is not None:
        rows = rows.iloc[[row]]
    fn = pure_method(model, _attention_maps)
    maps = apply_in_chunks(fn, model_params(model), preprocessor.transform(rows), batch)
    return np.stack([np.asarray(m, dtype=np.float64).mean(axis=0) for m in maps])


def _options(model: Any) -> dict[str, int]:
    return {"layer": int(model.att_layer_num), "head": int(model.att_head_num)}


def _matrix(
    model: Any,
    preprocessor: Any,
    maps: np.ndarray,
    layer: int,
    head: int,
    n_rows: int,
    row: int | None,
) -> InteractionMatrix:
    n_layers, n_heads = maps.shape[:2]
    where = f"layer {layer + 1} of {n_layers}, head {head + 1} of {n_heads}"
    if row is None:
        data = f"averaged over {n_rows:,} held-out rows; data-averaged"
        kind = "data-averaged"
    else:
        data = (
            f"on held-out row {row}: the weights the model computes there, a proxy for "
            "interaction, not a decomposition of the score"
        )
        kind = "approximation"
    return InteractionMatrix(
        values=maps[layer, head],
        fields=list(model.field_names),
        method="native",
        title=f"Attention, {where}" + ("" if row is None else f", row {row}"),
        description=(
            f"Self-attention weights softmax(Q K^T) of AutoInt, {where}: row i = how field i "
            f"(query) attends to field j (key), rows sum to 1; {data}. Attention, not "
            "interaction strength."
        ),
        kind=kind,
        n_rows=n_rows if row is None else 1,
        signed=False,
        groups=field_groups(model, preprocessor),
        extra={
            "layer": layer,
            "head": head,
            "orientation": "row: query field; column: key field",
            "quantity": "attention weight",
            "unit": "softmax, each query row sums to 1",
        },
    )


def attention_matrix(
    model: Any,
    preprocessor: Any,
    rows: pd.DataFrame,
    layer: int | None = None,
    head: int | None = None,
    row: int | None = None,
    **_: Any,
) -> InteractionMatrix:
    """Attention weights of ``layer`` and ``head``, averaged over ``rows`` or on row ``row``."""
    if not isinstance(model, AutoInt):
        raise RecsysCoreError(f"model {model.name!r} has no self-attention layers to read.")
    counts = _options(model)
    l_index = check_choice("attention layer", layer, counts["layer"])
    h_index = check_choice("attention head", head, counts["head"])
    rows = check_rows(rows)
    maps = attention_maps(model, preprocessor, rows, row)
    return _matrix(model, preprocessor, maps, l_index, h_index, len(rows), row)


def attention_grid(
    model: Any, preprocessor: Any, rows: pd.DataFrame, row: int | None = None
) -> list[InteractionMatrix]:
    """Every layer x head attention map (layer-major: layer 1 heads 1..H, then layer 2, ...)."""
    rows = check_rows(rows)
    maps = attention_maps(model, preprocessor, rows, row)
    return [
        _matrix(model, preprocessor, maps, layer, head, len(rows), row)
        for layer in range(maps.shape[0])
        for head in range(maps.shape[1])
    ]


def symmetrised(matrix: InteractionMatrix, mask_diagonal: bool = True) -> InteractionMatrix:
    """(A + A^T) / 2, the diagonal NaN when ``mask_diagonal``: one value per unordered pair."""
    values = (matrix.values + matrix.values.T) / 2.0
    if mask_diagonal:
        values = values.copy()
        np.fill_diagonal(values, np.nan)
    note = "symmetrised (A + A^T) / 2" + (", diagonal masked" if mask_diagonal else "")
    return dataclasses.replace(
        matrix,
        values=values,
        title=f"{matrix.title} (symmetrised)",
        description=f"{matrix.description} Shown {note}.",
        extra={**matrix.extra, "symmetrised": True, "diagonal_masked": bool(mask_diagonal)},
    )


def relative_to_uniform(matrix: InteractionMatrix) -> InteractionMatrix:
    """Attention minus 1/F (F fields), signed: above 0 a query attends to that key more than a
    uniform softmax would, below 0 less. Raw weights over a few fields all sit near 1/F and look
    alike on a 0..1 scale; this centres them on the uniform map (NaN cells stay NaN)."""
    uniform = 1.0 / len(matrix.fields)
    return dataclasses.replace(
        matrix,
        values=matrix.values - uniform,
        signed=True,
        title=f"{matrix.title} (minus uniform 1/{len(matrix.fields)})",
        description=f"{matrix.description} Shown minus the uniform weight 1/{len(matrix.fields)}.",
        extra={**matrix.extra, "relative_to_uniform": uniform},
    )


register_view(
    AutoInt,
    NativeView(
        name="attention",
        title="Attention: softmax(Q K^T) per layer and head",
        kind="data-averaged",
        compute=attention_matrix,
        per_row=True,
        options=_options,
    ),
)
