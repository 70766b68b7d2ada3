"""Trust: train a model on a table with planted interactions and check the maps recover them."""

import uuid

import numpy as np
import streamlit as st

from recsys_core import access, dashboard
from recsys_core.analysis.validation import PlantedCheck
from recsys_core.data.planted import KINDS, TABLE_DESCRIPTIONS
from recsys_core.models.registry import MODELS
from recsys_core.training.health import health_line, map_warning
from recsys_core.viz.heatmap import heatmap_figure
from recsys_core.viz.text import md_text

owner = st.session_state.setdefault("owner", uuid.uuid4().hex)
jobs = dashboard.job_manager()

st.title("Can you trust the maps?")
st.markdown(
    "Train a model on a synthetic table whose interactions are known, then check that the "
    "interaction maps find them: the planted pairs should rank above all others (**recovery "
    "AUC**, 1.0 = perfect, 0.5 = chance). On the **control** table there is nothing to find: "
    "every recovered interaction is a false positive."
)
allowed = access.from_streamlit()
if not allowed.may_train:  # a check trains a model
    st.info(f"Checks are not available here: {md_text(allowed.reason)}", icon=":material/lock:")
    st.stop()
with st.form("trust"):
    left, mid, right = st.columns([3, 3, 2])
    names = sorted(MODELS)
    model = left.selectbox(
        "Model", names, index=names.index("dlrm"), format_func=lambda m: MODELS[m].title
    )
    short = {"ctr": "CTR-shaped, graded pairs", "dcn": "DCN polynomial", "control": "Control: no interaction"}  # fmt: skip
    table = mid.selectbox(
        "Planted table",
        KINDS,
        index=KINDS.index("ctr"),
        format_func=lambda k: short.get(k, k),
        help="\n\n".join(f"**{short.get(k, k)}**: {TABLE_DESCRIPTIONS[k]}" for k in KINDS),
    )
    task = left.radio(
        "Task", ["regression", "binary"], horizontal=True,
        help="regression: the label is the logit plus noise; binary: a click drawn from it "
        "(a weaker signal: use more rows). The DCN polynomial is always regression.",
    )  # fmt: skip
    seed = right.number_input("Seed", 0, 10_000, 0)
    n_rows = right.number_input("Rows", 2_000, 200_000, 10_000, step=2_000)
    submitted = st.form_submit_button("Run the check", type="primary")
if submitted:
    dashboard.submit_trust_check(
        model, table, int(seed), int(n_rows), task, owner=owner, access=allowed
    )


def show(check) -> None:
    health = getattr(check, "health", None)  # did the model learn? (training.health)
    void = health is not None and health.warns
    if void:
        st.warning(
            f"{map_warning(health)} The recovery numbers below are therefore meaningless: they "
            "measure noise, so a value near 0.5 (or any other) says nothing about the method.",
            icon=":material/warning:",
        )
    elif health is not None:
        st.caption(f"Health: {health_line(health)}")
    meaningless = " (meaningless: the model did not learn)" if void else ""
    cols = st.columns(3 + len(check.native_auc))
    if np.isnan(check.auc):
        cols[0].metric(
            "Largest sqrt(TII) / score std",
            f"{check.largest_ratio:.3f}",
            help="No planted pair: the largest interaction found, relative to the spread of the "
            "model's score. Near 0 means no false positives.",
        )
    else:
        cols[0].metric(f"TII recovery AUC{meaningless}", f"{check.auc:.3f}")
    for col, (view, auc) in zip(cols[1:], check.native_auc.items(), strict=False):
        col.metric(f"Native '{view}' AUC{meaningless}", "—" if np.isnan(auc) else f"{auc:.3f}")
    metrics = " · ".join(f"{k} {v:.4f}" for k, v in check.test_metrics.items())
    cols[-1].metric("Training", f"{check.train_seconds:.1f} s", help=f"test {metrics}")
    top = float(np.nanmax([np.nanmax(check.truth.values), np.nanmax(check.recovered.values)]))
    truth, found = st.columns(2)
    truth.plotly_chart(heatmap_figure(check.truth, zmax=top), key=f"truth_{id(check)}")
    truth.caption(check.truth.description)
    found.plotly_chart(heatmap_figure(check.recovered, zmax=top), key=f"found_{id(check)}")
    found.caption(check.recovered.description)
    for view, matrix in check.native.items():
        st.plotly_chart(heatmap_figure(matrix), key=f"native_{view}_{id(check)}")
        st.caption(f"**{matrix.kind}** — {matrix.description}")


@st.fragment(run_every=1.0)
def checks() -> None:
    recent = jobs.jobs(kind="check")  # everyone's: a reload or another tab shows them too
    if not recent:
        st.info("No check yet: pick a model and a table, then press **Run the check**.")
        return
    for job in recent[:3]:
        with st.container(border=True):
            yours = " (yours)" if job.owner == owner else ""
            st.markdown(f"**{job.label}**{yours} · **{job.state}** · {job.elapsed:.1f} s")
            if job.state == "running":
                st.caption(f"epoch {len(job.epochs)} …")
            elif job.state == "failed":
                st.error(md_text(job.error))
            elif job.state == "done" and job.result is not None:
                show(PlantedCheck.from_dict(job.result))


checks()
