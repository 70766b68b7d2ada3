"""Runs made from a Keras 3 model trained elsewhere: ``recsys-core import MODEL.keras --data ROWS``.

An imported run is an ordinary run folder (``run.json``, ``model.keras``, ``preprocessor.json``,
``holdout.parquet``), so the pages and ``recsys-core interactions`` open it through
:class:`~recsys_core.runs.store.SavedRun` like any other. What differs:

* ``run.json`` has ``source = {"kind": "imported", "output": ..., "fields": {...}, ...}``: what the
  model outputs (``rating``, ``logit`` or ``probability``) and the fields the analyses swap (each
  model input on its own, or groups of inputs the user named);
* ``preprocessor.json`` holds :class:`ModelInputs` instead of a fitted preprocessor: the model's
  own named inputs, fed from the rows' columns of the same names (preprocessing is the model's own);
* ``health`` is ``imported: not trained here``.

Safety: the archive's ``config.json`` is read as JSON before anything is loaded, and a model that
names a class outside ``keras``, ``keras_rs`` and ``recsys_core`` or holds a ``Lambda`` layer (or
any serialised Python function) is refused; nothing runs and nothing is written. Only then is it
loaded, with ``keras.saving.load_model(..., safe_mode=True)``, under the parameter budget that
every saved run has (``runs.validate.check_model_archive``). Rows are read under the upload limits
(``data.user_table.read_table``) and a sample of at most ``MAX_ROWS`` is kept.

A probability output is analysed as a logit, ``log(p / (1 - p))`` with ``p`` clipped to
``[PROB_EPS, 1 - PROB_EPS]``, and every map says so.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
import weakref
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jax.numpy as jnp
import keras
import numpy as np
import pandas as pd

from recsys_core import _backend  # noqa: F401
from recsys_core.errors import DataError, RecsysCoreError, RunStoreError

KIND = "imported"
OUTPUTS = ("rating", "logit", "probability")
PROB_EPS = 1e-6
MAX_ROWS = 2000  # rows kept as the run's held-out sample
ALLOWED_PACKAGES = ("keras", "keras_rs", "recsys_core")
MAX_CONFIG_BYTES = 8 << 20
# class names that carry Python code in a Keras config
CODE_CLASSES = {"Lambda", "__lambda__", "function", "__function__"}
IMPORTED_SUMMARY = "imported: not trained here"


def is_imported(meta: Mapping[str, Any] | Any) -> bool:
    """Whether a run (its ``meta`` or a ``SavedRun``) was imported rather than trained here."""
    meta = getattr(meta, "meta", meta)
    source = meta.get("source") if isinstance(meta, Mapping) else None
    return isinstance(source, Mapping) and source.get("kind") == KIND


# --- the archive, before anything is loaded ---------------------------------------------------


def _package(module: str) -> str:
    return module.split(".", 1)[0]


def _refusal(node: Mapping[str, Any]) -> str | None:
    """Why one config object may not be deserialised, or None."""
    class_name = node.get("class_name")
    if isinstance(class_name, str) and class_name.rsplit(".", 1)[-1] in CODE_CLASSES:
        return f"it holds a {class_name!r} (Python code in the model)"
    module = node.get("module")
    if isinstance(module, str) and module and _package(module) not in ALLOWED_PACKAGES:
        return f"it names the class path {module}.{class_name} outside Keras"
    registered = node.get("registered_name")
    if isinstance(registered, str) and ">" in registered:
        package = registered.split(">", 1)[0]
        if _package(package) not in ALLOWED_PACKAGES:
            return f"it names the custom class {registered!r} outside Keras"
    return None


def check_archive_classes(path: str | Path, name: str | None = None) -> dict[str, Any]:
    """Refuse (``RunStoreError``, one line) a ``.keras`` archive whose ``config.json`` names a
    class outside Keras / keras-rs / recsys_core or holds Python code; return the config. Reads the
    archive as data only: no class is imported, nothing is deserialised."""
    name = name or Path(path).name
    try:
        with zipfile.ZipFile(path) as archive:
            try:
                info = archive.getinfo("config.json")
            except KeyError:
                raise RunStoreError(f"{name!r} is not a Keras 3 model: no config.json.") from None
            if info.file_size > MAX_CONFIG_BYTES:
                raise RunStoreError(f"{name!r} is refused: its config.json is over {MAX_CONFIG_BYTES:,} bytes.")  # fmt: skip
            config = json.loads(archive.read(info).decode("utf-8"))
    except FileNotFoundError:
        raise RunStoreError(f"no such file: {str(path)!r}.") from None
    except (OSError, zipfile.BadZipFile):
        raise RunStoreError(f"{name!r} is not a .keras archive (a Keras 3 zip file).") from None
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise RunStoreError(f"{name!r} is refused: its config.json is corrupted ({type(exc).__name__}).") from exc  # fmt: skip
    stack: list[Any] = [config]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            why = _refusal(node)
            if why:
                raise RunStoreError(f"{name!r} is refused: {why}; nothing was loaded.")
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    if not isinstance(config, dict) or "class_name" not in config:
        raise RunStoreError(f"{name!r} is not a Keras 3 model: its config.json names no class.")
    return config


def _register_layers() -> None:
    """Make keras-rs' and recsys_core's layers resolvable by name (importing them registers them)."""
    import recsys_core.layers  # noqa: F401

    with contextlib.suppress(Exception):  # keras-rs absent or broken: its layers do not resolve
        import keras_rs  # noqa: F401


def load_checked(path: str | Path, name: str | None = None) -> keras.Model:
    """The model of a ``.keras`` file, after :func:`check_archive_classes` and the parameter budget,
    loaded with ``safe_mode=True``; any refusal or failure is one ``RunStoreError`` line."""
    from recsys_core.runs.validate import check_model_archive

    name = name or Path(path).name
    check_archive_classes(path, name)
    check_model_archive(Path(path), name)
    _register_layers()
    try:
        model = keras.saving.load_model(path, safe_mode=True)
    except Exception as exc:  # Keras raises many types
        reason = " ".join(str(exc).split())[:300]
        raise RunStoreError(f"{name!r} cannot be loaded as a Keras model ({reason}).") from exc
    if not isinstance(model, keras.Model):
        raise RunStoreError(f"{name!r} holds no Keras model.")
    return model


# --- the model's inputs, fed from the rows ----------------------------------------------------


@dataclass
class ModelInputs:
    """The preprocessor of an imported run: each named model input takes the rows' column of that
    name, cast to the input's dtype and shape; nothing is fitted (preprocessing is the model's)."""

    inputs: list[dict[str, Any]]  # {"name", "dtype", "shape": trailing dims}
    structure: str = "dict"  # how the model takes them: "dict" by name, "list" in order
    kind: str = field(default=KIND)

    @property
    def names(self) -> list[str]:
        return [i["name"] for i in self.inputs]

    @classmethod
    def of_model(cls, model: keras.Model) -> ModelInputs:
        tensors = getattr(model, "inputs", None)
        if not tensors:
            raise RecsysCoreError(
                "the model declares no inputs: import a functional or Sequential Keras model "
                "whose inputs are named after the columns of the rows."
            )
        struct = getattr(model, "_inputs_struct", None)
        inputs = [
            {"name": str(t.name), "dtype": str(t.dtype), "shape": [int(d) for d in t.shape[1:]]}
            for t in tensors
        ]
        if any(None in i["shape"] for i in inputs):
            raise RecsysCoreError("the model's inputs must have fixed sizes apart from the batch.")
        return cls(inputs, "dict" if isinstance(struct, dict) else "list")

    def check_columns(self, columns: Any) -> None:
        missing = [n for n in self.names if n not in set(map(str, columns))]
        if missing:
            raise DataError(
                f"the rows lack the model's input(s) {missing}: every input needs a column of the "
                f"same name (the model's inputs: {self.names})."
            )

    def transform(self, rows: pd.DataFrame) -> dict[str, np.ndarray]:
        self.check_columns(rows.columns)
        n = len(rows)
        out = {}
        for spec in self.inputs:
            col = rows[spec["name"]]
            shape = tuple(spec["shape"])
            try:
                if col.dtype == object and len(col) and isinstance(col.iloc[0], (list, np.ndarray)):
                    values = np.stack([np.asarray(v) for v in col])
                else:
                    values = col.to_numpy()
                values = np.asarray(values).astype(spec["dtype"]).reshape((n, *shape))
            except (ValueError, TypeError) as exc:
                raise DataError(
                    f"column {spec['name']!r} does not fit the model's input of dtype "
                    f"{spec['dtype']} and shape {list(shape)} per row ({type(exc).__name__})."
                ) from None
            out[spec["name"]] = values
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"kind": KIND, "inputs": self.inputs, "structure": self.structure}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelInputs:
        return cls([dict(i) for i in data["inputs"]], str(data.get("structure", "dict")))


def parse_fields(spec: str | None, inputs: list[str]) -> dict[str, list[str]]:
    """The fields the analyses swap: ``"user=user_id+age,item=item_id"`` groups inputs; inputs
    named by no group are fields of their own. Default: every input is a field."""
    groups: dict[str, list[str]] = {}
    used: set[str] = set()
    for part in (spec or "").split(","):
        part = part.strip()
        if not part:
            continue
        if "=" not in part:
            raise RecsysCoreError(
                f"--fields {spec!r}: write groups as NAME=INPUT+INPUT, separated by commas."
            )
        name, members = (s.strip() for s in part.split("=", 1))
        keys = [m.strip() for m in members.split("+") if m.strip()]
        unknown = [k for k in keys if k not in inputs]
        if not name or not keys or unknown:
            raise RecsysCoreError(
                f"--fields: group {part!r} names no input or unknown input(s) {unknown}; "
                f"the model's inputs: {inputs}."
            )
        if name in groups or used & set(keys):
            raise RecsysCoreError(f"--fields: group {name!r} repeats a name or an input.")
        groups[name] = keys
        used |= set(keys)
    for k in inputs:
        if k not in used:
            if k in groups:
                raise RecsysCoreError(f"--fields: group name {k!r} is also an input's name.")
            groups[k] = [k]
    if len(groups) < 2:
        raise RecsysCoreError("an interaction needs at least two fields; the model has fewer.")
    return groups


# --- the score the analyses read --------------------------------------------------------------


def score_of(model: keras.Model, inputs: ModelInputs, output: str) -> Callable:
    """``fn(params, x) -> (n,)``: the model's first output, as a logit for ``probability``."""
    from recsys_core.models.pure import pure_method

    names = inputs.names
    as_dict = inputs.structure == "dict"

    def method(m: keras.Model, x: Mapping[str, Any]) -> Any:
        out = m(dict(x) if as_dict else [x[n] for n in names], training=False)
        z = jnp.reshape(out, (out.shape[0], -1))[:, 0].astype(jnp.float32)
        if output == "probability":
            p = jnp.clip(z, PROB_EPS, 1.0 - PROB_EPS)
            z = jnp.log(p) - jnp.log1p(-p)
        return z

    # one function per (model, output), kept on the model so jit's cache is reused
    cache = _METHODS.setdefault(model, {})
    if output not in cache:
        cache[output] = method
    return pure_method(model, cache[output])


_METHODS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def space_words(output: str) -> str:
    if output == "probability":
        return (
            f"the model outputs probabilities, analysed as logits log(p/(1-p)) with p clipped to "
            f"[{PROB_EPS:g}, 1-{PROB_EPS:g}]"
        )
    return f"the model outputs a {output}, analysed as it is"


def import_args(source: Mapping[str, Any], config: Any) -> list[str]:
    """The ``recsys-core import`` command that made an imported run (its ``source`` in run.json)."""
    words = ["recsys-core", "import", str(source.get("file", "MODEL.keras"))]
    words += ["--data", str((config.data or {}).get("name", "ROWS.csv"))]
    words += ["--output", str(source.get("output", "rating"))]
    groups = {f: keys for f, keys in (source.get("fields") or {}).items() if keys != [f]}
    if groups:
        words += ["--fields", ",".join(f"{f}={'+'.join(keys)}" for f, keys in groups.items())]
    return words


# --- creating the run -------------------------------------------------------------------------


def import_model(
    model_path: str | Path,
    rows_path: str | Path,
    output: str = "rating",
    fields: str | None = None,
    name: str | None = None,
    store: Any = None,
    max_rows: int = MAX_ROWS,
    seed: int = 0,
) -> Any:
    """Create a run in ``store`` (a :class:`~recsys_core.runs.store.RunStore`) from a ``.keras``
    file and a sample of its input rows; returns the :class:`SavedRun`. Every refusal is one
    ``RecsysCoreError`` line, raised before anything is written."""
    from recsys_core.data.user_table import read_table
    from recsys_core.runs import annotations as notes
    from recsys_core.runs import provenance as prov
    from recsys_core.runs.store import WRITER, RunStore, SavedRun, _writer_note
    from recsys_core.training.pipeline import RunConfig

    if output not in OUTPUTS:
        raise RecsysCoreError(f"--output must be one of {', '.join(OUTPUTS)}, not {output!r}.")
    store = store if store is not None else RunStore()
    model_path = Path(model_path)
    if model_path.suffix != ".keras":
        raise RecsysCoreError(f"{model_path.name!r} is not a .keras file (Keras 3 format).")
    model = load_checked(model_path)
    inputs = ModelInputs.of_model(model)
    groups = parse_fields(fields, inputs.names)
    rows = read_table(rows_path)
    inputs.check_columns(rows.columns)
    if len(rows) < 2:
        raise DataError("the rows must hold at least 2 rows to pair up.")
    if len(rows) > max_rows:
        keep = np.sort(np.random.default_rng(seed).choice(len(rows), max_rows, replace=False))
        rows = rows.iloc[keep]
    rows = rows[inputs.names].reset_index(drop=True)
    x = inputs.transform(rows)
    from recsys_core.models.pure import apply_in_chunks, model_params

    try:
        z = apply_in_chunks(score_of(model, inputs, output), model_params(model), x)
    except RecsysCoreError:
        raise
    except Exception as exc:  # shapes or dtypes the model does not take
        reason = " ".join(str(exc).split())[:200]
        raise DataError(f"the model cannot score the rows ({reason}).") from exc
    if not np.all(np.isfinite(z)):
        raise DataError("the model's output on the rows is not finite (NaN or inf).")

    task = "regression" if output == "rating" else "binary"
    label = name or model_path.stem
    run_id = store.new_id("imported")
    while store.path_of(run_id).exists():
        run_id = store.new_id("imported")
    config = RunConfig(
        model=KIND,
        dataset=KIND,
        task=task,
        refit=False,
        data={"name": Path(rows_path).name, "rows": int(len(rows))},
    )
    meta = {
        "run_id": run_id,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "model": KIND,
        "task": task,
        "dataset": KIND,
        "data_source": Path(rows_path).name,
        "fields": list(groups),
        "params": int(model.count_params()),
        "train_seconds": None,
        "test": {},
        "history": [],
        "best_epoch": None,
        "stopped_early": False,
        "compile_seconds": None,
        "refit_epochs": 0,
        "provenance": prov.collect(via="command line"),
        "health": {"status": KIND, "summary": IMPORTED_SUMMARY, "checks": []},
        "config": config.to_dict(),
        "source": {
            "kind": KIND,
            "file": model_path.name,
            "class": type(model).__name__,
            "output": output,
            "fields": groups,
            "inputs": inputs.names,
        },
    }
    try:
        store.root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{run_id}-", dir=store.root))
    except OSError as exc:
        raise RunStoreError(f"the run store cannot be written ({exc.strerror or exc}).") from exc
    try:
        (tmp / WRITER).write_text(_writer_note(), encoding="utf-8")
        shutil.copyfile(model_path, tmp / "model.keras")
        (tmp / "preprocessor.json").write_text(json.dumps(inputs.to_dict()), encoding="utf-8")
        rows.to_parquet(tmp / "holdout.parquet", index=False)
        (tmp / "run.json").write_text(json.dumps(meta, indent=1, default=float), encoding="utf-8")
        (tmp / WRITER).unlink(missing_ok=True)
        final = store.path_of(run_id)
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if name:
        notes.update(final, name=label)
    return SavedRun(run_id, final, meta, model, inputs)
