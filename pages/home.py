"""Home: what the tool does, and the saved runs."""

import streamlit as st

from recsys_core import dashboard

st.title("What did your recommender learn about feature interactions?")
st.markdown(
    "Train a CTR / rating model (DLRM and more) on MovieLens 100K with a fast JAX engine, then read "
    "its **field × field interaction matrix**: which pairs of features — user × movie, occupation × "
    "genre, … — the model actually combines. Start on **Train**, then open **Interactions**."
)

runs = dashboard.runs_table()
st.subheader("Saved runs")
if runs.empty:
    st.info("No runs yet — train one on the **Train** page.")
else:
    st.dataframe(runs, hide_index=True, width="stretch")
    st.caption(f"{len(runs)} run(s) in `{dashboard.store().root}`")

boards = dashboard.published_leaderboards()
if boards:
    st.subheader("MovieLens 100K leaderboard")
    st.caption(
        "Every model with its default hyper-parameters, test split of the seed-42 80/20 split, "
        "mean ± std over seeds (`benchmarks/leaderboard.py`)."
    )
    for task, frame in boards.items():
        with st.expander(task, expanded=task == "regression"):
            st.dataframe(frame, hide_index=True, width="stretch")
