"""Interactions: a run's field x field map by any method it supports, a pair's detail, downloads."""

import streamlit as st

from recsys_core import dashboard
from recsys_core.analysis.columns import DEFAULT_GRANULARITY, GRANULARITY_TITLES
from recsys_core.analysis.matrix import InteractionMatrix
from recsys_core.analysis.noise import noise_references, noise_summary
from recsys_core.errors import RecsysCoreError
from recsys_core.query import PageQuery
from recsys_core.training.health import map_warning
from recsys_core.viz.export import figure_bytes
from recsys_core.viz.pair import pair_combos_figure, pair_distribution_figure
from recsys_core.viz.text import md_text
from recsys_core.viz.views import view_figure

st.title("Field × field interactions")
runs = dashboard.runs_table()
if runs.empty:
    st.info("No runs yet — train one on the **Train** page.")
    st.stop()

ids = runs["run_id"].tolist()
query = PageQuery(st.query_params.to_dict())  # every value checked (recsys_core.query)
try:
    asked = query.run("run", ids, dashboard.store())
except RecsysCoreError as exc:  # a named run that is gone or damaged: never silently another
    st.error(md_text(exc))
    st.page_link("../pages/home.py", label="See the saved runs", icon=":material/home:")
    st.stop()

left, mid, order_col = st.columns([3, 3, 2])
run_id = left.selectbox("Run", ids, index=ids.index(asked) if asked else 0)
left.page_link("../pages/run.py", label="Its run page", icon=":material/description:", query_params={"id": run_id})  # fmt: skip
try:
    menu = dashboard.run_menu(run_id)
    last_row = max(dashboard.holdout_rows(run_id) - 1, 0)  # per-row views take rows 0..last_row
except RecsysCoreError as exc:
    st.error(md_text(exc))
    st.stop()
keys = list(menu.methods)
method = mid.selectbox(
    "Method",
    keys,
    index=keys.index(query.choice("method", keys, keys[0], "method")),
    format_func=menu.methods.get,
)
orders = {
    "given": "as given",
    "group": "by group (user | movie | context)",
    "strength": "by strength",
}
order = order_col.selectbox(
    "Order",
    list(orders),
    index=list(orders).index(query.choice("order", list(orders), "group", "order")),
    format_func=orders.get,
)

state: dict[str, str] = {"run": run_id, "method": method, "order": order}
view = layer = head = row = None
fields = "blocks"  # native views read the model's own fields
if method != "native":  # substitution methods can split the model's continuous block by column
    fields = st.radio(
        "Fields",
        list(GRANULARITY_TITLES),
        index=list(GRANULARITY_TITLES).index(
            query.choice("fields", list(GRANULARITY_TITLES), DEFAULT_GRANULARITY, "fields")
        ),
        format_func=GRANULARITY_TITLES.get,
        horizontal=True,
        key="fields",
        help="One per input column: each continuous column is substituted on its own (price, "
        "age, hour of day). The model's blocks: its own fields, the continuous columns as the "
        "one block the model consumes them as.",
    )
    state["fields"] = fields
if method == "native":
    views = {v.name: v for v in menu.views}
    names = list(views)
    cols = st.columns([4, 1, 1, 2])
    view = cols[0].selectbox(
        "Native view",
        names,
        index=names.index(query.choice("view", names, names[0], "native view")),
        format_func=lambda n: f"{views[n].title} ({views[n].kind})",
    )
    state["view"] = view
    options = views[view].options
    if "layer" in options:
        layer = int(cols[1].number_input("Layer", 0, options["layer"] - 1, query.integer("layer", 0, options["layer"] - 1, 0)))  # fmt: skip
        state["layer"] = str(layer)
    if "head" in options:
        head = int(cols[2].number_input("Head", 0, options["head"] - 1, query.integer("head", 0, options["head"] - 1, 0)))  # fmt: skip
        state["head"] = str(head)
    if views[view].per_row and cols[3].toggle("One held-out row", value="row" in query):
        row = int(cols[3].number_input("Held-out row", 0, last_row, query.integer("row", 0, last_row, 0)))  # fmt: skip
elif method == "archipelago":
    row = int(st.number_input("Held-out row", 0, last_row, query.integer("row", 0, last_row, 0)))
if row is not None:
    state["row"] = str(row)
if query.message:  # what in the link could not be used, once, above the map
    st.warning(md_text(query.message), icon=":material/link_off:")

info = runs.set_index("run_id").loc[run_id]
metrics = {k.removeprefix("test_"): info[k] for k in info.index if k.startswith("test_") and info[k] == info[k]}  # fmt: skip
params = info.get("params")
st.caption(
    f"{md_text(info['model'])} · {md_text(info['task'])} · "
    + " · ".join(f"test {md_text(k)} {v:.4f}" for k, v in metrics.items())
    + (f" · {int(params):,} parameters" if params == params and params is not None else "")
)
health = dashboard.run_health(run_id)
if health.warns:  # a model that learned nothing still draws maps: noise, which must say so
    st.warning(map_warning(health), icon=":material/warning:")
data = dashboard.run_data(run_id)
if data.get("schema"):  # a user's table: where the data came from and the roles it was trained with
    with st.expander(f"Data: {md_text(data.get('name'))} · {data.get('rows', 0):,} rows · target {md_text(repr(data.get('target')))}"):  # fmt: skip
        st.dataframe(data["schema"], hide_index=True)

try:
    with st.spinner("Computing the interaction view…"):
        result = dashboard.run_matrix(run_id, method, row, view, layer, head, fields)
except RecsysCoreError as exc:
    st.query_params.from_dict(state)
    st.error(md_text(exc))
    st.stop()

is_matrix = isinstance(result, InteractionMatrix)
shown = result.ordered(order) if is_matrix else result
fig = view_figure(shown, clickable=is_matrix)
event = st.plotly_chart(
    fig,
    key="heatmap",
    config={"displaylogo": False},
    on_select="rerun" if is_matrix else "ignore",
    selection_mode="points",
)
st.caption(f"**{md_text(result.kind)}** — {md_text(result.description)}")
noise = result.extra.get("noise") if is_matrix else None
if noise:  # the map's verdict against what models without learned interactions show
    shout = st.success if noise["n_above"] and not health.warns else st.info
    shout(f"**{md_text(noise_summary(result))}**", icon=":material/insights:")
    with st.expander("How the noise floor is computed"):
        st.markdown(md_text(noise["rule"]) + ".")
        st.dataframe(noise_references(result), hide_index=True)
elif is_matrix:
    st.caption("Weights-only view: no noise floor (it reads no data).")
if method == "archipelago":
    st.caption("Explained row and baseline row (the medoid of the held-out rows):")
    st.dataframe(
        [result.extra.get("row", {}), result.extra.get("baseline_row", {})], hide_index=True
    )

stem = (
    "-".join(str(p) for p in (run_id, method, view, layer, head) if p is not None)
    + (f"-{fields}" if method != "native" else "")
    + (f"-row{row}" if row is not None else "")
)
buttons = st.columns(7)
for col, fmt, mime in zip(
    buttons,
    ("png", "svg", "pdf", "html"),
    ("image/png", "image/svg+xml", "application/pdf", "text/html"),
    strict=False,
):
    col.download_button(
        f"{fmt.upper()}", lambda fmt=fmt: figure_bytes(fig, fmt), f"{stem}.{fmt}", mime
    )
buttons[4].download_button("CSV", result.to_csv(), f"{stem}.csv", "text/csv")
buttons[5].download_button("JSON", result.to_json(), f"{stem}.json", "application/json")
buttons[6].download_button(
    "Run report",
    lambda: dashboard.run_report_html(run_id),
    f"{run_id}-report.html",
    "text/html",
    help="One HTML file with the run's config, metrics, curves and every map, to mail as it is.",
)

if is_matrix and len(shown.fields) > 1:
    st.subheader("A pair in detail")
    pairs = shown.strongest_pairs()
    labels = [f"{a} × {b}" for a, b in pairs]
    points = (event.selection.points if event and event.selection else []) or []
    if points:
        clicked = f"{points[0]['y']} × {points[0]['x']}"
        if clicked != st.session_state.get("last_click"):
            st.session_state["last_click"] = clicked
            a, b = points[0]["y"], points[0]["x"]
            label = f"{a} × {b}" if f"{a} × {b}" in labels else f"{b} × {a}"
            if label in labels:
                st.session_state["pair"] = label
    if st.session_state.get("pair") not in labels:
        a, _, b = query.raw("pair").partition("~")
        wanted = f"{a} × {b}" if f"{a} × {b}" in labels else f"{b} × {a}"
        if query.raw("pair") and wanted not in labels:
            st.warning(md_text(f"Unknown pair {query.raw('pair')[:60]!r}; showing {labels[0]}."))
        st.session_state["pair"] = wanted if wanted in labels else labels[0]
    chosen = st.selectbox(
        "Pair (or click a cell of the map)", labels, key="pair", help="strongest first"
    )
    a, b = pairs[labels.index(chosen)]
    state["pair"] = f"{a}~{b}"
    try:
        with st.spinner(f"Contributions of {md_text(a)} × {md_text(b)}…"):
            detail = dashboard.run_pair_detail(run_id, a, b, fields)
    except RecsysCoreError as exc:
        st.error(md_text(exc))
    else:
        st.caption(
            f"How much {md_text(a)} and {md_text(b)} together move each held-out row's predicted "
            f"{md_text(detail.unit)}, beyond what each does alone (mean mixed difference against "
            f"K = {detail.n_partners} rows drawn from the data; model-agnostic). Its mean square "
            f"is the pair's TII × (1 + 3/K) = {detail.mean_square_factor:.3f} × TII."
        )
        if detail.note:  # a high-cardinality pair: what is shown instead, or why nothing is
            st.info(md_text(detail.note), icon=":material/info:")
        combos, spread = st.columns([3, 2])
        combos.plotly_chart(pair_combos_figure(detail), key="pair_combos")
        spread.plotly_chart(pair_distribution_figure(detail), key="pair_hist")
        with st.expander("All value combinations"):
            st.dataframe(detail.shown, hide_index=True, width="stretch")

st.query_params.from_dict(state)
with st.expander("Values"):
    frame = result.to_frame()
    st.dataframe(frame.style.format("{:.4f}", na_rep="–", subset=frame.select_dtypes("number").columns), width="stretch")  # fmt: skip
