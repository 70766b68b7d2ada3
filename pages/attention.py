"""Attention: AutoInt's maps per layer and head on one colour scale, AFM's pair attention."""

import streamlit as st

from recsys_core import dashboard
from recsys_core.analysis.native.attention import relative_to_uniform, symmetrised
from recsys_core.errors import RecsysCoreError
from recsys_core.viz.export import figure_bytes
from recsys_core.viz.facets import facet_figure
from recsys_core.viz.heatmap import heatmap_figure

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

query = st.query_params
top = st.columns([3, 2, 2, 2])
run_id = top[0].selectbox(
    "Run", ids, index=ids.index(query["run"]) if query.get("run") in ids else 0
)
one_row = top[1].radio("Rows", ["Average over held-out rows", "One held-out row"], index=1 if "row" in query else 0) != "Average over held-out rows"  # fmt: skip
sym = top[2].toggle("Symmetrise, mask the diagonal", value=query.get("sym") == "1")
relative = top[3].toggle(
    "Relative to uniform",
    value=query.get("rel", "1") == "1",
    help="Show attention minus 1/F (F fields): blue = attends less than uniform, red = more. "
    "Raw softmax weights of a few fields are all close to 1/F and look alike on a 0–1 scale.",
)
row = None
if one_row:
    find, pick = st.columns([3, 1])
    text = find.text_input("Find a row by user id, movie id or title", query.get("find", ""))
    hits = dashboard.search_holdout(run_id, text)
    if hits.empty:
        find.warning(f"No held-out row matches {text!r}.")
    chosen = find.dataframe(hits, height=180, on_select="rerun", selection_mode="single-row", key="rows")  # fmt: skip
    picked = chosen.selection.rows if chosen and chosen.selection else []
    default = int(hits.index[picked[0]]) if picked else int(query.get("row", "0") or 0)
    row = int(pick.number_input("Held-out row", 0, 1_999, default))
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
    st.error(str(exc))
    st.stop()

shown = [symmetrised(m) if sym else m for m in maps]
if relative and model_name != "afm":  # AFM's weights are over pairs, not a row-stochastic map
    shown = [relative_to_uniform(m) for m in shown]
if len(shown) == 1:
    fig = heatmap_figure(shown[0])
else:
    fig = facet_figure(shown, titles=titles, cols=cols, title="Attention per layer (rows) and head (columns), one colour scale")  # fmt: skip
st.plotly_chart(fig, key="attention", config={"displaylogo": False})
st.caption(f"**{shown[0].kind}** — {shown[0].description}")
if model_name == "afm":
    contribution = dashboard.run_matrix(run_id, "native", row, view="attention_contribution")
    st.plotly_chart(heatmap_figure(contribution), key="afm_contribution")
    st.caption(f"**{contribution.kind}** — {contribution.description}")

stem = f"{run_id}-attention" + (f"-row{row}" if row is not None else "")
png, html = st.columns(2)
png.download_button("PNG", lambda: figure_bytes(fig, "png"), f"{stem}.png", "image/png")
html.download_button("HTML", lambda: figure_bytes(fig, "html"), f"{stem}.html", "text/html")
