"""Run: everything known about one saved run, at the one URL to share (``/run?id=RUN``)."""

import streamlit as st

from recsys_core import access, dashboard
from recsys_core.errors import RecsysCoreError
from recsys_core.query import PageQuery
from recsys_core.training.health import map_warning
from recsys_core.viz.runs import run_curves_figure
from recsys_core.viz.text import md_text

HOME = "../pages/home.py"
frame = dashboard.run_catalogue()
query = PageQuery(st.query_params.to_dict())  # every value checked (recsys_core.query)
ids = frame["run_id"].tolist() if not frame.empty else []
try:
    run_id = query.run("id", ids, dashboard.store())
except RecsysCoreError as exc:  # a link to a run that is gone or damaged: say so, offer the list
    st.title("Run")
    st.error(md_text(exc))
    st.page_link(HOME, label="See the saved runs", icon=":material/home:")
    st.stop()
if run_id is None:  # /run without an id: pick one
    st.title("Run")
    if not ids:
        st.info("No runs yet — train one on the **Train** page.")
        st.stop()
    labels = dict(zip(frame["run_id"], frame["label"], strict=True))
    picked = st.selectbox("Open a run", ids, index=None, placeholder="Pick a run",
                          format_func=lambda r: f"{labels[r]} · {r}" if labels[r] != r else r)  # fmt: skip
    if picked is None:
        st.page_link(HOME, label="Or search the runs on Home", icon=":material/home:")
        st.stop()
    st.query_params.from_dict({"id": picked})  # the run's own URL, to share
    st.rerun()
only_changed = query.flag("changed")
try:
    summary = dashboard.run_summary(run_id)
except RecsysCoreError as exc:
    st.title("Run")
    st.error(md_text(exc))
    st.page_link(HOME, label="See the saved runs", icon=":material/home:")
    st.stop()
said = summary.annotations

st.title(md_text(summary.title))
st.caption(
    " · ".join(
        md_text(part)
        for part in (
            f"run {summary.run_id}" if said.name else "",
            summary.model_title,
            summary.task,
            summary.dataset,
            f"created {summary.created}" if summary.created else "",
            summary.trained_by,
        )
        if part
    )
)
if said.tags:  # tags are single words of [letters digits _ . : + / -]: safe in code spans
    st.markdown(" ".join(f"`{tag}`" for tag in said.tags))
if said.note:
    with st.container(border=True):
        st.markdown("  \n".join(md_text(line) for line in said.note.splitlines()))
if query.message:  # what in the link could not be used
    st.warning(md_text(query.message), icon=":material/link_off:")

allowed = access.from_streamlit()
if allowed.may_annotate:  # viewer mode and the trainers list decide, as for delete
    with st.expander("Name, tags and note", icon=":material/edit:"):
        with st.form("annotate"):
            name = st.text_input("Name", said.name, max_chars=80, placeholder=summary.run_id)
            tags = st.text_input("Tags (comma-separated words)", ", ".join(said.tags))
            note = st.text_area("Note", said.note, max_chars=2000)
            saved_it = st.form_submit_button("Save", type="primary")
        if saved_it:
            try:
                dashboard.annotate_run(run_id, access=allowed, name=name, note=note,
                                       tags=[t for t in tags.split(",") if t.strip()])  # fmt: skip
            except RecsysCoreError as exc:
                st.error(md_text(exc))
            else:
                st.toast("Saved the run's name, tags and note.")
                st.rerun()

verdict = summary.verdict
if verdict.warns:
    st.warning(md_text(map_warning(verdict)), icon=":material/warning:")
else:
    st.success(f"Health: {md_text(summary.health)}", icon=":material/check_circle:")
cols = st.columns(max(len(summary.metrics), 1) + 3)
for col, (metric, value) in zip(cols, summary.metrics.items(), strict=False):
    col.metric(f"test {metric}", f"{value:.4f}")
cols[-3].metric("parameters", f"{summary.params:,}" if summary.params is not None else "–")
seconds = summary.timings.get("training seconds (fit and refit)")
cols[-2].metric("training", f"{seconds:.1f} s" if isinstance(seconds, (int, float)) else "–")
cols[-1].metric("epochs", f"{summary.timings['epochs trained']}",
                help=f"best epoch {summary.timings['best epoch']}"
                + (f"; refitted on all training rows for {summary.refit_epochs}" if summary.refit_epochs else ""))  # fmt: skip

ICONS = {"interactions.py": ":material/grid_on:", "attention.py": ":material/visibility:",
         "cross.py": ":material/hub:", "compare.py": ":material/compare:"}  # fmt: skip
links = st.columns(len(summary.pages) + 1)
for col, (page, label, key) in zip(links, summary.pages, strict=False):
    col.page_link(f"../pages/{page}", label=label, query_params={key: run_id}, icon=ICONS.get(page))
links[-1].download_button(
    "Run report (HTML)",
    lambda: dashboard.run_report_html(run_id),
    f"{run_id}-report.html",
    "text/html",
    help="One HTML file with the run's name, config, metrics, curves and every map.",
)

st.subheader("Learning curves")
if summary.history:
    st.plotly_chart(run_curves_figure(summary.history, summary.refit_history), key="run_curves")
    if summary.refit_epochs and not summary.refit_history:
        st.caption(
            f"Refitted on all training rows for {summary.refit_epochs} epochs; this run was saved "
            "before the refit's own curve was recorded."
        )
else:
    st.info("This run recorded no per-epoch history.")

left, right = st.columns([3, 2], gap="large")
with left:
    st.subheader("Configuration")
    only_changed = st.toggle("Only the changed settings", value=only_changed)
    table = summary.config
    if only_changed:
        table = table[table["changed"]]
    st.caption("Changed settings are highlighted; defaults (this release's) are dimmed.")
    styled = table.style.apply(
        lambda row: [
            "font-weight: 600; background-color: rgba(255, 189, 69, 0.25)"
            if row["changed"]
            else "color: #9a9a9a"
        ]
        * len(row),
        axis=1,
    )
    st.dataframe(styled, hide_index=True, width="stretch", key="config", height=35 * (len(table) + 1) + 3,
                 column_config={"section": st.column_config.TextColumn(width="small"),
                                "value": st.column_config.TextColumn(width="medium"),
                                "default": st.column_config.TextColumn(width="medium"),
                                "changed": st.column_config.CheckboxColumn(width="small"),
                                "help": st.column_config.TextColumn(width="large")})  # fmt: skip
with right:
    st.subheader("Data")
    data = summary.data
    st.markdown(
        f"**{md_text(data['dataset'])}** · source {md_text(data['source'])}  \n"
        f"{md_text(data['split'])}"
        + (f"  \n{data['rows']:,} rows · target {md_text(data['target'])}" if data.get("rows") else "")
    )
    st.caption("Fields: " + ", ".join(md_text(f) for f in summary.fields))
    if data["schema"]:
        with st.expander("Column roles"):
            st.dataframe(data["schema"], hide_index=True)
    st.subheader("Timings")
    st.dataframe(
        {"what": list(summary.timings), "value": [
            "–" if v is None else (f"{v:.2f}" if isinstance(v, float) else str(v))
            for v in summary.timings.values()
        ]},
        hide_index=True,
    )  # fmt: skip

st.subheader("Saved maps")
if summary.maps:
    st.caption("Maps already computed for this run and saved beside it: they open at once.")
    for m in summary.maps:
        stale = "" if m.current else " (computed by other code: recomputed when opened)"
        st.page_link(f"../pages/{m.page}", label=md_text(m.label + stale), query_params=m.query,
                     icon=":material/grid_on:")  # fmt: skip
else:
    st.caption("No map is saved for this run yet: open **Interactions** to compute its first.")

st.subheader("Train it again")
st.code(summary.command, language="bash", wrap_lines=True)
if summary.command_note:
    st.caption(md_text(summary.command_note))
st.query_params.from_dict({"id": run_id, **({"changed": "1"} if only_changed else {})})
