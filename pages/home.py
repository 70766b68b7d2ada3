"""Home: what the tool does, and the saved runs."""

import streamlit as st

from recsys_core import access, dashboard
from recsys_core.errors import RecsysCoreError
from recsys_core.viz.leaderboard import leaderboard_figure
from recsys_core.viz.text import md_text

st.title("What did your recommender learn about feature interactions?")
st.markdown(
    "Train a CTR / rating model (DLRM and more) on MovieLens 100K with a fast JAX engine, then read "
    "its **field × field interaction matrix**: which pairs of features — user × movie, occupation × "
    "genre, … — the model actually combines. Start on **Train**, then open **Interactions**."
)

runs = dashboard.runs_table()
broken = dashboard.broken_runs()  # damaged or hand-edited run folders: listed apart, never fatal
st.subheader("Saved runs")
if runs.empty:
    st.info("No runs yet — train one on the **Train** page.")
else:
    st.dataframe(runs, hide_index=True, width="stretch")
    st.caption(f"{len(runs)} run(s).")  # not where: the server's paths are not for visitors
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
