"""Train: pick a model and its hyper-parameters, train in the background, watch the curves live."""

import dataclasses
import math
import uuid

import streamlit as st

from recsys_core import access, dashboard
from recsys_core.data.user_table import max_upload_bytes
from recsys_core.errors import RecsysCoreError
from recsys_core.features.infer import ROLES
from recsys_core.models.registry import HPARAM_GROUPS, MODELS, resolve_hparams
from recsys_core.query import PageQuery
from recsys_core.training.engine import TrainConfig
from recsys_core.training.health import Verdict, health_line, map_warning
from recsys_core.training.pipeline import RunConfig
from recsys_core.viz.curves import training_curves_figure
from recsys_core.viz.text import md_text

owner = st.session_state.setdefault("owner", uuid.uuid4().hex)
jobs = dashboard.job_manager()
defaults = TrainConfig()

st.title("Train a model")
allowed = access.from_streamlit()
if not allowed.may_train:
    st.info(f"Training is not available here: {md_text(allowed.reason)}", icon=":material/lock:")
    st.page_link("../pages/home.py", label="See the saved runs", icon=":material/home:")
    st.stop()
form_col, jobs_col = st.columns([3, 2], gap="large")
with form_col:
    MOVIELENS, UPLOAD = "MovieLens 100K", "Upload a table"
    source = st.radio("Data", [MOVIELENS, UPLOAD], horizontal=True, key="data_source")
    upload, upload_bytes, schema, threshold = None, b"", None, None
    if source == UPLOAD:
        try:
            limit_mb = max(1, math.ceil(max_upload_bytes() / 2**20))
        except RecsysCoreError as exc:  # a bad RECSYS_CORE_MAX_UPLOAD_MB: say so, upload nothing
            st.error(md_text(exc))
            st.stop()
        file = st.file_uploader(
            "Your table: CSV (UTF-8) or Parquet, one row per example",
            type=["csv", "tsv", "parquet", "pq"],
            max_upload_size=limit_mb,
            help=f"At most {limit_mb} MB (RECSYS_CORE_MAX_UPLOAD_MB). Lists or 'a|b|c' cells become "
            "multi-hot fields.",
        )
        if file is None:
            st.info(
                "Upload a table, pick its target column and check the column roles before training."
            )
        else:
            upload_bytes = file.getvalue()
            try:
                first = dashboard.inspect_upload(upload_bytes, file.name, access=allowed)
                columns = [str(c) for c in first.frame.columns]
                target = st.selectbox("Target (the column to predict)", columns,
                                      index=columns.index(first.target), key="upload_target")  # fmt: skip
                upload = dashboard.inspect_upload(upload_bytes, file.name, target, access=allowed)
            except RecsysCoreError as exc:  # names the file, its columns and values: text, not Markdown
                st.error(md_text(exc))
        if upload is not None:
            st.caption(f"**{md_text(upload.name)}**: {len(upload.frame):,} rows × {len(upload.frame.columns)} columns. "
                       "Check the inferred role of each column (and its group for the heatmap axes), then train.")  # fmt: skip
            schema = st.data_editor(
                upload.editable_schema(),
                key=f"schema_{upload.name}_{len(upload_bytes)}_{upload.target}",
                hide_index=True,
                disabled=["column", "kind", "distinct", "missing", "example", "reason"],
                column_config={
                    "role": st.column_config.SelectboxColumn(
                        "role", options=list(ROLES), required=True
                    ),
                    "group": st.column_config.SelectboxColumn(
                        "group", options=["context", "user", "item"]
                    ),
                },
            )
            threshold = st.number_input("Binary threshold (binary task: label = target ≥ this; empty: the target is 0/1)",
                                        value=None, format="%g", key="upload_threshold")  # fmt: skip
            with st.expander("First rows"):
                st.dataframe(upload.frame.head(20), hide_index=True)
    # Outside the form: picking a model must redraw its hyper-parameters at once.
    names = sorted(MODELS)
    query = PageQuery(st.query_params.to_dict())  # an unknown ?model= says so (recsys_core.query)
    wanted = query.choice("model", names, "dlrm", "model")
    if query.message:
        st.warning(md_text(query.message), icon=":material/link_off:")
    model = st.selectbox(
        "Model",
        names,
        index=names.index(wanted),
        format_func=lambda m: MODELS[m].title,
    )
    st.query_params["model"] = model
    st.caption(MODELS[model].description)
    with st.form("train"):
        left, right = st.columns(2)
        with left:
            task = st.radio("Task", ["regression", "binary"], horizontal=True,
                            help="regression: predict the rating (RMSE, MAE); binary: rating ≥ 4 as a click (AUC, log loss)")  # fmt: skip
            if source == MOVIELENS:
                features = st.radio("Features", ["default", "tutorial"], horizontal=True,
                                    help="tutorial: exactly the keras-rs DLRM tutorial's features; default adds the genres")  # fmt: skip
            refit = st.checkbox(
                "Refit on all training rows",
                value=RunConfig.refit,
                help="After early stopping picks the epoch count on the validation part (10 % of the "
                "training rows), train again from the same seed on every training row for that many "
                "epochs. Lower test error (MovieLens: DLRM 0.95 → 0.92 RMSE), about twice the time.",
            )
        with right:
            epochs = st.number_input(
                "Epochs (at most; early stopping on validation)", 1, 200, defaults.epochs
            )
            batch_size = st.number_input("Batch size", 32, 65536, defaults.batch_size, step=256)
            lr = st.number_input("Learning rate", 1e-5, 1.0, defaults.learning_rate, format="%.5f")
            seed = st.number_input("Seed", 0, 2**31 - 1, defaults.seed)
            trials = st.number_input("Trials (seeds seed, seed+1, …; mean ± std)", 1, 10, 1)
        st.markdown("**Model hyper-parameters** (defaults shown; hover a ? for what each does)")
        values = {}
        present = [g for g in HPARAM_GROUPS if any(h.group == g for h in MODELS[model].hparams)]
        slots = [c for _ in range(0, len(present), 2) for c in st.columns(2)]  # two groups a row
        for group, column in zip(present, slots, strict=False):
            column.caption(group)
            for h in (h for h in MODELS[model].hparams if h.group == group):
                key = f"hp_{model}_{h.name}"
                if h.kind == "choice":
                    values[h.name] = column.selectbox(
                        h.name, h.choices, index=h.choices.index(h.default), help=h.help, key=key
                    )
                elif h.kind == "ints":
                    values[h.name] = column.text_input(
                        h.name, ",".join(map(str, h.default)), help=h.help, key=key
                    )
                elif h.kind == "float":
                    values[h.name] = column.number_input(
                        h.name, value=float(h.default), format="%.6f", help=h.help, key=key
                    )
                else:
                    values[h.name] = column.number_input(
                        h.name, value=int(h.default), step=1, help=h.help, key=key
                    )
        submitted = st.form_submit_button("Start training", type="primary")

    if submitted:
        try:
            config = RunConfig(
                model=model,
                task=task,
                features=features if source == MOVIELENS else "table",
                hparams=resolve_hparams(model, values),
                refit=bool(refit),
                train=TrainConfig(
                    epochs=int(epochs),
                    batch_size=int(batch_size),
                    learning_rate=float(lr),
                    seed=int(seed),
                ),
            )
            upload_file = None
            if source == UPLOAD:
                if upload is None or schema is None:
                    raise RecsysCoreError(
                        "Upload a CSV or Parquet table first (or pick MovieLens 100K)."
                    )
                roles, groups = dashboard.schema_choices(schema)
                user = dashboard.prepare_upload(upload_bytes, upload.name, upload.target, task, roles,
                                                groups, threshold, access=allowed)  # fmt: skip
                config = dataclasses.replace(config, dataset="table", data=user.run_data())
                upload_file = (upload_bytes, upload.name)
            queued = dashboard.submit_training(
                config, int(trials), owner, access=allowed, upload=upload_file
            )
            st.query_params["job"] = queued[0].job_id
            st.toast(f"Training {MODELS[model].title} in the background ({len(queued)} job(s)).")
        except RecsysCoreError as exc:
            st.error(md_text(exc))



def waiting_text(ahead: int | None) -> str:
    if not ahead:
        return "next to start"
    return (
        f"waiting, {ahead} job{'s' if ahead > 1 else ''} ahead ({jobs.max_workers} train at once)"
    )


def job_card(job, mine: bool) -> None:
    cfg = job.run_config
    done = len(job.epochs)
    with st.container(border=True):
        progress = (
            waiting_text(jobs.position(job.job_id))
            if job.state == "queued"
            else f"epoch {done}/{cfg.train.epochs}"
            + (f" · refit on all training rows {job.refit[0]}/{job.refit[1]}" if job.refit else "")
            + f" · {job.elapsed:.1f} s"
            + (f" · ~{job.eta:.0f} s left" if job.state == "running" and job.eta else "")
        )
        st.markdown(
            f"**{MODELS[cfg.model].title}** · {cfg.task} · "
            + (f"{md_text(cfg.data['name'])} · " if cfg.data.get("name") else "")
            + f"job `{job.job_id}`{' (yours)' if mine else ''} · **{job.state}** · {progress}"
        )
        if job.active and allowed.may_train:
            if job.cancel_requested:
                st.caption("cancelling: it stops after the current epoch")
            elif st.button("Cancel", key=f"cancel_{job.job_id}"):
                dashboard.cancel_job(job, access=allowed)
        if job.state == "running":
            st.progress(job.refit[0] / job.refit[1] if job.refit else done / cfg.train.epochs)
        if job.epochs:
            st.plotly_chart(
                training_curves_figure(job.epochs, stacked=True), key=f"curve_{job.job_id}_{done}"
            )
        if job.state == "done":
            stopped = (
                f" Early stopping chose epoch {job.best_epoch}"
                + (", then the model was refitted on all training rows." if job.refit else ".")
                if done < cfg.train.epochs or job.refit
                else ""
            )
            st.success(f"Saved as run `{job.run_id}`.{stopped}")
            verdict = Verdict.from_dict(job.health) if job.health else None
            if verdict is not None and verdict.warns:
                st.warning(md_text(map_warning(verdict)), icon=":material/warning:")
            elif verdict is not None:
                st.caption(md_text(health_line(verdict)))
            st.page_link("../pages/interactions.py", label="Open its interactions", icon=":material/grid_on:",
                         query_params={"run": job.run_id})  # fmt: skip
            st.page_link("../pages/run.py", label="Open its run page", icon=":material/description:", query_params={"id": job.run_id})  # fmt: skip
        elif job.state == "failed":
            st.error(md_text(job.error))
        elif job.state == "cancelled":
            st.warning("Cancelled.")


@st.fragment(run_every=1.0)
def job_panel() -> None:
    everyone = jobs.jobs(kind="train")
    if not jobs.workers() and any(j.active for j in everyone):
        st.warning(
            "No worker is running, so queued jobs wait: start the dashboard with "
            "`recsys-core serve` (or run `recsys-core worker` beside it).",
            icon=":material/pending:",
        )
    if not everyone:
        st.info("No training jobs yet. Set the options above and press **Start training**.")
        return
    active = [j for j in everyone if j.active]
    recent = [j for j in everyone if not j.active][: max(0, 10 - len(active))]
    st.caption(
        f"{sum(j.state == 'running' for j in active)} running, "
        f"{sum(j.state == 'queued' for j in active)} queued · the newest finished jobs below · "
        "jobs keep running when you leave or reload this page"
    )
    for group in dict.fromkeys(j.group for j in everyone if j.group):
        members = [j for j in everyone if j.group == group]
        summary = jobs.group_summary(group)
        if summary:
            stats = " · ".join(f"{k} {m:.4f} ± {s:.4f}" for k, (m, s) in summary.items())
            title = MODELS[members[0].run_config.model].title
            st.success(f"{len(members)} trials of {title}: test {stats}")
    for job in sorted(active, key=lambda j: j.created) + recent:
        job_card(job, job.owner == owner or (allowed.user is not None and job.user == allowed.user))


with jobs_col:
    st.subheader("Jobs")
    job_panel()
