"""What the run page shows about one saved run, as plain data: pages/run.py only lays it out.

A run used to be visible as a whole only in its downloaded report, and its curves only while its
training job was on the Train page. The run page (``/run?id=RUN``) is the one place, and the one
URL to share, for everything known about a run: its configuration against the defaults, its data,
its curves, metrics and health, timings, the maps already saved beside it (with a link to each) and
the command line that trains it again. Everything here reads ``run.json``, the annotations sidecar
and the saved maps' files; nothing loads the model, so the page opens in milliseconds.
"""

from __future__ import annotations

import json
import re
import shlex
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from recsys_core.analysis import saved
from recsys_core.analysis.views import METHOD_TITLES, AnalysisMenu
from recsys_core.runs import provenance
from recsys_core.runs.annotations import Annotations
from recsys_core.runs.imported import import_args, is_imported
from recsys_core.runs.store import SavedRun
from recsys_core.training.engine import TrainConfig
from recsys_core.training.health import Verdict, health_line, verdict_of_run
from recsys_core.training.pipeline import RunConfig

# RunConfig's own settings the page lists (hyper-parameters and TrainConfig come separately)
RUN_SETTINGS = ("dataset", "task", "features", "split", "test_fraction", "split_seed",
                "validation_fraction", "refit")  # fmt: skip
TRAIN_FLAGS = {  # TrainConfig field -> `recsys-core train` flag
    "epochs": "--epochs",
    "batch_size": "--batch-size",
    "learning_rate": "--learning-rate",
    "weight_decay": "--weight-decay",
    "clipnorm": "--clipnorm",
    "schedule": "--schedule",
    "patience": "--patience",
    "seed": "--seed",
    "distribution": "--distribution",
}
RUN_FLAGS = {  # RunConfig field -> flag (dataset, task, features and refit are handled apart)
    "split": "--split",
    "split_seed": "--split-seed",
    "test_fraction": "--test-fraction",
    "validation_fraction": "--validation-fraction",
}
ROLE_FLAGS = {"categorical": "--categorical", "multi-hot": "--multi-hot",
              "continuous": "--continuous", "ignore": "--ignore"}  # fmt: skip
HELP = {
    "dataset": "The data set (or 'table': your own CSV / Parquet table).",
    "task": "regression: predict the rating; binary: rating >= 4 (or your threshold) as a click.",
    "features": "MovieLens feature preset: tutorial = the keras-rs DLRM tutorial's features.",
    "split": "random: 80/20 by seed; time: the latest rows as test.",
    "test_fraction": "Share of the rows held out as the test set.",
    "split_seed": "Seed of the train/test split (and of the validation split: seed + 1).",
    "validation_fraction": "Share of the training rows carved out for early stopping.",
    "refit": "Trained again on all training rows for the epoch count early stopping chose.",
    "epochs": "At most this many epochs (early stopping may stop sooner).",
    "batch_size": "Rows per optimisation step.",
    "learning_rate": "AdamW's learning rate (cosine-decayed to 5 % over the epochs by default).",
    "weight_decay": "AdamW's decoupled weight decay.",
    "clipnorm": "Gradient norm clipping (None: off).",
    "schedule": "Learning-rate schedule: constant or cosine.",
    "patience": "Early-stopping patience in epochs (0: off).",
    "seed": "Seed of initialisation and shuffling.",
    "distribution": "None: one device; data / model: over every local device.",
}


def _same(a: Any, b: Any) -> bool:
    """Whether a saved value equals its default (floats to 1e-12 relative, lists item by item)."""
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b or a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return abs(float(a) - float(b)) <= 1e-12 * max(abs(float(a)), abs(float(b)), 1e-300)
    return a == b


def shown_value(value: Any) -> str:
    """A setting as the page and the difference table show it (lists as ``256, 128``)."""
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value)) or "–"
    if isinstance(value, float):
        return f"{value:g}"
    if value is None:
        return "None"
    return str(value)


def config_rows(config: RunConfig) -> pd.DataFrame:
    """Every setting of the run with its default (this release's registry, ``TrainConfig`` and
    ``RunConfig``) and whether it was changed: columns section, setting, value, default, changed,
    help. A hyper-parameter this release does not know is listed as changed, default '–'."""
    from recsys_core.errors import RecsysCoreError
    from recsys_core.models.registry import get_entry

    rows: list[dict[str, Any]] = []
    try:
        known = {h.name: h for h in get_entry(config.model).hparams}
    except RecsysCoreError:  # a model this release lacks: its saved values, without defaults
        known = {}
    for name, h in known.items():
        value = config.hparams.get(name, h.default)
        rows.append(_row("model", name, value, h.default, h.help))
    for name, value in config.hparams.items():
        if name not in known:
            rows.append(
                {
                    "section": "model",
                    "setting": name,
                    "value": shown_value(value),
                    "default": "–",
                    "changed": True,
                    "help": "Not a hyper-parameter of this release's model.",
                }  # fmt: skip
            )
    train_defaults = TrainConfig()
    for name in TRAIN_FLAGS:
        rows.append(_row("training", name, getattr(config.train, name),
                         getattr(train_defaults, name), HELP.get(name, "")))  # fmt: skip
    run_defaults = RunConfig()
    for name in RUN_SETTINGS:
        rows.append(_row("data", name, getattr(config, name),
                         getattr(run_defaults, name), HELP.get(name, "")))  # fmt: skip
    return pd.DataFrame(rows, columns=["section", "setting", "value", "default", "changed", "help"])


def _row(section: str, name: str, value: Any, default: Any, help_: str) -> dict[str, Any]:
    return {
        "section": section,
        "setting": name,
        "value": shown_value(value),
        "default": shown_value(default),
        "changed": not _same(value, default),
        "help": help_,
    }


def _cli_value(value: Any) -> str:
    """A value as ``--param`` / a flag takes it back: lists comma-joined, floats by ``repr`` (which
    reads back to the same float), None as ``none``."""
    if isinstance(value, (list, tuple)):
        return ",".join(str(int(v)) if isinstance(v, (int, float)) else str(v) for v in value)
    if isinstance(value, float):
        return repr(value)
    if value is None:
        return "none"
    return str(value)


def _table_args(data: dict[str, Any], task: str, full_paths: bool) -> tuple[list[str], str | None]:
    """The ``--data … --target …`` flags that read a user's table with the run's roles and groups,
    and a note when the file is not where the command can find it: uploaded to the dashboard, or
    named without its folder (``full_paths`` False: a page never shows the server's folders)."""
    spec = data.get("spec") or {}
    path = data.get("path")
    name = data.get("name") or (Path(path).name if path else "TABLE.csv")
    note = None
    if not path:
        path = name
        note = (
            f"The table was uploaded to the dashboard as {name!r}: run the command where that "
            "file is (or give its path)."
        )
    elif not full_paths:
        path = Path(path).name
        note = f"Run the command in the folder that holds {path!r} (or give its path)."
    args = ["--data", str(path), "--target", str(data.get("target") or spec.get("target"))]
    if task == "binary" and spec.get("binary_threshold") is not None:
        args += ["--binary-threshold", _cli_value(float(spec["binary_threshold"]))]
    # the roles that were given (the schema says "given (…)"); the others the same file infers
    # again the same way. Runs saved without a schema name every role.
    records = [r for r in data.get("schema") or [] if isinstance(r, dict)]
    roles: dict[str, list[str]] = {}
    if records:
        for r in records:
            if str(r.get("reason", "")).startswith("given (") and r.get("role") in ROLE_FLAGS:
                roles.setdefault(str(r["role"]), []).append(str(r.get("column")))
    else:
        for role, key in (("categorical", "categorical"), ("multi-hot", "multi_hot"),
                          ("continuous", "continuous")):  # fmt: skip
            if spec.get(key):
                roles[role] = [str(c) for c in spec[key]]
    for role, flag in ROLE_FLAGS.items():
        if roles.get(role):
            args += [flag, ",".join(roles[role])]
    groups: dict[str, list[str]] = {}
    for column, group in (spec.get("groups") or {}).items():
        groups.setdefault(str(group), []).append(str(column))
    if groups:
        args += ["--groups", ";".join(f"{g}:{','.join(cols)}" for g, cols in groups.items())]
    return args, note


def reproduce_args(config: RunConfig, full_paths: bool = False) -> tuple[list[str], str | None]:
    """The words of ``recsys-core train`` that train ``config`` again (each setting that differs
    from the command line's default, every changed hyper-parameter) and a note when something
    outside the command is needed (an uploaded table's file). A table read from a file is named by
    its recorded path when ``full_paths`` (the command line, on its own machine), else by its file
    name (pages: visitors have no business knowing the server's folders)."""
    from recsys_core.models.registry import resolve_hparams

    words = ["recsys-core", "train", "--model", config.model]
    note = None
    run_defaults = RunConfig()
    if config.dataset == "table":
        table, note = _table_args(config.data, config.task, full_paths)
        words += table
    elif config.dataset != run_defaults.dataset:
        words += ["--dataset", config.dataset]
    if config.task != run_defaults.task:
        words += ["--task", config.task]
    if config.features not in (run_defaults.features, "table"):
        words += ["--features", config.features]
    train_defaults = TrainConfig()
    for name, flag in TRAIN_FLAGS.items():
        value = getattr(config.train, name)
        if not _same(value, getattr(train_defaults, name)):
            words += [flag, _cli_value(value)]
    for name, flag in RUN_FLAGS.items():
        value = getattr(config, name)
        if not _same(value, getattr(run_defaults, name)):
            words += [flag, _cli_value(value)]
    if not config.refit:
        words.append("--no-refit")
    try:
        defaults = resolve_hparams(config.model)
    except Exception:  # a model this release lacks: every saved value, as saved
        defaults = {}
    for name, value in config.hparams.items():
        if name not in defaults or not _same(value, defaults[name]):
            words += ["--param", f"{name}={_cli_value(value)}"]
    return words, note


def reproduce_command(config: RunConfig, full_paths: bool = False) -> str:
    """``recsys-core train …`` as one shell line (every word quoted where the shell needs it)."""
    return shlex.join(reproduce_args(config, full_paths)[0])


_PATH = re.compile(r"(?:[A-Za-z]:)?[/\\][^\s()'\"]+")


def without_paths(text: str) -> str:
    """``text`` with every absolute path cut to its last part: where the data came from on the
    server (``/root/.cache/…/movielens-100k.parquet``) is not for visitors."""
    return _PATH.sub(lambda m: Path(m.group()).name or m.group(), text)


@dataclass(frozen=True)
class MapLink:
    """One map saved beside the run, and the page (and its query) that shows it."""

    label: str
    page: str  # a file under pages/
    query: dict[str, str]
    current: bool  # False: computed by other code; the page computes it again when opened


def saved_maps(run: SavedRun) -> list[MapLink]:
    """The maps saved beside ``run`` (``analysis.saved``), each with a link to the page and view
    that draws it: interaction views on Interactions, AutoInt's grid on Attention. A map saved by
    other analysis code is listed too, marked not ``current`` (its page computes it again)."""
    folder = run.path / saved.FOLDER
    keys: list[dict[str, Any]] = []
    titles: dict[str, str] = {}
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            key = record.get("key")
        except (OSError, UnicodeDecodeError, ValueError, AttributeError):
            continue
        if not isinstance(key, dict):
            continue
        if key == {"what": "menu"}:  # the views' titles (an older menu names them as well)
            try:
                menu = AnalysisMenu.from_dict(record["payload"])
                titles = {v.name: v.title for v in menu.views}
            except (KeyError, TypeError, ValueError):
                pass
            continue
        keys.append(key)
    links = [
        link
        for key in keys
        if (link := _link_of(run.run_id, key, titles, saved.load(run.path, key) is not None))
    ]
    order = {"native": 0, "tii": 1, "archipelago": 2, "attention": 3}
    return sorted(links, key=lambda m: (order.get(m.query.get("method", "attention"), 4), m.label))


def _link_of(
    run_id: str, key: dict[str, Any], titles: dict[str, str], current: bool
) -> MapLink | None:
    what = key.get("what")
    row = key.get("row")
    if what == "attention_grid":
        query = {"run": run_id, **({"row": str(row)} if isinstance(row, int) else {})}
        where = f", held-out row {row}" if isinstance(row, int) else ", averaged"
        return MapLink(f"Attention per layer and head{where}", "attention.py", query, current)
    if what != "view" or key.get("method") not in METHOD_TITLES:
        return None
    method = key["method"]
    query = {"run": run_id, "method": method}
    if method == "native":
        view = key.get("view")
        label = titles.get(view, view) if isinstance(view, str) else "primary native view"
        if isinstance(view, str):
            query["view"] = view
    else:
        label = METHOD_TITLES[method]
    for name in ("layer", "head", "row"):
        value = key.get(name)
        if isinstance(value, int):
            query[name] = str(value)
            label += f", {'held-out ' if name == 'row' else ''}{name} {value}"
    return MapLink(label, "interactions.py", query, current)


def analysis_pages(model: str) -> list[tuple[str, str, dict[str, str]]]:
    """(page file, label, query key) of the analysis pages that can show a run of ``model``."""
    from recsys_core.analysis.native.base import view_names_of_class
    from recsys_core.models.registry import MODELS

    pages = [("interactions.py", "Interactions", "run")]
    views = view_names_of_class(MODELS[model].cls) if model in MODELS else []
    if "attention" in views:
        pages.append(("attention.py", "Attention", "run"))
    if "cross_data" in views:
        pages.append(("cross.py", "Cross weights", "run"))
    pages.append(("compare.py", "Compare with another run", "a"))
    return pages


@dataclass
class RunSummary:
    """Everything the run page lays out, read from the run's files (no model)."""

    run_id: str
    title: str  # its name, or its id
    model: str
    model_title: str
    task: str
    dataset: str
    created: str
    annotations: Annotations
    trained_by: str  # provenance.describe: '' for runs saved before it was recorded
    provenance: dict[str, Any]
    verdict: Verdict
    health: str
    metrics: dict[str, float]
    params: int | None
    timings: dict[str, float | int | None]
    history: list[dict[str, Any]]
    refit_history: list[dict[str, Any]]
    refit_epochs: int
    data: dict[str, Any]  # source, split and, for a user's table, its file and schema
    fields: list[str]
    config: pd.DataFrame
    command: str
    command_note: str | None
    maps: list[MapLink] = field(default_factory=list)
    pages: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)


def summarize_run(run: SavedRun, full_paths: bool = False) -> RunSummary:
    """The run page's data for ``run`` (a :class:`SavedRun` opened without its model); paths on
    the server are cut to their file names unless ``full_paths`` (the command line)."""
    from recsys_core.models.registry import MODELS

    meta = run.meta
    config = run.config
    said = run.annotations
    verdict = verdict_of_run(meta)
    history = [r for r in meta.get("history") or [] if isinstance(r, dict)]
    refit = [r for r in meta.get("refit_history") or [] if isinstance(r, dict)]
    seconds = [r.get("seconds") for r in history if isinstance(r.get("seconds"), (int, float))]
    table = dict(config.data or {})
    data = {
        "source": str(meta.get("data_source") or config.dataset),
        "dataset": table.get("name") or config.dataset,
        "features": config.features,
        "split": f"{config.split}, {1 - config.test_fraction:.0%} train / "
        f"{config.test_fraction:.0%} test (seed {config.split_seed}); "
        f"{config.validation_fraction:.0%} of the training rows for validation",
        "rows": table.get("rows"),
        "target": table.get("target"),
        "schema": table.get("schema") or [],
        "path_recorded": bool(table.get("path")),
    }
    words, note = reproduce_args(config, full_paths)
    if is_imported(meta):  # trained elsewhere: what brings it in again, not a training
        words, note = import_args(meta["source"], config), (
            "imported from a .keras file: the model was trained elsewhere; this imports it again"
        )
    if not full_paths:
        data["source"] = without_paths(data["source"])
    record = meta.get("provenance") if isinstance(meta.get("provenance"), dict) else {}
    model = str(meta.get("model"))
    return RunSummary(
        run_id=run.run_id,
        title=said.name or run.run_id,
        model=model,
        model_title=MODELS[model].title if model in MODELS else model,
        task=str(meta.get("task") or config.task),
        dataset=str(data["dataset"]),
        created=str(meta.get("created") or ""),
        annotations=said,
        trained_by=provenance.describe(record),
        provenance=record,
        verdict=verdict,
        health=health_line(verdict),
        metrics={k: v for k, v in (meta.get("test") or {}).items() if v is not None},
        params=meta.get("params"),
        timings={
            "training seconds (fit and refit)": meta.get("train_seconds"),
            "first epoch's compile seconds": meta.get("compile_seconds"),
            "median seconds per epoch": statistics.median(seconds) if seconds else None,
            "epochs trained": len(history),
            "best epoch": meta.get("best_epoch"),
            "refit epochs": meta.get("refit_epochs") or 0,
        },
        history=history,
        refit_history=refit,
        refit_epochs=int(meta.get("refit_epochs") or 0),
        data=data,
        fields=list(meta.get("fields") or []),
        config=config_rows(config),
        command=shlex.join(words),
        command_note=note,
        maps=saved_maps(run),
        pages=analysis_pages(model),
    )
