"""Pairwise families: the pair term each interaction layer adds, and its pure interaction part.

pair_terms: T_ij = <e_i, M_ij e_j> with the family's pair kernel M_ij (I for FM, DeepFM, DLRM and
IPNN; r_ij I for FwFM; W_ij + W_ij^T for FEFM; the kernel of OPNN), shown as mean |T_ij| over
held-out rows; NFM's Bi-Interaction adds the vector e_i * e_j, shown as its norm.
pure_interaction: sqrt(tr(S_i M_ij S_j M_ij^T)), S_i the covariance of field i's vector over the
rows: the part of the pair term the fields' means do not explain (= sqrt(TII), analysis/tii.py, of a
term that enters the score linearly, for independent fields).

References: Rendle, "Factorization Machines", ICDM 2010; Pan et al., "Field-weighted Factorization
Machines", WWW 2018; Guo et al., "DeepFM", IJCAI 2017; Pande, "Field-Embedded Factorization
Machines", 2020; He & Chua, "Neural Factorization Machines", SIGIR 2017; Qu et al., "Product-based
Neural Networks", ICDM 2016; Naumov et al., "Deep Learning Recommendation Model", 2019.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from recsys_core.analysis.matrix import InteractionMatrix
from recsys_core.analysis.native.base import (
    NativeView,
    check_row,
    check_rows,
    field_groups,
    field_vectors,
    register_view,
)
from recsys_core.errors import RecsysCoreError
from recsys_core.layers.field_inputs import pair_index
from recsys_core.models.deep_fefm import DeepFEFM
from recsys_core.models.deepfm import DeepFM
from recsys_core.models.dlrm import DLRM
from recsys_core.models.fm import FactorizationMachine
from recsys_core.models.fwfm import FwFM
from recsys_core.models.nfm import NFM
from recsys_core.models.pnn import PNN


@dataclass(frozen=True)
class PairKernel:
    """How a family turns the vectors e_i, e_j of two of its F fields into their pair term.

    Default: <e_i, e_j>. ``strengths`` ``(F, F)``: r_ij <e_i, e_j>. ``matrices`` ``(F, F, D, D)``:
    <e_i, M_ij e_j>, with M_ji = M_ij^T so the term is symmetric in the pair. ``elementwise``: the
    term is the vector e_i * e_j (NFM's Bi-Interaction), measured by its Euclidean norm.
    """

    strengths: np.ndarray | None = None
    matrices: np.ndarray | None = None
    elementwise: bool = False


def _nan_diagonal(values: np.ndarray) -> np.ndarray:
    idx = np.arange(values.shape[-1])
    values[..., idx, idx] = np.nan
    return values


def pair_terms(e: np.ndarray, kernel: PairKernel = PairKernel()) -> np.ndarray:
    """``(n, F, F)`` pair terms of field vectors ``e`` ``(n, F, D)`` under ``kernel``; NaN diagonal.

    Signed, except for an ``elementwise`` kernel (the norm ||e_i * e_j||).
    """
    e = np.asarray(e, dtype=np.float64)
    n, f, _ = e.shape
    if kernel.elementwise:
        sq = np.square(e)
        terms = np.sqrt(np.einsum("nid,njd->nij", sq, sq))
    elif kernel.matrices is not None:
        terms = np.zeros((n, f, f))
        for i, j in pair_index(f):
            t = np.einsum("nd,de,ne->n", e[:, i], kernel.matrices[i, j], e[:, j])
            terms[:, i, j] = terms[:, j, i] = t
    else:
        terms = np.einsum("nid,njd->nij", e, e)
        if kernel.strengths is not None:
            terms = terms * kernel.strengths
    return _nan_diagonal(terms)


def pure_interaction(e: np.ndarray, kernel: PairKernel = PairKernel()) -> np.ndarray:
    """``(F, F)`` sqrt(tr(S_i M_ij S_j M_ij^T)) of field vectors ``e`` ``(n, F, D)``; NaN diagonal.

    S_i is the (population) covariance of field i's vector over the n rows. For an ``elementwise``
    kernel it is sqrt(sum_d S_i[d, d] S_j[d, d]), the same quantity for the vector e_i * e_j.
    """
    e = np.asarray(e, dtype=np.float64)
    n, f, _ = e.shape
    if n < 2:
        raise RecsysCoreError(f"the pure interaction needs at least 2 held-out rows, got {n}.")
    c = e - e.mean(axis=0)
    cov = np.einsum("nid,nie->ide", c, c) / n
    if kernel.elementwise:
        var = np.einsum("idd->id", cov)
        traces = var @ var.T
    elif kernel.matrices is not None:
        traces = np.zeros((f, f))
        for i, j in pair_index(f):
            m = kernel.matrices[i, j]
            traces[i, j] = traces[j, i] = np.trace(cov[i] @ m @ cov[j] @ m.T)
    else:
        traces = np.einsum("ide,jed->ij", cov, cov)
        if kernel.strengths is not None:
            traces = traces * np.square(kernel.strengths)
    return _nan_diagonal(np.sqrt(np.maximum(traces, 0.0)))


def _array(variable: Any) -> np.ndarray:
    return np.asarray(variable.value, dtype=np.float64)


def _symmetric(per_pair: list[np.ndarray], num_fields: int) -> np.ndarray:
    """``(F, F, D, D)`` kernel from one ``(D, D)`` matrix per pair i < j (``pair_index`` order)."""
    d = per_pair[0].shape[0]
    out = np.zeros((num_fields, num_fields, d, d))
    for (i, j), m in zip(pair_index(num_fields), per_pair, strict=True):
        out[i, j], out[j, i] = m, m.T
    return out


def fwfm_strengths(model: FwFM) -> np.ndarray:
    """FwFM's r as a symmetric ``(F, F)`` matrix (the upper triangle it uses), zero diagonal."""
    upper = np.triu(_array(model.fwfm.field_strengths), k=1)
    return upper + upper.T


def fefm_kernel(model: DeepFEFM) -> PairKernel:
    mats = [_array(w) for w in model.fefm.field_embeddings]
    return PairKernel(matrices=_symmetric([w + w.T for w in mats], len(model.field_names)))


def opnn_kernel(model: PNN) -> PairKernel:
    """OPNN's kernel as matrices: out_k = e_j^T K[:, k, :] e_i ('mat'), sum_e e_ie e_je K[k, e]
    ('vec'), K[k, 0] <e_i, e_j> ('num')."""
    k = _array(model.outer.kernel)
    f = len(model.field_names)
    if model.outer.kernel_type == "mat":
        per_pair = [k[:, p, :].T for p in range(k.shape[1])]
    elif model.outer.kernel_type == "vec":
        per_pair = [np.diag(row) for row in k]
    else:
        d = model.embedding_dim
        per_pair = [w * np.eye(d) for w in k[:, 0]]
    return PairKernel(matrices=_symmetric(per_pair, f))


def pnn_kernel(model: PNN) -> PairKernel:
    return PairKernel() if model.inner is not None else opnn_kernel(model)


@dataclass(frozen=True)
class Family:
    """What the pair views of one model family say: ``term`` and ``pure`` are the formulas,
    ``feeds`` where the term goes, ``exact`` what the signed terms of a row sum to exactly (None
    where they only feed a network)."""

    label: str
    term: str
    pure: str
    kernel: Callable[[Any], PairKernel]
    feeds: str
    exact: str | None = None


def _axes(model: Any, preprocessor: Any) -> dict[str, Any]:
    return {
        "fields": list(model.field_names),
        "method": "native",
        "groups": field_groups(model, preprocessor),
    }


def _mean_abs(term: str) -> str:
    return f"mean {term}" if term.startswith("||") else f"mean |{term}|"


def pair_terms_view(family: Family, name: str = "pair_terms") -> Callable[..., InteractionMatrix]:
    """The ``compute`` of a family's pair-term view: mean |T_ij| over the rows, or with ``row``
    (families whose terms are ``exact``) the signed terms of that one row."""

    def compute(
        model: Any,
        preprocessor: Any,
        rows: pd.DataFrame,
        layer: int | None = None,
        head: int | None = None,
        row: int | None = None,
        **_: Any,
    ) -> InteractionMatrix:
        rows = check_rows(rows)
        row = check_row(row, rows)
        if row is not None and family.exact is None:
            raise RecsysCoreError(
                f"{family.label}'s {name} view averages over rows; it takes no row."
            )
        picked = rows if row is None else rows.iloc[[row]]
        kernel = family.kernel(model)
        terms = pair_terms(field_vectors(model, preprocessor.transform(picked)), kernel)
        signed = row is not None and not kernel.elementwise
        if row is None:
            mean = _mean_abs(family.term)
            title = f"{family.label}: {mean}"
            description = (
                f"{mean[0].upper()}{mean[1:]} over {len(rows):,} held-out rows: the average size "
                f"of the pair term {family.feeds}"
                + (
                    f"; per row the signed terms sum exactly to {family.exact}"
                    if family.exact
                    else ""
                )
                + "; data-averaged, unsigned; no self terms (diagonal)."
            )
            values, kind, n = np.abs(terms).mean(axis=0), "data-averaged", len(rows)
        else:
            title = f"{family.label}: {family.term} of row {row}"
            description = (
                f"Signed {family.term} of held-out row {row}: the pair terms {family.feeds}, which "
                f"sum exactly to {family.exact} of this row's score; exact decomposition of that "
                "part; no self terms (diagonal)."
            )
            values, kind, n = terms[0], "exact decomposition", 1
        return InteractionMatrix(
            values=values,
            title=title,
            description=description,
            kind=kind,
            n_rows=n,
            signed=signed,
            extra={"view": name},
            **_axes(model, preprocessor),
        )

    return compute


def pure_interaction_view(pick: Callable[[Any], Family]) -> Callable[..., InteractionMatrix]:
    """The ``compute`` of the pure-interaction view of the family ``pick(model)`` over the rows."""

    def compute(model: Any, preprocessor: Any, rows: pd.DataFrame, **_: Any) -> InteractionMatrix:
        rows = check_rows(rows)
        family = pick(model)
        e = field_vectors(model, preprocessor.transform(rows))
        values = pure_interaction(e, family.kernel(model))
        tii = f"; for independent fields it is sqrt(TII) of {family.exact}" if family.exact else ""
        return InteractionMatrix(
            values=values,
            title=f"{family.label}: pure interaction sqrt({family.pure})",
            description=(
                f"sqrt({family.pure}), S_i the covariance of field i's vector over {len(rows):,} "
                f"held-out rows: how much the pair term {family.feeds} varies beyond what each "
                f"field's average vector explains{tii}; data-averaged, unsigned; no self terms."
            ),
            kind="data-averaged",
            n_rows=len(rows),
            signed=False,
            extra={"view": "pure_interaction"},
            **_axes(model, preprocessor),
        )

    return compute


def fwfm_field_weights(
    model: FwFM, preprocessor: Any, rows: Any = None, **_: Any
) -> InteractionMatrix:
    """|r_ij|, the strength FwFM multiplies each pair's dot product by (weights only)."""
    r = fwfm_strengths(model)
    return InteractionMatrix(
        values=_nan_diagonal(np.abs(r)),
        fields=list(model.field_names),
        method="native",
        title="FwFM: field-pair strengths |r_ij|",
        description=(
            "|r_ij|, the learned strength FwFM multiplies <e_i, e_j> by for each field pair "
            "(signed r_ij in extra); weights-only, no data; no self terms (diagonal)."
        ),
        kind="weights-only",
        n_rows=0,
        signed=False,
        groups=field_groups(model, preprocessor),
        extra={"view": "field_weights", "r": [[float(v) for v in line] for line in r]},
    )


DOT, DOT_PURE = "<e_i, e_j>", "tr(S_i S_j)"
FAMILIES: dict[type, Family] = {
    FactorizationMachine: Family(
        "FM", DOT, DOT_PURE, lambda m: PairKernel(), "the FM adds to the score", "the FM term"
    ),
    FwFM: Family(
        "FwFM",
        "r_ij <e_i, e_j>",
        "r_ij^2 tr(S_i S_j)",
        lambda m: PairKernel(strengths=fwfm_strengths(m)),
        "FwFM adds to the score",
        "the pairwise term",
    ),
    DeepFM: Family(
        "DeepFM (FM part)",
        DOT,
        DOT_PURE,
        lambda m: PairKernel(),
        "DeepFM's FM part adds to the score (its DNN reads the same vectors)",
        "the FM part",
    ),
    DeepFEFM: Family(
        "DeepFEFM",
        "<e_i, (W_ij + W_ij^T) e_j>",
        "tr(S_i M_ij S_j M_ij^T), M_ij = W_ij + W_ij^T",
        fefm_kernel,
        "the FEFM logit adds to the score (its DNN reads the same terms)",
        "the FEFM logit",
    ),
    NFM: Family(
        "NFM",
        "||e_i * e_j||",
        "sum_d S_i[d,d] S_j[d,d]",
        lambda m: PairKernel(elementwise=True),
        "NFM's Bi-Interaction adds to the vector its DNN reads (norm of the element-wise product)",
    ),
    PNN: Family(
        "PNN",
        DOT,
        DOT_PURE,
        pnn_kernel,
        "PNN's inner-product layer feeds its DNN",
    ),
    DLRM: Family(
        "DLRM",
        DOT,
        DOT_PURE,
        lambda m: PairKernel(),
        "DLRM's dot interaction feeds its top MLP",
    ),
}
OPNN = Family(
    "PNN (outer)",
    "<e_i, K_ij e_j>",
    "tr(S_i K_ij S_j K_ij^T)",
    opnn_kernel,
    "PNN's kernelised outer-product layer feeds its DNN",
)


def pnn_family(model: PNN) -> Family:
    """IPNN's family where the model has inner products, else OPNN's."""
    return FAMILIES[PNN] if model.inner is not None else OPNN


def _register(cls: type, family: Family) -> None:
    pick = pnn_family if cls is PNN else (lambda model: family)
    if cls is PNN:
        register_view(
            PNN,
            NativeView(
                "pair_terms",
                f"{family.label}: {_mean_abs(family.term)}",
                "data-averaged",
                pair_terms_view(family),
                applies=lambda model: model.inner is not None,
            ),
        )
        register_view(
            PNN,
            NativeView(
                "outer_terms",
                f"{OPNN.label}: {_mean_abs(OPNN.term)}",
                "data-averaged",
                pair_terms_view(OPNN, "outer_terms"),
                applies=lambda model: model.outer is not None,
            ),
        )
    elif cls is not DLRM:  # DLRM's primary pair_terms view is dot.py's (the same mean |<e_i, e_j>|)
        register_view(
            cls,
            NativeView(
                "pair_terms",
                f"{family.label}: {_mean_abs(family.term)}",
                "data-averaged",
                pair_terms_view(family),
                per_row=family.exact is not None,
            ),
        )
    register_view(
        cls,
        NativeView(
            "pure_interaction",
            f"{family.label}: pure interaction sqrt({family.pure})",
            "data-averaged",
            pure_interaction_view(pick),
        ),
    )
    if cls is FwFM:
        register_view(
            FwFM,
            NativeView(
                "field_weights",
                "FwFM: field-pair strengths |r_ij|",
                "weights-only",
                fwfm_field_weights,
            ),
        )


for _cls, _family in FAMILIES.items():
    _register(_cls, _family)
