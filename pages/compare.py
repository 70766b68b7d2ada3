"""Compare: the leaderboard of saved runs, two runs' maps side by side on one scale, their difference."""

import numpy as np
import streamlit as st

from recsys_core import dashboard
from recsys_core.errors import RecsysCoreError
from recsys_core.query import PageQuery
from recsys_core.viz.heatmap import heatmap_figure
from recsys_core.viz.text import md_text, plot_text

st.title("Compare runs")
runs = dashboard.runs_table()
if runs.empty:
    st.info("No runs yet — train one on the **Train** page.")
    st.stop()

st.subheader("Leaderboard of saved runs")
metric = next((c for c in ("test_rmse", "test_auc") if c in runs and runs[c].notna().any()), None)
board = runs.sort_values(metric, ascending=metric == "test_rmse") if metric else runs
st.dataframe(board, hide_index=True, width="stretch")
if len(runs) < 2:
    st.info("Train a second run to compare two runs' interaction maps.")
    st.stop()

query = PageQuery(st.query_params.to_dict())  # every value checked (recsys_core.query)
ids = runs["run_id"].tolist()
try:
    asked_a = query.run("a", ids, dashboard.store())
    others = [r for r in ids if r != (asked_a or ids[0])]
    asked_b = query.run("b", others, dashboard.store(), kind="another run than run A")
except RecsysCoreError as exc:  # a named run that is gone or damaged: never silently another
    st.error(md_text(exc))
    st.page_link("../pages/home.py", label="See the saved runs", icon=":material/home:")
    st.stop()
left, right = st.columns(2)
run_a = left.selectbox("Run A", ids, index=ids.index(asked_a) if asked_a else 0)
others = [r for r in ids if r != run_a]
run_b = right.selectbox("Run B", others, index=others.index(asked_b) if asked_b in others else 0)
for col, shown_run in ((left, run_a), (right, run_b)):  # each run's own page
    col.page_link("../pages/run.py", label="Its run page", icon=":material/description:", query_params={"id": shown_run})  # fmt: skip
try:
    methods = dashboard.common_methods(run_a, run_b)
except RecsysCoreError as exc:
    st.error(md_text(exc))
    st.stop()
keys = list(methods)
default = query.choice("method", keys, "tii" if "tii" in keys else keys[0], "method")
cols = st.columns([3, 3, 2])
method = cols[0].selectbox("Method", keys, index=keys.index(default), format_func=methods.get)
view = None
if method == "native":
    views = dashboard.common_native_views(run_a, run_b)
    if not views:
        st.warning("The two models share no native view; pick a model-agnostic method.")
        st.stop()
    view = cols[1].selectbox("Native view", views, index=views.index(query.choice("view", views, views[0], "native view")))  # fmt: skip
orders = ["group", "strength", "given"]
order = cols[2].selectbox("Order (of run A)", orders, index=orders.index(query.choice("order", orders, "group", "order")))  # fmt: skip
st.query_params.from_dict(
    {"a": run_a, "b": run_b, "method": method, "order": order, **({"view": view} if view else {})}
)
if query.message:  # what in the link could not be used, once, above the maps
    st.warning(md_text(query.message), icon=":material/link_off:")

try:
    with st.spinner("Computing both maps…"):
        a, b, diff = dashboard.compare_runs(run_a, run_b, method, view, order)
except RecsysCoreError as exc:
    st.error(md_text(exc))
    st.stop()

top = float(np.nanmax(np.abs(np.concatenate([a.values.ravel(), b.values.ravel()]))))
left, right = st.columns(2)
for col, matrix, name, key in ((left, a, run_a, "a"), (right, b, run_b, "b")):
    fig = heatmap_figure(matrix, zmax=top)
    fig.update_layout(title={"text": f"{plot_text(name)}<br><sup>{plot_text(matrix.title)}</sup>"})
    col.plotly_chart(fig, key=f"compare_{key}")
st.caption(f"**{md_text(a.kind)}** — {md_text(a.description)} Both maps share one colour scale (0 to {top:.3g}).")  # fmt: skip
st.plotly_chart(heatmap_figure(diff), key="compare_diff")
st.caption(md_text(diff.description))
