"""Interactions: a run's field x field heatmap, with downloads."""

import streamlit as st

from recsys_core import dashboard
from recsys_core.errors import RecsysCoreError
from recsys_core.viz.export import figure_bytes
from recsys_core.viz.heatmap import heatmap_figure

st.title("Field × field interactions")
runs = dashboard.runs_table()
if runs.empty:
    st.info("No runs yet — train one on the **Train** page.")
    st.stop()

ids = runs["run_id"].tolist()
wanted = st.query_params.get("run")
run_id = st.selectbox("Run", ids, index=ids.index(wanted) if wanted in ids else 0)
st.query_params["run"] = run_id
row = runs.set_index("run_id").loc[run_id]
metrics = {
    k.removeprefix("test_"): row[k] for k in row.index if k.startswith("test_") and row[k] == row[k]
}
st.caption(f"{row['model']} · {row['task']} · " + " · ".join(f"test {k} {v:.4f}" for k, v in metrics.items())
           + f" · {int(row['params']):,} parameters")  # fmt: skip

try:
    matrix = dashboard.run_matrix(run_id, "native")
except RecsysCoreError as exc:
    st.error(str(exc))
    st.stop()

fig = heatmap_figure(matrix)
st.plotly_chart(fig, key="heatmap", config={"displaylogo": False})
st.caption(f"**{matrix.kind}** — {matrix.description}")

png, html, csv = st.columns(3)
png.download_button(
    "Download PNG", lambda: figure_bytes(fig, "png"), f"{run_id}-interactions.png", "image/png"
)
html.download_button(
    "Download HTML", lambda: figure_bytes(fig, "html"), f"{run_id}-interactions.html", "text/html"
)
csv.download_button("Download CSV", matrix.to_csv(), f"{run_id}-interactions.csv", "text/csv")
with st.expander("Matrix values"):
    st.dataframe(matrix.to_frame().style.format("{:.4f}", na_rep="–"), width="stretch")
