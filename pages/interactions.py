"""Interactions: a run's field x field heatmap by any supported method, with downloads."""

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
query = st.query_params
left, mid, order_col, right = st.columns([3, 3, 2, 1])
run_id = left.selectbox("Run", ids, index=ids.index(query["run"]) if query.get("run") in ids else 0)
try:
    methods = dashboard.run_methods(run_id)
except RecsysCoreError as exc:
    st.error(str(exc))
    st.stop()
keys = list(methods)
method = mid.selectbox(
    "Method",
    keys,
    index=keys.index(query["method"]) if query.get("method") in keys else 0,
    format_func=methods.get,
)
orders = {
    "given": "as given",
    "group": "by group (user | movie | context)",
    "strength": "by strength",
}
order = order_col.selectbox(
    "Order",
    list(orders),
    index=list(orders).index(query["order"]) if query.get("order") in orders else 1,
    format_func=orders.get,
)
row = None
if method == "archipelago":
    wanted = query.get("row", "0")
    row = int(right.number_input("Held-out row", 0, 1_999, int(wanted) if wanted.isdigit() else 0))
st.query_params.update(
    {"run": run_id, "method": method, **({"row": str(row)} if row is not None else {})}
)
if row is None and "row" in st.query_params:
    del st.query_params["row"]

info = runs.set_index("run_id").loc[run_id]
metrics = {
    k.removeprefix("test_"): info[k]
    for k in info.index
    if k.startswith("test_") and info[k] == info[k]
}
st.caption(
    f"{info['model']} · {info['task']} · "
    + " · ".join(f"test {k} {v:.4f}" for k, v in metrics.items())
    + f" · {int(info['params']):,} parameters"
)

try:
    with st.spinner("Computing the interaction matrix…"):
        matrix = dashboard.run_matrix(run_id, method, row)
except RecsysCoreError as exc:
    st.error(str(exc))
    st.stop()

fig = heatmap_figure(matrix.ordered(order))
st.plotly_chart(fig, key="heatmap", config={"displaylogo": False})
st.caption(f"**{matrix.kind}** — {matrix.description}")
if method == "archipelago":
    st.caption("Explained row and baseline row (the medoid of the held-out rows):")
    st.dataframe(
        [matrix.extra.get("row", {}), matrix.extra.get("baseline_row", {})], hide_index=True
    )

stem = f"{run_id}-{method}" + (f"-row{row}" if row is not None else "")
png, html, csv, js = st.columns(4)
png.download_button("Download PNG", lambda: figure_bytes(fig, "png"), f"{stem}.png", "image/png")
html.download_button(
    "Download HTML", lambda: figure_bytes(fig, "html"), f"{stem}.html", "text/html"
)
csv.download_button("Download CSV", matrix.to_csv(), f"{stem}.csv", "text/csv")
js.download_button("Download JSON", matrix.to_json(), f"{stem}.json", "application/json")
with st.expander("Matrix values"):
    st.dataframe(matrix.to_frame().style.format("{:.4f}", na_rep="–"), width="stretch")
