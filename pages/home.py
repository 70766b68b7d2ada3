"""Home: what the tool does, and the saved runs."""

import dataclasses

import streamlit as st

from recsys_core import access, dashboard
from recsys_core.analysis.compare import MAX_RUNS
from recsys_core.errors import RecsysCoreError
from recsys_core.query import PageQuery
from recsys_core.service import run_browser
from recsys_core.viz.leaderboard import leaderboard_figure
from recsys_core.viz.runs import hparams_figure, overlaid_curves_figure
from recsys_core.viz.text import md_text

st.title("What did your recommender learn about feature interactions?")
st.markdown(
    "Train a CTR / rating model (DLRM and more) on MovieLens 100K with a fast JAX engine, then read "
    "its **field × field interaction matrix**: which pairs of features — user × movie, occupation × "
    "genre, … — the model actually combines. Start on **Train**, then open **Interactions**."
)

runs = dashboard.run_catalogue()  # every run that opens, with its name, tags and run page link
broken = dashboard.broken_runs()  # damaged or hand-edited run folders: listed apart, never fatal
st.subheader("Saved runs")
if runs.empty:
    st.info("No runs yet — train one on the **Train** page.")
else:  # the run browser: every choice in the URL (recsys_core.service.run_browser)
    store = dashboard.store()
    query = PageQuery(st.query_params.to_dict())
    wanted = run_browser.read_query(query, runs, store)
    if query.message:  # what in the link could not be used (a deleted run in the comparison, …)
        st.warning(md_text(query.message), icon=":material/link_off:")
    fresh = "runs_q" not in st.session_state  # the first draw since Home was opened: URL decides
    for name, value in dataclasses.asdict(wanted).items():  # widgets start from the URL
        st.session_state.setdefault(f"runs_{name}", value)
    options = run_browser.filter_options(runs)
    labels = dict(zip(runs["run_id"], runs["label"], strict=True))
    top = st.columns([4, 2, 2, 2, 2])
    search = top[0].text_input("Search", key="runs_q", placeholder="name, model, tag or data set (tag:x: that tag)")  # fmt: skip
    picks = {}
    for name in options:  # a value the store no longer has (its last run deleted): every
        if st.session_state.get(f"runs_{name}", "") not in ("", *options[name]):
            st.session_state[f"runs_{name}"] = ""
    for col, (name, every) in zip(top[1:], (("task", "every task"), ("dataset", "every data set"),
                                            ("health", "any health"), ("model", "every model")), strict=True):  # fmt: skip
        picks[name] = col.selectbox(name.replace("dataset", "data set").capitalize(), ["", *options[name]],
                                    key=f"runs_{name}", format_func=lambda v, every=every: v or every)  # fmt: skip
    shown = run_browser.BrowseQuery(q=search, **picks)
    in_view = run_browser.browse(runs, shown).task
    sorts = run_browser.sort_options(in_view)
    if st.session_state["runs_sort"] not in sorts:
        st.session_state["runs_sort"] = "created"
    order = st.columns([3, 2, 2, 5])
    shown.sort = order[0].selectbox("Sort by", list(sorts), key="runs_sort", format_func=sorts.get)
    shown.desc = order[1].toggle("Descending", key="runs_desc")
    shown.per = order[2].selectbox("Rows per page", run_browser.PER_PAGE, key="runs_per")
    filters = (search, *picks.values(), shown.sort, shown.desc, shown.per)
    if not fresh and st.session_state.get("runs_filters") != filters:  # new filters: page 1
        st.session_state["runs_page"] = 1
    st.session_state["runs_filters"] = filters
    shown.page = st.session_state["runs_page"]
    page = run_browser.browse(runs, shown)
    shown.page = page.page  # past the last page: the last
    st.dataframe(
        page.rows[page.columns],
        hide_index=True,
        width="stretch",
        key="runs_table",
        column_config={
            "link": st.column_config.LinkColumn("page", display_text="open", width="small",
                                                help="Open the run's page"),  # fmt: skip
            "run_id": "run",
            "model_title": "model",
            "dataset": "data set",
            **{m: st.column_config.NumberColumn(f"test {run_browser.METRIC_NAMES[m]}", format="%.4f")
               for m in run_browser.METRICS.get(page.task, ())},  # fmt: skip
            "train_seconds": st.column_config.NumberColumn("training s", format="%.1f"),
            "user": "trained by",
        },
    )
    if page.pages > 1:
        st.session_state["runs_page"] = min(st.session_state["runs_page"], page.pages)
        shown.page = int(order[3].number_input(f"Page (of {page.pages})", 1, page.pages, key="runs_page"))  # fmt: skip
    first = (page.page - 1) * shown.per
    st.caption(  # not where: the server's paths are not for visitors
        f"{page.matched} of {page.total} run(s) match"
        + (f"; showing {first + 1}–{first + len(page.rows)}" if page.pages > 1 else "")
        + ". Open a run's page from its row, or pick runs below to compare them."
    )
    ids = runs["run_id"].tolist()
    st.subheader("Compare runs")
    st.session_state["runs_cmp"] = [r for r in st.session_state["runs_cmp"] if r in labels]
    shown.cmp = st.multiselect(
        f"Runs to compare (up to {run_browser.COMPARE_MAX})",
        ids,
        key="runs_cmp",
        max_selections=run_browser.COMPARE_MAX,
        format_func=lambda r: f"{labels[r]} · {r}" if labels[r] != r else r,
        placeholder="Type a name or run id",
    )
    if shown.cmp:
        opened = st.columns(min(len(shown.cmp), 4))
        for k, run_id in enumerate(shown.cmp):
            opened[k % len(opened)].page_link("../pages/run.py", label=f"Open {md_text(labels[run_id])}",
                                              query_params={"id": run_id}, icon=":material/description:")  # fmt: skip
    if len(shown.cmp) >= 2:
        st.plotly_chart(overlaid_curves_figure(run_browser.curves(store, runs, shown.cmp)),
                        key="compare_curves")  # fmt: skip
        st.caption("Settings in which the selected runs differ, then their test metrics:")
        st.dataframe(run_browser.differences(store, runs, shown.cmp), hide_index=True,
                     width="stretch", key="compare_settings")  # fmt: skip
        maps = shown.cmp[:MAX_RUNS]  # the Compare page lays out 2 to 6 maps
        st.page_link("../pages/compare.py", label="Compare their interaction maps" if len(maps) == len(shown.cmp)
                     else f"Compare the first {len(maps)} runs' interaction maps",
                     query_params={"runs": ",".join(maps)}, icon=":material/compare:")  # fmt: skip
    counts = page.found["model"].value_counts() if page.matched else None
    several = [m for m in options["model"] if counts is not None and counts.get(m, 0) >= 2]
    if several:
        st.subheader("Settings against the test metric")
        if st.session_state["runs_hp"] not in several:
            st.session_state["runs_hp"] = several[0]
        titles = dict(zip(runs["model"], runs["model_title"], strict=True))
        model = st.columns([2, 5])[0].selectbox("Runs of the model (those that match above)", several,
                                                key="runs_hp", format_func=titles.get)  # fmt: skip
        shown.hp = "" if model == several[0] else model  # the first is the default: not in the URL
        table, varying, metric = run_browser.settings_frame(store, page.found, model)
        if metric is None:
            st.info("These runs are of both tasks: pick one task above to plot a test metric.")
        elif not varying:
            st.info("These runs share every setting: nothing to set against the metric.")
        else:
            st.plotly_chart(hparams_figure(table, varying, metric,
                                           f"{titles[model]}: {len(table)} runs, the settings that vary"),
                            key="settings_figure")  # fmt: skip
            st.caption("One line per run through its settings to its test metric (the colour).")
    if run_browser.url_changed(query, shown):  # only Home's own parameters decide
        st.query_params.from_dict(shown.params())
if not broken.empty:  # each with its reason, in a table (text, never Markdown)
    named = ", ".join(md_text(r) for r in broken["run_id"][:3]) + (", …" if len(broken) > 3 else "")
    with st.expander(f"{len(broken)} run(s) cannot be opened: {named}", icon=":material/error:"):
        st.dataframe(broken, hide_index=True, width="stretch")
active = [j for j in dashboard.job_manager().jobs() if j.active and j.kind in ("train", "check")]
if active:
    st.caption(f"{len(active)} job(s) running or queued: follow them on **Train** or **Trust**.")
if not runs.empty or not broken.empty:
    allowed = access.from_streamlit()
    if allowed.may_delete:  # hidden in viewer mode and from people who may not train
        with st.expander("Delete a run"):
            choices = [*runs.get("run_id", []), *broken["run_id"]]  # broken ones can go too
            doomed = st.selectbox("Run to delete", choices, index=None,
                                  placeholder="Pick a run", key="delete_run")  # fmt: skip
            if doomed is not None and st.session_state.get("confirm_delete") != doomed:
                if st.button("Delete…", key="delete_ask"):
                    st.session_state["confirm_delete"] = doomed
                    st.rerun()
            elif doomed is not None:
                st.warning(f"Delete run {md_text(doomed)} for everyone? This cannot be undone.")
                yes, no = st.columns(2)
                if yes.button("Yes, delete it", type="primary", key="delete_yes"):
                    st.session_state.pop("confirm_delete", None)
                    try:
                        dashboard.delete_run(doomed, access=allowed)
                    except RecsysCoreError as exc:
                        st.error(md_text(exc))
                    else:
                        st.session_state.pop("delete_run", None)
                        st.toast(f"Deleted run {md_text(doomed)}.")
                        st.rerun()
                if no.button("Cancel", key="delete_no"):
                    st.session_state.pop("confirm_delete", None)
                    st.rerun()

boards = dashboard.published_leaderboards()
if boards:
    st.subheader("MovieLens 100K leaderboard")
    st.caption(
        "Every model with its default hyper-parameters, test split of the seed-42 80/20 split, "
        "mean ± std over seeds (`benchmarks/leaderboard.py`)."
    )
    for task, frame in boards.items():
        with st.expander(task, expanded=task == "regression"):
            st.plotly_chart(leaderboard_figure(frame), key=f"leaderboard_{task}")
            st.dataframe(frame, hide_index=True, width="stretch")
