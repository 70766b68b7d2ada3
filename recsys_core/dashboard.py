"""What the dashboard pages share: the run store, the job queue and cached analyses.

Pages only lay out what these functions return; everything here is plain ``recsys_core``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recsys_core.access import Access, server_side
from recsys_core.analysis import saved
from recsys_core.analysis.columns import DEFAULT_GRANULARITY, check_granularity
from recsys_core.analysis.compare import (
    MAX_RUNS,
    MIN_RUNS,
    Comparison,
    RunFacts,
    comparability,
    compare_maps,
    difference,
    on_common_fields,
)
from recsys_core.analysis.matrix import InteractionMatrix
from recsys_core.analysis.native import ViewResult
from recsys_core.analysis.native.base import view_result_from_dict
from recsys_core.analysis.native.cross import (
    CrossSpectrum,
    CrossStructure,
    FullCrossMatrix,
    cross_spectrum,
    cross_structure,
    expert_block_norms,
    full_cross_matrix,
)
from recsys_core.analysis.noise import has_floor, settle
from recsys_core.analysis.pair_detail import PairDetail
from recsys_core.analysis.units import score_unit
from recsys_core.analysis.views import (
    METHOD_TITLES,
    AnalysisMenu,
    analysis_menu,
    interaction_matrix,
    pair_detail_of_run,
)
from recsys_core.compile_cache import OFF
from recsys_core.data.user_table import UserTable, build_user_table, read_table
from recsys_core.errors import RecsysCoreError, RunStoreError
from recsys_core.features.infer import InferredSchema, infer_schema, suggest_target
from recsys_core.runs import seeds
from recsys_core.runs.annotations import Annotations
from recsys_core.runs.store import RunStore, SavedRun
from recsys_core.runs.validate import check_model_archive
from recsys_core.service import probe
from recsys_core.service.jobs import Job, JobQueue
from recsys_core.service.run_page import RunSummary, summarize_run
from recsys_core.training.health import Verdict, mark, verdict_of_run
from recsys_core.training.pipeline import RunConfig

log = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def job_manager() -> JobQueue:
    """The job queue of the run store (``$RECSYS_CORE_RUNS``), shared by every session, tab and
    replica; worker processes run its jobs (``recsys-core serve`` / ``recsys-core worker``)."""
    return JobQueue()


def store() -> RunStore:
    return job_manager().store


def _require(access: Access | None, action: str) -> None:
    """Refuse ``action`` unless ``access`` (default: a caller with no session) allows it; pages pass
    their session's :func:`recsys_core.access.from_streamlit`, so a crafted request cannot train."""
    (access if access is not None else server_side()).require(action)


def submit_training(
    config: RunConfig,
    trials: int = 1,
    owner: str = "",
    table: pd.DataFrame | None = None,
    spec: Any = None,
    access: Access | None = None,
    upload: tuple[bytes, str] | None = None,
) -> list[Job]:
    """Queue ``trials`` runs of ``config`` for the workers, if ``access`` may train.

    ``upload`` is an uploaded file's ``(bytes, name)`` (``config.data`` from :func:`prepare_upload`
    says how to read it); ``table`` a table in memory (with ``spec`` for ``dataset="table"``),
    handed to the workers as Parquet.
    """
    _require(access, "train")
    from recsys_core.features.spec import FeatureSpec
    from recsys_core.training.pipeline import check_run

    given = config.data.get("spec")
    check_run(config, spec or (FeatureSpec.from_dict(given) if given else None))  # before the wait
    queue = job_manager()
    file = None
    if upload is not None:
        file = queue.save_upload(*upload)
    elif table is not None:
        if spec is not None and "spec" not in config.data:
            config = dataclasses.replace(config, data={**config.data, "spec": spec.to_dict()})
        file = queue.save_upload(table.to_parquet(index=False), "table.parquet")
    return queue.submit_trials(config, trials, owner=owner, upload=file, access=access)


def queue_position(job: Job) -> int | None:
    """How many jobs run or wait ahead of a queued ``job`` (None once it runs)."""
    return job_manager().position(job.job_id)


def cancel_job(job: Job, access: Access | None = None) -> None:
    """Ask a queued or running job to stop, if ``access`` may train."""
    job_manager().cancel(job.job_id, access=access)


def delete_run(run_id: str, access: Access | None = None) -> None:
    """Delete a saved run for everyone (atomic: renamed away first), if ``access`` may delete."""
    _require(access, "delete")
    store().delete(run_id)
    for cache in (_cached_run, _cached_matrix, _cached_menu, _cached_pair, _cached_grid):
        cache.cache_clear()


def run_label(run_id: str, names: dict[str, str]) -> str:
    """How a run is called in pickers and links: its name with its id, or its id."""
    name = names.get(run_id)
    return f"{name} · {run_id}" if isinstance(name, str) and name else run_id


def runs_table() -> pd.DataFrame:
    """Saved runs with readable columns, newest first."""
    frame = store().list()
    if frame.empty:
        return frame
    if "error" in frame:
        frame = frame[frame["error"].isna()].drop(columns="error")
    cols = [c for c in ("run_id", "name", "model", "task", "dataset", "health", "test_rmse", "test_mae", "test_auc", "test_log_loss",
                        "params", "epochs", "train_seconds", "created") if c in frame]  # fmt: skip
    _warm_up(frame)
    return frame[cols]


def broken_runs() -> pd.DataFrame:
    """Runs in the store that cannot be opened, with the reason (``run_id``, ``reason``): Home
    lists them apart, so one damaged or hand-edited run folder never hides the others."""
    frame = store().list()
    if frame.empty or "error" not in frame:
        return pd.DataFrame({"run_id": pd.Series(dtype=str), "reason": pd.Series(dtype=str)})
    broken = frame[frame["error"].notna()].sort_values("run_id")
    return broken[["run_id", "error"]].rename(columns={"error": "reason"}).reset_index(drop=True)


@lru_cache(maxsize=16)
def _cached_run(run_id: str, mtime: float) -> SavedRun:
    return store().open(run_id)


_load_locks: dict[str, threading.RLock] = {}
_locks_guard = threading.Lock()
_open_guard = threading.Lock()


def _load_lock(run_id: str) -> threading.RLock:
    with _locks_guard:
        return _load_locks.setdefault(run_id, threading.RLock())


def _mtime(run_id: str) -> float:
    """When the run was written (its run.json; 0 when gone): keys the caches, so a run deleted and
    written again under the same id is read afresh, while saved analyses added to its folder
    later do not make the server load its model again."""
    try:
        return (store().path_of(run_id) / "run.json").stat().st_mtime
    except FileNotFoundError:
        return 0.0


def _saved(run_id: str, mtime: float, model: bool = True) -> SavedRun:
    """The cached run, with its model loaded unless ``model`` is False. One thread at a time per
    run: a page that needs a model the warm-up (or another session) is loading waits for that load
    instead of building the same model a second time."""
    with _open_guard:  # one SavedRun per run and mtime; reading run.json takes milliseconds
        run = _cached_run(run_id, mtime)
    if model:  # a page that needs no model (its maps are saved) never waits for a model load
        with _load_lock(run_id):
            if run._model is None:  # loaded in a child process first: an abort there is contained
                check_model_archive(run.path / "model.keras", run_id)  # what it can tell statically
                probe.ensure_loadable(run.path, run_id)
            run.model  # noqa: B018  (loads model.keras once; RunStoreError when it cannot)
    return run


def open_run(run_id: str) -> SavedRun:
    """The saved run with its model loaded once per server process (keyed on the folder's mtime)."""
    return _saved(run_id, _mtime(run_id))


# --- Warm-up: a fresh server process loads the models the pages open first in the background ---
#
# Loading a saved model takes seconds in a process that has not built that architecture yet (5-10 s
# on a busy 2-core machine): Keras rebuilds it, running every variable's random initializer (dozens
# of small XLA compilations, each too quick for the persistent compilation cache) before the saved
# weights replace them. That was most of the first switch to a run's page (Interactions 6.5-7.3 s
# against 0.2-0.4 s for later visits; benchmarks/bench_page_switch.py). So the first listing of a
# store starts one background thread that loads the runs the pages show by default (and queues a
# worker job for the first maps of the newest runs where none are saved, see ``precompute``); a page that
# comes sooner waits for that load (``_saved``) rather than repeating it.
# ``$RECSYS_CORE_WARM_UP=0`` turns it off.
WARM_UP_RUNS = 4  # the newest two runs (Interactions, Compare), newest attention and cross runs
_warmed: set[str] = set()


def _warm_up_on() -> bool:
    """``$RECSYS_CORE_WARM_UP`` (default on): load the newest runs' models when a server starts,
    and compute a new run's first maps right after training."""
    return os.environ.get("RECSYS_CORE_WARM_UP", "").strip().lower() not in OFF


def _runs_with_view(frame: pd.DataFrame, view: str) -> list[str]:
    """Runs of ``frame`` whose model class registers the native view ``view``, in its order."""
    from recsys_core.analysis.native.base import view_names_of_class
    from recsys_core.models.registry import MODELS

    return [
        run_id
        for run_id, model in zip(frame["run_id"], frame["model"], strict=True)
        if model in MODELS and view in view_names_of_class(MODELS[model].cls)
    ]


def _warm_up(frame: pd.DataFrame) -> None:
    """Start loading, once per store and process, the models of the runs the pages open first."""
    if frame.empty or not _warm_up_on():
        return
    root = str(store().root.resolve())
    with _locks_guard:
        if root in _warmed:
            return
        _warmed.add(root)
    # the newest two runs (Interactions, Compare) and the newest attention run: their first maps
    mapped = frame["run_id"].tolist()[:2] + _runs_with_view(frame, "attention")[:1]
    ids = list(dict.fromkeys(mapped + _runs_with_view(frame, "cross_data")[:1]))[:WARM_UP_RUNS]

    def load() -> None:
        for run_id in ids:
            if str(store().root.resolve()) != root:
                return  # the dashboard was pointed at another store meanwhile
            try:
                if run_id in mapped and not first_maps_saved(run_id):
                    job_manager().submit_maps(run_id)  # computed by a worker, not in the server
                open_run(run_id)
            except Exception as exc:  # the page that opens the run reports it
                log.debug("warm-up: run %s not loaded (%s)", run_id, exc)

    # Not a daemon: exiting while XLA compiles in a daemon thread can crash the interpreter.
    threading.Thread(target=load, name="recsys-core-warm-up").start()


def _persisted(
    run_id: str,
    mtime: float,
    key: dict,
    compute: Callable[[SavedRun], Any],
    encode: Callable[[Any], dict],
    decode: Callable[[dict], Any],
) -> Any:
    """``compute(run)``, or what an earlier call saved beside the run under ``key``: a restarted
    dashboard draws such a map without loading the model (``analysis.saved``)."""
    run = _saved(run_id, mtime, model=False)
    found = saved.load_as(run.path, key, decode)
    if found is None and key.get("row") is None:  # a first map a worker may be computing now
        found = _from_worker(run_id, lambda: saved.load_as(run.path, key, decode))
    if found is not None:  # maps saved before verdicts existed get their run's warning too
        return settle(mark(found, verdict_of_run(run.meta)))
    result = compute(_saved(run_id, mtime))
    saved.save(run.path, key, encode(result))
    return settle(mark(result, verdict_of_run(run.meta)))  # the noise verdict says it too


@lru_cache(maxsize=128)
def _cached_matrix(
    run_id: str, method: str, row: int | None, view: str | None, layer: int | None,
    head: int | None, mtime: float, fields: str = DEFAULT_GRANULARITY,
) -> ViewResult:  # fmt: skip
    fields = check_granularity(fields)
    return _persisted(
        run_id,
        mtime,
        saved.result_key(method, row, view, layer, head, fields),
        lambda run: interaction_matrix(
            run, method, row=row, view=view, layer=layer, head=head, noise=True, fields=fields
        ),
        lambda result: result.to_dict(),
        _with_floor,
    )


def _with_floor(payload: dict) -> ViewResult:
    """A saved map as the pages draw it: with its noise floor (``analysis.noise``). One saved
    without it (by a script) is refused, so the dashboard computes and saves it again."""
    result = view_result_from_dict(payload)
    if has_floor(result) and "noise" not in result.extra:
        raise ValueError("saved without its noise floor")
    return result


def run_matrix(
    run_id: str,
    method: str = "native",
    row: int | None = None,
    view: str | None = None,
    layer: int | None = None,
    head: int | None = None,
    fields: str = DEFAULT_GRANULARITY,
) -> ViewResult:
    """The run's matrix (or per-field scores), computed once per run and choice of view, layer,
    head, row and ``fields`` granularity of a model-agnostic map (``analysis.columns``), keyed on
    the run folder's mtime."""
    fields = DEFAULT_GRANULARITY if method == "native" else fields  # native: the model's fields
    return _cached_matrix(run_id, method, row, view, layer, head, _mtime(run_id), fields)


@lru_cache(maxsize=64)
def _cached_pair(
    run_id: str, a: str, b: str, mtime: float, fields: str = DEFAULT_GRANULARITY
) -> PairDetail:
    return pair_detail_of_run(_saved(run_id, mtime), a, b, fields)


def run_pair_detail(run_id: str, a: str, b: str, fields: str = DEFAULT_GRANULARITY) -> PairDetail:
    """The pair's signed contributions over the run's held-out rows (cached per run, pair and
    ``fields`` granularity: the names a map of that granularity shows)."""
    return _cached_pair(run_id, a, b, _mtime(run_id), fields)


@lru_cache(maxsize=64)
def _cached_menu(run_id: str, mtime: float) -> AnalysisMenu:
    return _persisted(
        run_id, mtime, {"what": "menu"}, analysis_menu, AnalysisMenu.to_dict, AnalysisMenu.from_dict
    )


def run_menu(run_id: str) -> AnalysisMenu:
    """The run's analysis methods and native views (saved beside the run: no model once known)."""
    return _cached_menu(run_id, _mtime(run_id))


def run_methods(run_id: str) -> dict[str, str]:
    """The analysis methods the run's model supports, with their titles, native first."""
    return dict(run_menu(run_id).methods)


WORKER_MAPS_WAIT_S = 60.0  # longer than a worker's first maps take; then the page computes


def _from_worker(run_id: str, read: Callable[[], Any]) -> Any:
    """What ``read`` finds once the worker's first-maps job for ``run_id`` (if one is queued or
    running: the warm-up asked for it) has saved it, rather than computing the same map here at
    the same time; None when there is no such job, or it ends or takes too long without it."""
    if probe.contained:
        return None  # this process is a worker's job: maybe that very job
    queue = job_manager()
    deadline = time.monotonic() + WORKER_MAPS_WAIT_S
    while time.monotonic() < deadline:
        pending = [
            j for j in queue.jobs(kind="maps") if j.active and (j.call or {}).get("run_id") == run_id
        ]
        if not pending or (pending[0].state == "queued" and not queue.workers()):
            return None
        time.sleep(0.1)
        found = read()
        if found is not None:
            return found
    return None


def first_maps_saved(run_id: str) -> bool:
    """Whether the maps :func:`precompute` makes are saved beside the run (its menu and TII)."""
    path = store().path_of(run_id)
    return (
        saved.load(path, {"what": "menu"}) is not None
        and saved.load(path, saved.result_key("tii")) is not None
    )


def precompute(run_id: str) -> None:
    """Compute and save the maps a run's pages open with: its menu, its primary native view (first
    layer and head, as the Interactions page opens it), its TII (Compare's default) and, for an
    attention model, the Attention page's maps."""
    menu = run_menu(run_id)
    if menu.views:
        first = menu.views[0]
        layer = 0 if "layer" in first.options else None
        head = 0 if "head" in first.options else None
        run_matrix(run_id, "native", view=first.name, layer=layer, head=head)
    run_matrix(run_id, "tii")
    if "attention" in menu.view_names():
        run_attention_maps(run_id)


def published_leaderboards() -> dict[str, pd.DataFrame]:
    """The committed MovieLens leaderboards (``docs/leaderboard-<task>.csv``), by task."""
    roots = [Path.cwd() / "docs", Path(__file__).resolve().parents[1] / "docs"]
    found: dict[str, pd.DataFrame] = {}
    for root in roots:
        for path in sorted(root.glob("leaderboard-*.csv")):
            task = path.stem.removeprefix("leaderboard-")
            if task not in found:
                found[task] = pd.read_csv(path)
    return found


def submit_trust_check(
    model: str,
    table: str,
    seed: int = 0,
    n_rows: int = 20_000,
    task: str = "regression",
    owner: str = "",
    access: Access | None = None,
) -> Job:
    """Queue a planted-interaction check (``analysis.planted_check``) for the workers, if
    ``access`` may train (a check trains a model)."""
    task = "regression" if table == "dcn" else task  # the polynomial is a regression table
    call = {"model_name": model, "table_kind": table, "seed": seed, "n_rows": n_rows, "task": task}
    label = f"{model} on planted {table}, {task}, {n_rows:,} rows (seed {seed})"
    return job_manager().submit_check(label, call, owner, access=access)


# --- Train page, "Upload a table": the upload path as plain functions of the file's bytes and name ---


@dataclass
class UploadPreview:
    """An uploaded table as read, the target (given or suggested) and the inferred schema."""

    name: str
    frame: pd.DataFrame
    target: str
    schema: InferredSchema

    def editable_schema(self) -> pd.DataFrame:
        """The schema without the target row: what the page lets the user edit (role, group)."""
        table = self.schema.table
        return table[table["role"] != "target"].reset_index(drop=True)


@lru_cache(maxsize=2)
def _read_upload(name: str, data: bytes) -> pd.DataFrame:
    return read_table(data, name=name)


def inspect_upload(
    data: bytes, name: str, target: str | None = None, access: Access | None = None
) -> UploadPreview:
    """Read an uploaded CSV / Parquet file (cached) and infer its schema for predicting ``target``
    (default: a column named like a label, else the last column), if ``access`` may upload."""
    _require(access, "upload")
    df = _read_upload(name, data)
    target = target if target in df.columns else suggest_target(df)
    return UploadPreview(name, df, target, _upload_schema(name, data, target))


@lru_cache(maxsize=4)
def _upload_schema(name: str, data: bytes, target: str) -> InferredSchema:
    return infer_schema(_read_upload(name, data), target)


def prepare_upload(
    data: bytes,
    name: str,
    target: str,
    task: str = "regression",
    roles: dict[str, str] | None = None,
    groups: dict[str, str] | None = None,
    binary_threshold: float | None = None,
    access: Access | None = None,
) -> UserTable:
    """The uploaded table checked and prepared with the roles the user confirmed, ready to train
    (if ``access`` may upload)."""
    _require(access, "upload")
    df = _read_upload(name, data)
    out = build_user_table(df, target, task, binary_threshold, roles, groups, name=name)
    out.info["sha256"] = hashlib.sha256(data).hexdigest()
    return out


def schema_choices(edited: pd.DataFrame) -> tuple[dict[str, str], dict[str, str]]:
    """(roles, groups) from the page's edited schema table."""
    roles = dict(zip(edited["column"], edited["role"].fillna("ignore"), strict=True))
    groups = {
        c: g
        for c, g, r in zip(edited["column"], edited["group"], edited["role"], strict=True)
        if isinstance(g, str) and g and g != "context" and r != "ignore"
    }
    return roles, groups


def run_health(run_id: str) -> Verdict:
    """Did the run learn (``training.health``): its saved verdict, or what its history tells."""
    return verdict_of_run(_saved(run_id, _mtime(run_id), model=False).meta)


@lru_cache(maxsize=64)
def _cached_holdout_rows(run_id: str, mtime: float) -> int:
    import pyarrow.parquet as pq

    path = _saved(run_id, mtime, model=False).path / "holdout.parquet"
    try:
        return int(pq.ParquetFile(path).metadata.num_rows)
    except Exception as exc:  # missing or damaged: say which file, not where it is
        raise RunStoreError(
            f"run {run_id!r}: holdout.parquet cannot be read ({type(exc).__name__})."
        ) from exc


def holdout_rows(run_id: str) -> int:
    """How many held-out rows the run keeps (per-row views take rows 0 to this - 1), from the
    Parquet footer: pages bound their row inputs and ``?row=`` with it, without reading the rows."""
    return _cached_holdout_rows(run_id, _mtime(run_id))


def run_data(run_id: str) -> dict:
    """What a run recorded about its data (a user's table: file name, rows, target, schema)."""
    meta = _saved(run_id, _mtime(run_id), model=False).meta
    return dict(meta.get("config", {}).get("data") or {})


def compare_runs(
    run_a: str, run_b: str, method: str = "tii", view: str | None = None, order: str = "group"
) -> tuple[InteractionMatrix, InteractionMatrix, InteractionMatrix]:
    """Two runs' matrices on the fields they share, in run A's ``order``, and their difference."""
    first = run_matrix(run_a, method, view=view)
    second = run_matrix(run_b, method, view=view)
    if not isinstance(first, InteractionMatrix) or not isinstance(second, InteractionMatrix):
        raise RecsysCoreError("per-field views have no field x field matrix to compare.")
    a, b = on_common_fields(first.ordered(order), second)
    return a, b, difference(a, b)


def run_facts(run_id: str) -> RunFacts:
    """The run's data set, task and score unit (``analysis.units``), read without its model."""
    run = _saved(run_id, _mtime(run_id), model=False)
    meta = run.meta
    dataset = (meta.get("config", {}).get("data") or {}).get("name") or meta.get("dataset")
    return RunFacts(run_id, str(dataset), str(meta.get("task")), score_unit(run.preprocessor.spec))


def seeds_of_one_config(run_ids: Sequence[str]) -> bool:
    """Whether the runs are seeds of one configuration (``runs.seeds``): equal configs apart from
    their seeds, each seed once."""
    metas = [_saved(r, _mtime(r), model=False).meta for r in run_ids]
    return seeds.seeds_of_one_config(metas)


def seed_group(run_id: str) -> list[str]:
    """The saved runs of ``run_id``'s configuration apart from the seed (itself included), by seed."""
    return seeds.seed_group(store(), run_id)


def compare_many(
    run_ids: Sequence[str], method: str = "tii", view: str | None = None, order: str = "group"
) -> Comparison:
    """2 to 6 runs' maps of one method compared (``analysis.compare.compare_maps``): refused when
    they differ in task or units, warned of when in data set; with their stability across seeds
    when they are seeds of one configuration. Each map is the cached one of its run."""
    run_ids = list(run_ids)
    if not MIN_RUNS <= len(run_ids) <= MAX_RUNS:
        raise RecsysCoreError(f"compare {MIN_RUNS} to {MAX_RUNS} runs, got {len(run_ids)}.")
    facts = [run_facts(r) for r in run_ids]
    comparability(facts)  # before any map is computed: a refusal costs nothing
    maps = [run_matrix(r, method, view=view) for r in run_ids]
    if not all(isinstance(m, InteractionMatrix) for m in maps):
        raise RecsysCoreError("per-field views have no field x field matrix to compare.")
    return compare_maps(maps, run_ids, facts, order, seeds=seeds_of_one_config(run_ids))


def common_methods(*run_ids: str) -> dict[str, str]:
    """Methods every run supports (native only when they share a native view name)."""
    shared = [m for m in run_methods(run_ids[0]) if all(m in run_methods(r) for r in run_ids[1:])]
    return {m: METHOD_TITLES[m] for m in shared}


def common_native_views(*run_ids: str) -> list[str]:
    """Native matrix views every run's model has, by name, in the first run's order."""
    others = [set(run_menu(r).view_names("matrix")) for r in run_ids[1:]]
    return [n for n in run_menu(run_ids[0]).view_names("matrix") if all(n in o for o in others)]


def search_holdout(run_id: str, text: str, limit: int = 50) -> pd.DataFrame:
    """Held-out rows whose id columns equal ``text`` or whose text columns contain it
    (case-insensitive), indexed by their held-out row number (what per-row views take)."""
    rows = _saved(run_id, _mtime(run_id), model=False).holdout()
    needle = text.strip().lower()
    if not needle:
        return rows.head(limit)
    hit = pd.Series(False, index=rows.index)
    for col in rows.columns:
        is_id = col.endswith("_id")
        if not is_id and rows[col].dtype.kind in "biufcmM":
            continue  # ratings, ages, timestamps: a substring match there is noise
        cells = (
            rows[col]
            .map(
                lambda v: (
                    " ".join(map(str, v)) if isinstance(v, (list, tuple, np.ndarray)) else str(v)
                )
            )
            .str.lower()
        )
        hit |= (cells == needle) if is_id else cells.str.contains(needle, regex=False)
    return rows[hit].head(limit)


def attention_runs() -> list[str]:
    """Runs whose model has an attention view (AutoInt's self-attention, AFM's pair attention)."""
    frame = runs_table()
    return [] if frame.empty else _runs_with_view(frame, "attention")


@lru_cache(maxsize=32)
def _cached_grid(run_id: str, row: int | None, mtime: float) -> list[InteractionMatrix]:
    from recsys_core.analysis.native.attention import attention_grid

    return _persisted(
        run_id,
        mtime,
        {"what": "attention_grid", "row": row},
        lambda run: attention_grid(run.model, run.preprocessor, run.holdout(), row=row),
        lambda maps: {"maps": [m.to_dict() for m in maps]},
        lambda payload: [InteractionMatrix.from_dict(m) for m in payload["maps"]],
    )


def run_attention_grid(run_id: str, row: int | None = None) -> list[InteractionMatrix]:
    """Every layer x head attention map of an AutoInt run, averaged or for held-out row ``row``."""
    return _cached_grid(run_id, row, _mtime(run_id))


@dataclass
class AttentionMaps:
    """What the Attention page draws: maps, one title each, laid out ``cols`` to a row."""

    maps: list[InteractionMatrix]
    titles: list[str]
    cols: int


def run_attention_maps(run_id: str, row: int | None = None) -> AttentionMaps:
    """AFM's pair attention, or every layer x head map of an AutoInt run (one head per column)."""
    if _saved(run_id, _mtime(run_id), model=False).meta["model"] == "afm":
        matrix = run_matrix(run_id, "native", row, view="attention")
        return AttentionMaps([matrix], ["pair attention"], 1)
    maps = run_attention_grid(run_id, row)
    titles = [f"layer {m.extra['layer'] + 1} · head {m.extra['head'] + 1}" for m in maps]
    return AttentionMaps(maps, titles, max(m.extra.get("head", 0) for m in maps) + 1)


# --- Cross weights page: DCN / DCN-V2 runs, their cross layers, full |W|, spectra, experts ---


def cross_runs() -> list[str]:
    """Runs whose model has a cross network (DCN, DCN-V2 and its keras-io presets, DCN-Mix)."""
    frame = runs_table()
    return [] if frame.empty else _runs_with_view(frame, "cross_data")


def run_cross_structure(run_id: str) -> CrossStructure:
    """The run's cross network: parametrisation, number of layers, width d, rank, diag_scale."""
    return cross_structure(open_run(run_id).model)


def run_cross_layers(run_id: str, view: str) -> list[ViewResult]:
    """The native cross view ``view`` for every cross layer of the run (cached per layer)."""
    layers = run_cross_structure(run_id).layers
    return [run_matrix(run_id, "native", view=view, layer=k) for k in range(layers)]


@lru_cache(maxsize=16)
def _cached_full_cross(run_id: str, layer: int, mtime: float) -> FullCrossMatrix:
    return full_cross_matrix(_saved(run_id, mtime).model, layer)


def run_full_cross(run_id: str, layer: int) -> FullCrossMatrix:
    """One cross layer's d x d |W| with its field blocks (refused above d = FULL_LIMIT)."""
    return _cached_full_cross(run_id, int(layer), _mtime(run_id))


@lru_cache(maxsize=16)
def _cached_spectrum(run_id: str, mtime: float) -> CrossSpectrum:
    return cross_spectrum(_saved(run_id, mtime).model)


def run_cross_spectrum(run_id: str) -> CrossSpectrum:
    """Singular values of every cross layer's W (from the factors for low-rank layers)."""
    return _cached_spectrum(run_id, _mtime(run_id))


@lru_cache(maxsize=16)
def _cached_experts(run_id: str, layer: int, mtime: float) -> list[InteractionMatrix]:
    run = _saved(run_id, mtime)
    return mark(expert_block_norms(run.model, layer, run.preprocessor), verdict_of_run(run.meta))


def run_expert_blocks(run_id: str, layer: int) -> list[InteractionMatrix]:
    """DCN-Mix: each expert's block norms of cross layer ``layer`` (gate-free, linearised)."""
    return _cached_experts(run_id, int(layer), _mtime(run_id))


def run_report_html(run_id: str) -> bytes:
    """The one-file HTML report of a run (config, metrics, curves, every map with its meaning)."""
    from recsys_core.viz.report import run_report

    return run_report(open_run(run_id)).encode("utf-8")


# --- Run page and Home's run browser (recsys_core.service.run_page / run_browser) ---


def run_catalogue() -> pd.DataFrame:
    """Every run that can be opened, with its name, tags, link and model title, newest first (Home
    and the run page list from it; the first listing of a store starts the warm-up)."""
    from recsys_core.service.run_browser import catalogue

    frame = catalogue(store())
    _warm_up(frame)
    return frame


def run_summary(run_id: str) -> RunSummary:
    """What the run page shows of ``run_id``: read from its files, without loading its model."""
    return summarize_run(store().open(run_id))


def annotate_run(run_id: str, access: Access | None = None, **changes: Any) -> Annotations:
    """Change a run's name, tags or note (``runs.annotations.update``), if ``access`` may (viewer
    mode and the trainers list decide, as for delete); recorded as changed by its user."""
    _require(access, "annotate")
    who = access.user if access is not None else None
    return store().annotate(run_id, by=who, **changes)
