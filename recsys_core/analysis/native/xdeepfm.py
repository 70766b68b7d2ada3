"""xDeepFM's first CIN layer: how strongly each field pair's product enters its feature maps.

The first CIN layer computes X^1[h, d] = act(sum_{i,j} W^h_ij e_id e_jd + b_h), so an unordered pair
i < j enters map h with weight W^h_ij + W^h_ji and a field with itself with W^h_ii:
``cin_weights`` is ||W_ij + W_ji||_2 over the maps (||W_ii|| on the diagonal), ``cin_pairs`` the
mean over rows of ||(W_ij + W_ji) (x) (e_i * e_j)||, the norm over (h, d) of that pair's share of
the first layer's pre-activation maps (exact: the shares plus the bias make up X^1 before act).

Reference: J. Lian et al., "xDeepFM: Combining Explicit and Implicit Feature Interactions for
Recommender Systems", KDD 2018 (arXiv:1803.05170).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from recsys_core.analysis.matrix import InteractionMatrix
from recsys_core.analysis.native.base import (
    NativeView,
    check_rows,
    field_groups,
    field_vectors,
    register_view,
)
from recsys_core.models.xdeepfm import XDeepFM


def cin_pair_weights(model: XDeepFM) -> np.ndarray:
    """``(F, F, H)`` weight of each unordered pair's product e_i * e_j in every first-layer map:
    W_ij + W_ji off the diagonal, W_ii on it (symmetric in i, j)."""
    w = np.asarray(model.cin.first_layer_field_weights(), dtype=np.float64)
    pair = w + np.transpose(w, (1, 0, 2))
    idx = np.arange(w.shape[0])
    pair[idx, idx] = w[idx, idx]
    return pair


def cin_weights(model: XDeepFM, preprocessor: Any, rows: Any = None, **_: Any) -> InteractionMatrix:
    """||W_ij + W_ji||_2 over the first CIN layer's maps (||W_ii|| on the diagonal); weights only."""
    w = cin_pair_weights(model)
    maps = w.shape[-1]
    return InteractionMatrix(
        values=np.sqrt(np.square(w).sum(axis=-1)),
        fields=list(model.field_names),
        method="native",
        title="xDeepFM: first CIN layer weights ||W_ij + W_ji||",
        description=(
            f"Norm over the first CIN layer's {maps} feature maps of the weight W^h_ij + W^h_ji "
            "that multiplies the product e_i * e_j of each field pair (W^h_ii for a field with "
            "itself, on the diagonal); weights-only, no data, unsigned; ignores embedding sizes."
        ),
        kind="weights-only",
        n_rows=0,
        signed=False,
        groups=field_groups(model, preprocessor),
        extra={"view": "cin_weights"},
    )


def cin_pairs(model: XDeepFM, preprocessor: Any, rows: pd.DataFrame, **_: Any) -> InteractionMatrix:
    """Mean over ``rows`` of the norm (over maps h and dimensions d) of each pair's exact share
    (W^h_ij + W^h_ji) e_id e_jd of the first CIN layer's pre-activation feature maps."""
    rows = check_rows(rows)
    e = field_vectors(model, preprocessor.transform(rows)).astype(np.float64)
    sq = np.square(e)
    product_norms = np.sqrt(np.einsum("nid,njd->nij", sq, sq)).mean(axis=0)  # mean ||e_i * e_j||
    weight_norms = np.sqrt(np.square(cin_pair_weights(model)).sum(axis=-1))
    return InteractionMatrix(
        values=weight_norms * product_norms,
        fields=list(model.field_names),
        method="native",
        title="xDeepFM: first CIN layer pair shares, mean ||(W_ij + W_ji) (e_i * e_j)||",
        description=(
            "Mean size (norm over feature maps and embedding dimensions) of each field pair's "
            "share (W^h_ij + W^h_ji) e_i * e_j of the first CIN layer's pre-activation maps, whose "
            f"sum plus the bias is that layer's input to its activation, over {len(rows):,} "
            "held-out rows; the diagonal is a field with itself (W^h_ii e_i * e_i); "
            "data-averaged, unsigned."
        ),
        kind="data-averaged",
        n_rows=len(rows),
        signed=False,
        groups=field_groups(model, preprocessor),
        extra={"view": "cin_pairs"},
    )


register_view(
    XDeepFM,
    NativeView(
        name="cin_pairs",
        title="xDeepFM: first CIN layer pair shares, mean ||(W_ij + W_ji) (e_i * e_j)||",
        kind="data-averaged",
        compute=cin_pairs,
    ),
)
register_view(
    XDeepFM,
    NativeView(
        name="cin_weights",
        title="xDeepFM: first CIN layer weights ||W_ij + W_ji||",
        kind="weights-only",
        compute=cin_weights,
    ),
)
