"""Attention: AutoInt's maps per layer and head on one colour scale, AFM's pair attention."""

import streamlit as st

from recsys_core import dashboard
from recsys_core.analysis.native.attention import relative_to_uniform, symmetrised
from recsys_core.errors import RecsysCoreError
from recsys_core.query import PageQuery
from recsys_core.viz.export import figure_bytes
from recsys_core.viz.facets import facet_figure
from recsys_core.viz.heatmap import heatmap_figure
from recsys_core.viz.text import md_text

st.title("Attention")
st.caption(
    "What the attention layers look at: softmax weights, not interaction strength — a field can "
    "attend strongly to another whose values barely change the prediction (see **Interactions** "
    "for model-agnostic strengths)."
)
ids = dashboard.attention_runs()
if not ids:
    st.info("No run of an attention model yet — train AutoInt, AutoInt+ or AFM on the **Train** page.")  # fmt: skip
    st.stop()

query = PageQuery(st.query_params.to_dict())  # every value checked (recsys_core.query)
try:
    asked = query.run("run", ids, dashboard.store(), kind="a run of an attention model")
except RecsysCoreError as exc:  # a named run that is gone or damaged: never silently another
    st.error(md_text(exc))
    st.page_link("../pages/home.py", label="See the saved runs", icon=":material/home:")
    st.stop()
top = st.columns([3, 2, 2, 2])
run_id = top[0].selectbox("Run", ids, index=ids.index(asked) if asked else 0)
top[0].page_link("../pages/run.py", label="Its run page", icon=":material/description:", query_params={"id": run_id})  # fmt: skip
one_row = top[1].radio("Rows", ["Average over held-out rows", "One held-out row"], index=1 if "row" in query else 0) != "Average over held-out rows"  # fmt: skip
sym = top[2].toggle("Symmetrise, mask the diagonal", value=query.flag("sym"))
relative = top[3].toggle(
    "Relative to uniform",
    value=query.flag("rel", default=True),
    help="Show attention minus 1/F (F fields): blue = attends less than uniform, red = more. "
    "Raw softmax weights of a few fields are all close to 1/F and look alike on a 0–1 scale.",
)
row = None
if one_row:
    find, pick = st.columns([3, 1])
    text = find.text_input("Find a row by user id, movie id or title", query.text("find"))
    try:
        hits = dashboard.search_holdout(run_id, text)
        last_row = max(dashboard.holdout_rows(run_id) - 1, 0)  # rows 0..last_row
    except RecsysCoreError as exc:
        st.error(md_text(exc))
        st.stop()
    if hits.empty:
        find.warning(f"No held-out row matches {md_text(repr(text))}.")
    chosen = find.dataframe(hits, height=180, on_select="rerun", selection_mode="single-row", key="rows")  # fmt: skip
    picked = chosen.selection.rows if chosen and chosen.selection else []
    default = int(hits.index[picked[0]]) if picked else query.integer("row", 0, last_row, 0)
    row = int(pick.number_input("Held-out row", 0, last_row, default))
if query.message:  # what in the link could not be used, once, above the maps
    st.warning(md_text(query.message), icon=":material/link_off:")
state = {
    "run": run_id,
    "sym": "1" if sym else "0",
    **({"row": str(row)} if row is not None else {}),
}
st.query_params.from_dict(state)

model_name = dashboard.runs_table().set_index("run_id").loc[run_id, "model"]
try:
    with st.spinner("Reading the attention weights…"):
        drawn = dashboard.run_attention_maps(run_id, row)
        maps, titles, cols = drawn.maps, drawn.titles, drawn.cols
except RecsysCoreError as exc:
    st.error(md_text(exc))
    st.stop()

shown = [symmetrised(m) if sym else m for m in maps]
if relative and model_name != "afm":  # AFM's weights are over pairs, not a row-stochastic map
    shown = [relative_to_uniform(m) for m in shown]
if len(shown) == 1:
    fig = heatmap_figure(shown[0])
else:
    fig = facet_figure(shown, titles=titles, cols=cols, title="Attention per layer (rows) and head (columns), one colour scale")  # fmt: skip
st.plotly_chart(fig, key="attention", config={"displaylogo": False})
st.caption(f"**{md_text(shown[0].kind)}** — {md_text(shown[0].description)}")
if model_name == "afm":
    contribution = dashboard.run_matrix(run_id, "native", row, view="attention_contribution")
    st.plotly_chart(heatmap_figure(contribution), key="afm_contribution")
    st.caption(f"**{md_text(contribution.kind)}** — {md_text(contribution.description)}")

stem = f"{run_id}-attention" + (f"-row{row}" if row is not None else "")
png, html = st.columns(2)
png.download_button("PNG", lambda: figure_bytes(fig, "png"), f"{stem}.png", "image/png")
html.download_button("HTML", lambda: figure_bytes(fig, "html"), f"{stem}.html", "text/html")
