"""Cross weights: DCN / DCN-V2 cross layers as block-norm maps per layer on one colour scale, their
change from initialisation, the data-aware pair terms, the full |W|, singular values, experts."""

import streamlit as st

from recsys_core import dashboard
from recsys_core.errors import RecsysCoreError
from recsys_core.query import PageQuery
from recsys_core.viz.bars import bars_figure
from recsys_core.viz.cross import full_cross_figure, spectrum_figure
from recsys_core.viz.export import figure_bytes
from recsys_core.viz.facets import facet_figure, shared_range
from recsys_core.viz.heatmap import heatmap_figure
from recsys_core.viz.text import md_text

FORMATS = {"png": "image/png", "svg": "image/svg+xml", "html": "text/html"}
VIEWS = {
    "blocks": ("Block norms of W", "cross_blocks"),
    "change": ("Change from initialisation", "cross_change"),
    "data": ("Data-aware pair terms", "cross_data"),
}
KINDS = {
    "vector": "DCN, vector cross (W = 1 wᵀ, rank one)",
    "matrix": "DCN, matrix cross (full rank)",
    "full": "DCN-V2, full-rank cross",
    "low_rank": "DCN-V2, low-rank cross W = U V",
    "mix": "DCN-Mix, mixture of low-rank experts",
}


def show(fig, result, stem: str, key: str, meaning: str | None = None) -> None:
    """A figure, its one-line meaning (kind — description) and PNG / SVG / HTML downloads."""
    st.plotly_chart(fig, key=key, config={"displaylogo": False})
    st.caption(f"**{md_text(result.kind)}** — {md_text(meaning or result.description)}")
    for col, (fmt, mime) in zip(st.columns([1, 1, 1, 5])[:3], FORMATS.items(), strict=True):
        data = lambda fig=fig, fmt=fmt: figure_bytes(fig, fmt)  # noqa: E731  (made on click)
        col.download_button(fmt.upper(), data, f"{stem}.{fmt}", mime, key=f"{key}_{fmt}")


st.title("Cross weights")
st.caption(
    "What the cross layers of DCN / DCN-V2 learned: x_(l+1) = x0 ⊙ (W_l x_l + b_l) + x_l, so the "
    "block W_ij of W (row = field of x0 that multiplies, column = field of x_l it reads) carries "
    "the interaction of field i with field j. Maps are not symmetric; the diagonal is real."
)
ids = dashboard.cross_runs()
if not ids:
    st.info("No DCN / DCN-V2 run yet — train one on the **Train** page.")
    st.stop()

query = PageQuery(st.query_params.to_dict())  # every value checked (recsys_core.query)
try:
    asked = query.run("run", ids, dashboard.store(), kind="a DCN / DCN-V2 run")
except RecsysCoreError as exc:  # a named run that is gone or damaged: never silently another
    st.error(md_text(exc))
    st.page_link("../pages/home.py", label="See the saved runs", icon=":material/home:")
    st.stop()
top = st.columns([3, 3, 2])
run_id = top[0].selectbox("Run", ids, index=ids.index(asked) if asked else 0)
top[0].page_link("../pages/run.py", label="Its run page", icon=":material/description:", query_params={"id": run_id})  # fmt: skip
try:
    structure = dashboard.run_cross_structure(run_id)
except RecsysCoreError as exc:
    st.error(md_text(exc))
    st.stop()

views = ["blocks", "change", "data"] if not structure.is_vector else ["blocks", "data"]
labels = {**{k: v[0] for k, v in VIEWS.items()}, **({"blocks": "Weights per field (bars)"} if structure.is_vector else {})}  # fmt: skip
view = top[1].radio(
    "View",
    views,
    index=views.index(query.choice("view", views, "blocks", "view")),
    format_func=labels.get,
    horizontal=True,
)
L = structure.layers
wanted = query.integer("layer", 1, L, 1, "layer")  # 1-based in the URL, as on the page
layer = int(top[2].selectbox("Layer", list(range(1, L + 1)), index=wanted - 1)) - 1
show_full = not structure.is_vector and st.toggle(
    f"Show the full |W| of layer {layer + 1} ({structure.dim} x {structure.dim})",
    value=query.flag("full"),
    help="Every coordinate of the cross layer's W, with lines at the field blocks. Low-rank W = U V "
    "is formed here for the picture only.",
)
st.query_params.from_dict(
    {"run": run_id, "view": view, "layer": str(layer + 1), "full": "1" if show_full else "0"}
)
if query.message:  # what in the link could not be used, once, above the maps
    st.warning(md_text(query.message), icon=":material/link_off:")

rank = (
    "" if structure.parametrisation in ("vector", "matrix", "full") else f", rank {structure.rank}"
)
experts = (
    f", {structure.experts} experts of rank {structure.expert_rank}" if structure.experts else ""
)
st.markdown(
    f"**{KINDS[structure.parametrisation]}**{rank}{experts} · {L} cross layer{'s' * (L > 1)} · "
    f"d = {structure.dim} ({len(structure.fields)} fields)"
)
scaled = [(k + 1, s) for k, s in enumerate(structure.diag_scale) if s]
if scaled:
    st.info(
        "diag_scale is non-zero ("
        + ", ".join(f"layer {k}: {s:g}" for k, s in scaled)
        + "): the layer uses W + diag_scale·I; the maps show W alone."
    )
stem = f"{run_id}-cross"

try:
    with st.spinner("Reading the cross layers…"):
        if structure.is_vector and view == "blocks":
            st.info(
                "DCN's cross weights are rank one (W = 1 wᵀ: every row of W is the same w), so a "
                "heatmap would repeat one row: one bar per field shows w instead."
            )
            scores = dashboard.run_matrix(run_id, "native", view="cross_fields", layer=layer)
            show(bars_figure(scores), scores, f"{stem}-fields-layer{layer + 1}", "fields")
        else:
            matrices = dashboard.run_cross_layers(run_id, VIEWS[view][1])
            cmin, cmax = shared_range(matrices)
            if L > 1:
                grid = facet_figure(
                    matrices,
                    titles=[f"layer {k + 1}" for k in range(L)],
                    cols=min(L, 4),
                    title=f"{VIEWS[view][0]}, every cross layer on one colour scale",
                )
                meaning = (
                    f"one map per cross layer on one colour scale ({cmin:.3g} to {cmax:.3g}); each "
                    "is, for its layer, the map drawn large below."
                )
                show(grid, matrices[0], f"{stem}-{view}-layers", "grid", meaning)
            chosen = matrices[layer]
            show(
                heatmap_figure(chosen, zmax=cmax),
                chosen,
                f"{stem}-{view}-layer{layer + 1}",
                "layer",
            )
except RecsysCoreError as exc:
    st.error(md_text(exc))
    st.stop()

if structure.experts:
    st.subheader(f"Experts of layer {layer + 1}")
    try:
        per_expert = dashboard.run_expert_blocks(run_id, layer)
        mean = dashboard.run_matrix(run_id, "native", view="cross_blocks", layer=layer)
    except RecsysCoreError as exc:
        st.error(md_text(exc))
    else:
        fig = facet_figure(
            [*per_expert, mean],
            titles=[f"expert {e + 1}" for e in range(len(per_expert))] + ["gate-free mean"],
            cols=min(len(per_expert) + 1, 5),
            title=f"Block RMS of each expert's W_e, layer {layer + 1}, and of their mean",
        )
        show(fig, per_expert[0], f"{stem}-experts-layer{layer + 1}", "experts")

if not structure.is_vector:
    st.subheader("Singular values")
    try:
        spectrum = dashboard.run_cross_spectrum(run_id)
    except RecsysCoreError as exc:
        st.info(md_text(exc))
    else:
        show(spectrum_figure(spectrum), spectrum, f"{stem}-singular-values", "spectrum")

if show_full:
    st.subheader(f"Full |W| of layer {layer + 1}")
    try:
        with st.spinner("Forming W…"):
            full = dashboard.run_full_cross(run_id, layer)
    except RecsysCoreError as exc:
        st.warning(md_text(exc))
    else:
        show(full_cross_figure(full), full, f"{stem}-full-layer{layer + 1}", "full")
