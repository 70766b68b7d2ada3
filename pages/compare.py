"""Compare: the leaderboard of saved runs; 2 to 6 runs' maps on one scale, fields matched by name,
their rank agreement, and for seeds of one configuration the stability of every cell."""

import streamlit as st

from recsys_core import dashboard
from recsys_core.analysis.compare import MAX_RUNS, MIN_RUNS
from recsys_core.analysis.stability import UNSTABLE_RULE
from recsys_core.errors import RecsysCoreError
from recsys_core.query import PageQuery
from recsys_core.viz.compare import agreement_figure, grid_figure, stability_figure
from recsys_core.viz.export import export_bytes
from recsys_core.viz.heatmap import heatmap_figure
from recsys_core.viz.text import md_text

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
names = dict(zip(ids, runs["name"], strict=True)) if "name" in runs else {}
try:  # ?runs=a,b,c (Home); ?a=&b= (older links, the run page's "Compare with another run")
    asked = query.runs("runs", ids, dashboard.store(), MAX_RUNS)
    if not asked:
        asked = [r for r in (query.run("a", ids, dashboard.store()),) if r]
        others = [r for r in ids if r not in asked]
        asked += [r for r in (query.run("b", others, dashboard.store(), kind="another run than run A"),) if r]  # fmt: skip
except RecsysCoreError as exc:  # a named run that is gone or damaged: never silently another
    st.error(md_text(exc))
    st.page_link("../pages/home.py", label="See the saved runs", icon=":material/home:")
    st.stop()
for run_id in ids:  # fill up to two runs with the newest others
    if len(asked) >= MIN_RUNS:
        break
    if run_id not in asked:
        asked.append(run_id)
link = ",".join(asked)
if st.session_state.get("compare_link") != link:  # a link followed (or the page opened): it decides
    st.session_state["compare_runs"], st.session_state["compare_link"] = asked, link
st.session_state["compare_runs"] = [r for r in st.session_state["compare_runs"] if r in ids]
chosen = st.multiselect(
    f"Runs to compare ({MIN_RUNS} to {MAX_RUNS})",
    ids,
    key="compare_runs",
    max_selections=MAX_RUNS,
    format_func=lambda r: dashboard.run_label(r, names),
    placeholder="Type a name or run id",
)
if chosen:
    links = st.columns(len(chosen))
    for col, run_id in zip(links, chosen, strict=True):  # each run's own page
        col.page_link("../pages/run.py", label=dashboard.run_label(run_id, names), icon=":material/description:", query_params={"id": run_id})  # fmt: skip
if len(chosen) < MIN_RUNS:
    st.info(f"Pick at least {MIN_RUNS} runs to compare their interaction maps.")
    st.stop()

try:
    methods = dashboard.common_methods(*chosen)
except RecsysCoreError as exc:
    st.error(md_text(exc))
    st.stop()
keys = list(methods)
default = query.choice("method", keys, "tii" if "tii" in keys else keys[0], "method")
cols = st.columns([3, 3, 2])
method = cols[0].selectbox("Method", keys, index=keys.index(default), format_func=methods.get,
                           help="TII compares any models on one footing; a native view only models that share it.")  # fmt: skip
view = None
if method == "native":
    views = dashboard.common_native_views(*chosen)
    if not views:
        st.warning("These models share no native view; pick a model-agnostic method.")
        st.stop()
    view = cols[1].selectbox("Native view", views, index=views.index(query.choice("view", views, views[0], "native view")))  # fmt: skip
orders = ["group", "strength", "given"]
order = cols[2].selectbox(f"Order (of {chosen[0]})", orders, index=orders.index(query.choice("order", orders, "group", "order")))  # fmt: skip
st.session_state["compare_link"] = ",".join(chosen)  # the link this page writes is no new one
st.query_params.from_dict(
    {"runs": ",".join(chosen), "method": method, "order": order, **({"view": view} if view else {})}
)
if query.message:  # what in the link could not be used, once, above the maps
    st.warning(md_text(query.message), icon=":material/link_off:")


def downloads(result: object, fig: object, stem: str, key: str) -> None:
    """Export buttons of one figure and its numbers, through the export path of every figure."""
    kinds = (("png", "image/png"), ("svg", "image/svg+xml"), ("pdf", "application/pdf"),
             ("html", "text/html"), ("csv", "text/csv"), ("json", "application/json"))  # fmt: skip
    for col, (fmt, mime) in zip(st.columns(len(kinds)), kinds, strict=True):
        data = (lambda fmt=fmt: export_bytes(result, fig, fmt)) if fmt in ("png", "svg", "pdf", "html") else export_bytes(result, fig, fmt)  # fmt: skip
        col.download_button(fmt.upper(), data, f"{stem}.{fmt}", mime, key=f"{key}_{fmt}")


try:
    with st.spinner(f"Computing {len(chosen)} maps…"):
        comparison = dashboard.compare_many(chosen, method, view, order)
except RecsysCoreError as exc:  # different task or units: refused, with the reason
    st.error(md_text(exc), icon=":material/block:")
    st.stop()
for line in comparison.warnings:  # different data sets
    st.warning(md_text(line), icon=":material/warning:")
stem = "compare-" + "-".join(chosen) + f"-{method}" + (f"-{view}" if view else "")

left_out = {run_id: fields for run_id, fields in comparison.match.unmatched.items() if fields}
if left_out:
    st.info(f"Fields matched by name: {len(comparison.match.common)} in every run. "
            "Left out (not in every run): "
            + "; ".join(f"**{md_text(r)}**: {md_text(', '.join(f))}" for r, f in left_out.items()),
            icon=":material/join_inner:")  # fmt: skip
else:
    st.caption(f"Fields matched by name: all {len(comparison.match.common)} in every run.")

st.subheader("The maps on one colour scale")
grid = grid_figure(comparison)
st.plotly_chart(grid, key="compare_grid")
first = comparison.maps[0]
st.caption(f"**{md_text(first.kind)}** — {md_text(first.description)} Every map shares one colour scale"
           + (f" ({md_text(comparison.unit)})." if comparison.unit else "."))  # fmt: skip
downloads(comparison, grid, f"{stem}-maps", "dl_grid")

if comparison.difference is not None:
    st.subheader("Their difference")
    diff_fig = heatmap_figure(comparison.difference)
    st.plotly_chart(diff_fig, key="compare_diff")
    st.caption(md_text(comparison.difference.description))
    downloads(comparison.difference, diff_fig, f"{stem}-difference", "dl_diff")

st.subheader("Rank agreement of the pairs")
agreement = comparison.agreement
st.dataframe(agreement.to_frame().round(3), width="stretch")
agree_fig = agreement_figure(agreement)
st.plotly_chart(agree_fig, key="compare_agreement")
st.caption("Spearman's rank correlation (Spearman 1904) of every two runs' pair values: 1 when "
           "they order the pairs alike, whatever their scales; about 0 when unrelated. "
           f"Mean over every two runs: {agreement.mean:.2f}.")  # fmt: skip
downloads(agreement, agree_fig, f"{stem}-agreement", "dl_agreement")

st.subheader("Stability across seeds")
if comparison.stability is not None:
    stability = comparison.stability
    stab_fig = stability_figure(stability)
    st.plotly_chart(stab_fig, key="compare_stability")
    st.caption(f"**{md_text(stability.summary())}** Cells: mean ± std over the seeds; unstable "
               f"cells are crossed — {md_text(UNSTABLE_RULE)}.")  # fmt: skip
    table = stability.to_frame()
    st.dataframe(table[table["unstable"]] if table["unstable"].any() else table, hide_index=True, width="stretch")  # fmt: skip
    downloads(stability, stab_fig, f"{stem}-stability", "dl_stability")
else:
    st.caption("Shown when the runs picked are seeds of one configuration (equal settings apart "
               "from the seed, as `recsys-core train --trials N` makes).")  # fmt: skip
    group = dashboard.seed_group(chosen[0])
    if len(group) >= MIN_RUNS:
        st.page_link("../pages/compare.py", label=f"Compare the {min(len(group), MAX_RUNS)} seeds of {chosen[0]}'s configuration",
                     query_params={"runs": ",".join(group[:MAX_RUNS]), "method": method}, icon=":material/stacks:")  # fmt: skip
