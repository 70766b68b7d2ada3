"""Home's run browser as plain functions: search, filter, sort, pages, and many runs compared.

Home used to print every run in one table that could not be searched, filtered or clicked, with a
column for every metric of every task (half of them empty). Here a listing of the run store
(:meth:`RunStore.list`) becomes what Home lays out: the runs that match a :class:`BrowseQuery`
(words searched in name, id, model, tags and data set; task, data set, health and model filters;
a sort; a page of at most ``per_page`` rows), with the metric columns of the task in view. Every
choice travels in the page's URL (:meth:`BrowseQuery.params`, read back by :func:`read_query`
through :class:`recsys_core.query.PageQuery`), so a filtered view can be bookmarked and shared.

For several runs at once: their curves (:func:`curves`), the settings in which they differ
(:func:`differences`), and the settings of one model's runs against a test metric
(:func:`settings_frame`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import pandas as pd

from recsys_core.errors import RecsysCoreError, RunStoreError
from recsys_core.query import PageQuery, quoted
from recsys_core.runs.store import RUN_ID, RunStore
from recsys_core.service.run_page import TRAIN_FLAGS, shown_value

PER_PAGE = (25, 50, 100, 200)
DEFAULT_PER_PAGE = 100
COMPARE_MAX = 12  # runs overlaid at once: more lines than this cannot be told apart
METRICS = {"regression": ("test_rmse", "test_mae"), "binary": ("test_auc", "test_log_loss")}
LOWER_IS_BETTER = {"test_rmse": True, "test_mae": True, "test_auc": False, "test_log_loss": True}
METRIC_NAMES = {"test_rmse": "RMSE", "test_mae": "MAE", "test_auc": "AUC", "test_log_loss": "log loss"}  # fmt: skip
SORTS = {  # sort key -> (column, label); metric sorts are added for the task in view
    "created": ("created", "newest first"),
    "name": ("label", "name"),
    "model": ("model", "model"),
    "params": ("params", "parameters"),
    "train_seconds": ("train_seconds", "training time"),
}
HEALTHS = ("learned", "did not learn", "diverged", "unknown")


def run_link(run_id: str) -> str:
    """The run page's URL relative to the dashboard (works under any base path)."""
    return f"run?id={run_id}"


def catalogue(store: RunStore) -> pd.DataFrame:
    """Every run that can be opened, newest first, with what the browser searches and shows:
    ``label`` (name or id), ``link`` (the run page), ``model_title`` and the listing's columns."""
    from recsys_core.models.registry import MODELS, get_entry

    get_entry("dlrm")  # registers the zoo, so titles are known
    frame = store.list()
    if frame.empty:
        return frame
    if "error" in frame:
        frame = frame[frame["error"].isna()].drop(columns="error")
    frame = frame.reset_index(drop=True)
    for col in ("name", "tags", "note", "user"):
        if col not in frame:
            frame[col] = ""
        frame[col] = frame[col].fillna("").astype(str)
    frame["label"] = [n or r for n, r in zip(frame["name"], frame["run_id"], strict=True)]
    frame["link"] = [run_link(r) for r in frame["run_id"]]
    frame["model_title"] = [MODELS[m].title if m in MODELS else str(m) for m in frame["model"]]
    return frame


@dataclass
class BrowseQuery:
    """What Home shows of the run store: every field is one URL parameter (defaults omitted)."""

    q: str = ""  # words, each found in name, id, model, tags or data set
    task: str = ""  # "" = every task
    dataset: str = ""
    health: str = ""
    model: str = ""
    sort: str = "created"
    desc: bool = True
    page: int = 1
    per: int = DEFAULT_PER_PAGE
    cmp: list[str] = field(default_factory=list)  # runs selected to compare
    hp: str = ""  # the model whose runs' settings are drawn against the test metric

    def params(self) -> dict[str, str]:
        """The URL query of this view (what ``st.query_params`` should hold)."""
        default = BrowseQuery()
        out: dict[str, str] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value == getattr(default, f.name):
                continue
            if isinstance(value, bool):
                out[f.name] = "1" if value else "0"
            elif isinstance(value, list):
                out[f.name] = ",".join(value)
            else:
                out[f.name] = str(value)
        return out


def url_changed(query: PageQuery, view: BrowseQuery) -> bool:
    """Whether the URL's browser parameters differ from ``view`` (so Home should rewrite them):
    a URL that already says what is shown is left alone, with any other parameter it carries."""
    names = {f.name for f in fields(BrowseQuery)}
    return {k: v for k, v in query.params.items() if k in names} != view.params()


def sort_options(task: str) -> dict[str, str]:
    """Sort key -> label: the general ones, and the test metrics of ``task`` when one is in view."""
    out = {k: label for k, (_col, label) in SORTS.items()}
    for metric in METRICS.get(task, ()):
        out[metric] = f"test {METRIC_NAMES[metric]}"
    return out


def read_query(query: PageQuery, frame: pd.DataFrame, store: RunStore) -> BrowseQuery:
    """Home's URL read and checked: an unknown filter value, sort or page is a problem of
    ``query`` (shown once) and falls back to its default; a selected run that no longer exists is
    dropped, with a problem that says so."""
    options = filter_options(frame)
    out = BrowseQuery(q=query.text("q"))
    out.task = query.choice("task", options["task"], None, "task") or ""
    out.dataset = query.choice("dataset", options["dataset"], None, "data set") or ""
    out.health = query.choice("health", list(HEALTHS), None, "health") or ""
    out.model = query.choice("model", options["model"], None, "model") or ""
    task_in_view = out.task or (options["task"][0] if len(options["task"]) == 1 else "")
    out.sort = (
        query.choice("sort", list(sort_options(task_in_view)), "created", "sort") or "created"
    )
    out.desc = query.flag("desc", default=out.sort in ("created", "params", "train_seconds"))
    per = query.integer("per", PER_PAGE[0], PER_PAGE[-1], DEFAULT_PER_PAGE, "rows per page")
    out.per = min(PER_PAGE, key=lambda p: abs(p - per))
    out.page = query.integer("page", 1, 10**6, 1, "page")
    out.hp = query.choice("hp", options["model"], None, "model") or ""
    ids = set(frame["run_id"]) if not frame.empty else set()
    for run_id in [r for r in query.raw("cmp").split(",") if r.strip()][:COMPARE_MAX]:
        run_id = run_id.strip()
        if run_id in ids:
            if run_id not in out.cmp:
                out.cmp.append(run_id)
        elif not RUN_ID.match(run_id):
            query.problems.append(f"{quoted(run_id)} is not a run id; it was left out of the comparison.")  # fmt: skip
        else:
            try:
                store.open(run_id)
                why = "cannot be listed"
            except RunStoreError as exc:
                why = (
                    "does not exist (it may have been deleted)"
                    if not (store.root / run_id).is_dir()
                    else str(exc)
                )
            query.problems.append(f"Run {quoted(run_id)} {why}; it was left out of the comparison.")
    return out


def filter_options(frame: pd.DataFrame) -> dict[str, list[str]]:
    """The values each filter offers: those present in the store."""
    if frame.empty:
        return {"task": [], "dataset": [], "model": [], "health": list(HEALTHS)}
    return {
        "task": sorted(frame["task"].dropna().astype(str).unique()),
        "dataset": sorted(frame["dataset"].dropna().astype(str).unique()),
        "model": sorted(frame["model"].dropna().astype(str).unique()),
        "health": list(HEALTHS),
    }


def matches(frame: pd.DataFrame, words: str) -> pd.Series:
    """Rows where every word of ``words`` is found (case-insensitive) in the name, id, model (name
    or title), tags or data set; ``tag:x`` matches a tag exactly."""
    hit = pd.Series(True, index=frame.index)
    text = (
        frame["name"].str.lower() + "\n" + frame["run_id"].str.lower() + "\n"
        + frame["model"].astype(str).str.lower() + "\n" + frame["model_title"].str.lower() + "\n"
        + frame["tags"].str.lower() + "\n" + frame["dataset"].astype(str).str.lower()
    )  # fmt: skip
    tag_sets = [{t.strip().lower() for t in tags.split(",") if t.strip()} for tags in frame["tags"]]
    for word in words.lower().split():
        if word.startswith("tag:") and len(word) > 4:
            wanted = word[4:]
            hit &= pd.Series([wanted in tags for tags in tag_sets], index=frame.index)
        else:
            hit &= text.str.contains(word, regex=False)
    return hit


@dataclass
class Browsed:
    """One page of the browser: its rows (display columns), counts and the task in view."""

    rows: pd.DataFrame
    found: pd.DataFrame  # every matching run, sorted (all pages)
    matched: int
    total: int
    page: int
    pages: int
    task: str  # the single task in view, or "" when runs of both tasks are shown
    columns: list[str]


def _test_text(row: pd.Series) -> str:
    """Mixed tasks in view: a run's test metrics as one cell ("RMSE 0.931 · MAE 0.732")."""
    parts = []
    for metric in METRICS.get(str(row.get("task")), ()):
        value = row.get(metric)
        if isinstance(value, (int, float)) and math.isfinite(value):
            parts.append(f"{METRIC_NAMES[metric]} {value:.4f}")
    return " · ".join(parts)


def browse(frame: pd.DataFrame, query: BrowseQuery) -> Browsed:
    """The runs of ``frame`` (:func:`catalogue`) that ``query`` selects, sorted, one page of them."""
    if frame.empty:
        return Browsed(frame, frame, 0, 0, 1, 1, "", [])
    keep = matches(frame, query.q)
    for name in ("task", "dataset", "health", "model"):
        value = getattr(query, name)
        if value:
            keep &= frame[name].astype(str) == value
    found = frame[keep]
    tasks = sorted(found["task"].dropna().astype(str).unique()) if not found.empty else []
    task = query.task or (tasks[0] if len(tasks) == 1 else "")
    sort = query.sort if query.sort in sort_options(task) else "created"
    column = SORTS[sort][0] if sort in SORTS else sort
    if column in found:
        key = found[column]
        if column == "label":
            key = key.str.lower()
        found = found.assign(_key=key).sort_values(
            "_key", ascending=not query.desc, na_position="last", kind="stable"
        )
    pages = max(1, math.ceil(len(found) / query.per))
    page = min(max(query.page, 1), pages)
    rows = found.iloc[(page - 1) * query.per : page * query.per].copy()
    if task:
        metrics = [m for m in METRICS[task] if m in rows]
    else:
        rows["test"] = [_test_text(r) for _i, r in rows.iterrows()]
        metrics = ["test"]
    columns = ["link", "run_id", "name", "tags", "model_title", "task", "dataset", "health", *metrics,
               "params", "epochs", "train_seconds", "user", "created"]  # fmt: skip
    columns = [c for c in columns if c in rows]
    return Browsed(rows, found, len(found), len(frame), page, pages, task, columns)


# --- Many runs at a glance -----------------------------------------------------------------------


def _labels(frame: pd.DataFrame, ids: Sequence[str]) -> dict[str, str]:
    """Each run's label for a legend: its name (with its id when two runs share a name)."""
    info = frame.set_index("run_id")
    names = {r: str(info.loc[r, "name"]) if r in info.index else "" for r in ids}
    counts = pd.Series([n for n in names.values() if n]).value_counts()
    return {r: (f"{n} ({r})" if n and counts.get(n, 0) > 1 else n or r) for r, n in names.items()}


def curves(
    store: RunStore, frame: pd.DataFrame, ids: Sequence[str]
) -> list[tuple[str, str, list[dict[str, Any]]]]:
    """(label, task, per-epoch history) of each run in ``ids`` that can be opened, in order."""
    labels = _labels(frame, ids)
    out = []
    for run_id in ids:
        try:
            meta = store.open(run_id).meta
        except RecsysCoreError:
            continue
        history = [r for r in meta.get("history") or [] if isinstance(r, dict)]
        out.append((labels[run_id], str(meta.get("task")), history))
    return out


def _settings(meta: dict[str, Any]) -> dict[str, Any]:
    """A run's settings as one flat mapping: model, hyper-parameters, training, data and split."""
    config = meta.get("config") or {}
    train = config.get("train") or {}
    out: dict[str, Any] = {"model": meta.get("model")}
    for key in ("dataset", "task", "features", "split", "split_seed", "test_fraction",
                "validation_fraction", "refit"):  # fmt: skip
        if key in config:
            out[key] = config[key]
    for key in TRAIN_FLAGS:
        if key in train:
            out[key] = train[key]
    for key, value in (config.get("hparams") or {}).items():
        out[f"param {key}"] = value
    return out


def differences(store: RunStore, frame: pd.DataFrame, ids: Sequence[str]) -> pd.DataFrame:
    """The settings in which the runs ``ids`` differ (one row each, one column per run; '–'
    where a run lacks the setting), then their test metrics: what changed between them."""
    labels = _labels(frame, ids)
    settings: dict[str, dict[str, Any]] = {}
    tests: dict[str, dict[str, Any]] = {}
    for run_id in ids:
        try:
            meta = store.open(run_id).meta
        except RecsysCoreError:
            continue
        settings[labels[run_id]] = _settings(meta)
        tests[labels[run_id]] = {f"test {k}": v for k, v in (meta.get("test") or {}).items()}
    names = list(dict.fromkeys(k for s in settings.values() for k in s))
    rows = {}
    for name in names:
        values = [shown_value(s[name]) if name in s else "–" for s in settings.values()]
        if len(set(values)) > 1:
            rows[name] = values
    for name in dict.fromkeys(k for t in tests.values() for k in t):
        rows[name] = [
            f"{t[name]:.4f}" if isinstance(t.get(name), (int, float)) else "–"
            for t in tests.values()
        ]
    table = pd.DataFrame.from_dict(rows, orient="index", columns=list(settings))
    table.index.name = "setting"
    return table.reset_index()


def settings_frame(
    store: RunStore, frame: pd.DataFrame, model: str
) -> tuple[pd.DataFrame, list[str], str | None]:
    """The runs of ``model`` in ``frame`` as one row each: their settings that vary (numbers, or
    categories) and their test metrics; returns (table, varying settings, the metric to plot)."""
    ids = frame.loc[frame["model"] == model, "run_id"].tolist()
    rows = []
    for run_id, label in _labels(frame, ids).items():
        try:
            meta = store.open(run_id).meta
        except RecsysCoreError:
            continue
        row = {"run_id": run_id, "label": label, **_settings(meta)}
        row.update({f"test_{k}": v for k, v in (meta.get("test") or {}).items()})
        rows.append(row)
    table = pd.DataFrame(rows)
    if table.empty:
        return table, [], None
    for col in table.columns:  # lists (layer widths) as text, so they compare and plot as levels
        if table[col].map(lambda v: isinstance(v, list)).any():
            table[col] = table[col].map(shown_value)
    skip = {"run_id", "label", "model"} | {c for c in table if c.startswith("test_")}
    varying = [c for c in table if c not in skip and table[c].astype(str).nunique() > 1]
    tasks = table["task"].dropna().unique() if "task" in table else []
    task = tasks[0] if len(tasks) == 1 else ""
    metric = next((m for m in METRICS.get(task, ()) if m in table), None)
    return table, varying, metric
