"""Checks of a run folder's files made before anything trusts them.

The run store is shared: a run folder may come from an older release, a crashed writer or someone
who edited it by hand. Two checks keep one such folder from breaking the server for everyone:

* :func:`check_run_json` — ``run.json``'s fields and their JSON types, from one small schema
  (:data:`RUN_JSON`, :data:`CONFIG`, :data:`DATA`). Listings, pages and the command line index into
  these fields; a wrong type there (``created`` a number, ``history`` a string) used to raise deep
  inside pandas or an f-string and take every listing down. Unknown fields are allowed, so runs of
  newer releases still open.
* :func:`check_model_archive` — a static look at ``model.keras`` (its ``config.json`` and the
  shapes, never the data, of ``model.weights.h5``) before ``keras.saving.load_model``. Keras
  allocates every variable from the config before it reads a weight, so a config asking for a
  4e9-row embedding table aborts XLA (SIGABRT) in the serving process; no ``try`` can catch that.
"""

from __future__ import annotations

import json
import math
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

from recsys_core.errors import RecsysCoreError, RunStoreError
from recsys_core.limits import PARAMS


class Field(NamedTuple):
    """One field of a JSON object: the JSON kinds it may hold, whether it must be there, and the
    kind of each element when it is a list or (the values of) an object."""

    kinds: tuple[str, ...]
    required: bool = False
    items: tuple[str, ...] | None = None


# JSON kinds: "string", "integer", "number" (integers too), "boolean", "list", "object", "null".
RUN_JSON: dict[str, Field] = {
    # what every run must have to be opened at all
    "model": Field(("string",), required=True),
    "config": Field(("object",), required=True),
    "test": Field(("object",), required=True, items=("number", "null")),
    "fields": Field(("list",), required=True, items=("string",)),
    # written by every release, read by listings and pages; older runs may lack some of them
    "run_id": Field(("string",)),
    "created": Field(("string", "null")),
    "task": Field(("string",)),
    "dataset": Field(("string",)),
    "data_source": Field(("string", "null")),
    "params": Field(("integer",)),
    "train_seconds": Field(("number", "null")),
    "history": Field(("list",), items=("object",)),
    "best_epoch": Field(("integer", "null")),
    "stopped_early": Field(("boolean",)),
    "compile_seconds": Field(("number", "null")),
    "refit_epochs": Field(("integer",)),  # runs saved before refitting existed lack it
    "health": Field(("object", "null")),  # runs saved before health verdicts existed lack it
    "refit_history": Field(("list",), items=("object",)),  # the refit's epochs, when recorded
    "provenance": Field(("object", "null")),  # who trained it, with which code (runs.provenance)
}
# run.json's "config" (RunConfig.to_dict()); RunConfig.from_dict then checks the rest
CONFIG: dict[str, Field] = {
    "model": Field(("string",)),
    "dataset": Field(("string",)),
    "task": Field(("string",)),
    "features": Field(("string",)),
    "hparams": Field(("object",)),
    "train": Field(("object",)),
    "split": Field(("string",)),
    "refit": Field(("boolean",)),
    "data": Field(("object",)),
}
# config["data"]: what a run trained on a user's table recorded about it (shown on the pages)
DATA: dict[str, Field] = {
    "name": Field(("string",)),
    "rows": Field(("integer",)),
    "target": Field(("string",)),
    "schema": Field(("list",), items=("object",)),
}

_ARTICLE = {"integer": "an integer", "object": "an object", "list": "a list", "null": "null",
            "boolean": "true or false", "string": "a string", "number": "a number"}  # fmt: skip


def json_kind(value: Any) -> str:
    """The JSON kind of a parsed value (``"integer"`` for ints, ``"number"`` for floats)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _fits(value: Any, kinds: tuple[str, ...]) -> bool:
    kind = json_kind(value)
    return kind in kinds or (kind == "integer" and "number" in kinds)


def _expected(kinds: tuple[str, ...]) -> str:
    return " or ".join(_ARTICLE.get(k, k) for k in kinds)


def check_fields(obj: dict[str, Any], schema: dict[str, Field], where: str) -> str | None:
    """The first way ``obj`` breaks ``schema`` as one line (``where`` names the object), or None."""
    for name, field in schema.items():
        if name not in obj:
            if field.required:
                return f"{where} lacks {name!r}"
            continue
        value = obj[name]
        if not _fits(value, field.kinds):
            got = _ARTICLE.get(json_kind(value), json_kind(value))
            return f"{where} field {name!r} is {got}, expected {_expected(field.kinds)}"
        if field.items is not None and isinstance(value, (list, dict)):
            elements = value.values() if isinstance(value, dict) else value
            for element in elements:
                if not _fits(element, field.items):
                    got = _ARTICLE.get(json_kind(element), json_kind(element))
                    return f"{where} field {name!r} holds {got}, expected {_expected(field.items)}"
    return None


def run_json_problem(meta: dict[str, Any]) -> str | None:
    """Why ``meta`` (a parsed ``run.json``) cannot be served, in a few words, or None."""
    problem = check_fields(meta, RUN_JSON, "run.json")
    if problem is None:
        config = meta["config"]
        problem = check_fields(config, CONFIG, "run.json's config")
        if problem is None and isinstance(config.get("data"), dict):
            problem = check_fields(config["data"], DATA, "run.json's config.data")
    if problem is None:
        from recsys_core.training.pipeline import RunConfig

        try:
            RunConfig.from_dict(meta["config"])
        except (TypeError, ValueError, RecsysCoreError) as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            problem = f"run.json's config cannot be read ({first[:200]})"
    return problem


def check_run_json(meta: dict[str, Any], run_id: str) -> None:
    """Refuse a ``run.json`` whose fields do not match :data:`RUN_JSON` (RunStoreError, one line)."""
    problem = run_json_problem(meta)
    if problem is not None:
        raise RunStoreError(f"run {run_id!r}: {problem}; the run is corrupted.")


# --- model.keras, before Keras builds it ---

MAX_CONFIG_BYTES = 4 * 2**20  # a model's config.json is a few kB
MAX_WEIGHT_ARRAYS = 100_000
# A size above this in config.json must be a dimension of some saved weight: counts of layers,
# heads or experts are small, while widths and vocabulary sizes are weight dimensions.
FREE_SIZE = 1024
_NOT_SIZES = re.compile(r"(^|_)seed$")
# Keys that hold sizes (as ints, whole floats or digit strings: Keras reads them with int()); other
# numbers are values or bookkeeping (a target range, a bias, Keras' shared_object_id).
_SIZE_KEYS = re.compile(
    r"(dim|size|units|mlp|dnn|filters|width|rank|layers|experts|heads?|num|maps|factor|shape)s?$"
    r"|^num_"
)
WEIGHTS = "model.weights.h5"


def _as_size(value: Any) -> int | None:
    """``value`` as Keras' ``int(...)`` would read a size (ints, whole floats, digit strings)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value == int(value):
        return int(value)
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value.strip())
    return None


def _walk(node: Any) -> Iterator[tuple[str, Any]]:
    """Every ``(key, value)`` of a parsed JSON tree (list items under their list's key); a loop,
    not recursion, so a deeply nested file cannot exhaust the stack."""
    stack: list[tuple[str, Any]] = [("", node)]
    while stack:
        key, value = stack.pop()
        if isinstance(value, dict):
            for k, v in value.items():
                if not isinstance(v, (dict, list)):
                    yield str(k), v
                stack.append((str(k), v))
        elif isinstance(value, list):
            for v in value:
                if not isinstance(v, (dict, list)):
                    yield key, v
                stack.append((key, v))


def config_parameters(config: Any) -> int:
    """Embedding parameters ``config.json`` asks Keras to allocate: ``input_dim x output_dim`` of
    every Keras ``Embedding``, and ``sum(vocab_size) x embedding_dim`` of every recsys_core model
    (its ``tables``). Dense layers are not counted: their sizes are checked against the weights."""
    total = 0
    nodes = [config]
    while nodes:
        node = nodes.pop()
        if isinstance(node, dict):
            rows, width = _as_size(node.get("input_dim")), _as_size(node.get("output_dim"))
            if rows is not None and width is not None:
                total += max(rows, 0) * max(width, 0)
            tables, dim = node.get("tables"), _as_size(node.get("embedding_dim"))
            if isinstance(tables, list) and dim is not None:
                for table in tables:
                    vocab = _as_size(table.get("vocab_size")) if isinstance(table, dict) else None
                    total += max(vocab or 0, 0) * max(dim, 0)
            nodes.extend(node.values())
        elif isinstance(node, list):
            nodes.extend(node)
    return total


def _weight_shapes(archive: zipfile.ZipFile, run_id: str) -> list[tuple[int, ...]]:
    """The shape of every array in ``model.weights.h5``, read from its metadata only."""
    if WEIGHTS not in archive.namelist():
        return []  # Keras reports the missing weights when it loads
    import h5py

    shapes: list[tuple[int, ...]] = []

    def visit(_name: str, obj: Any) -> None:
        if isinstance(obj, h5py.Dataset):
            if len(shapes) >= MAX_WEIGHT_ARRAYS:
                raise RunStoreError(
                    f"run {run_id!r}: model.weights.h5 holds over {MAX_WEIGHT_ARRAYS:,} arrays."
                )
            shapes.append(tuple(int(d) for d in (obj.shape or ())))

    try:
        with archive.open(WEIGHTS) as raw, h5py.File(raw, "r") as h5:
            h5.visititems(visit)
    except RunStoreError:
        raise
    except Exception as exc:  # h5py raises OSError, KeyError, ValueError for damaged files
        raise RunStoreError(
            f"run {run_id!r}: model.keras's {WEIGHTS} cannot be read ({type(exc).__name__})."
        ) from exc
    return shapes


def check_model_archive(path: Path, run_id: str, budget: int | None = None) -> int:
    """Refuse ``model.keras`` before Keras builds it when it would take the server down: when its
    config or its weights imply more than ``budget`` parameters (default ``$RECSYS_CORE_MAX_PARAMS``,
    the limit training has: ``limits.PARAMS``), or when config and weight shapes disagree (a size
    in the config that no saved weight has: the config was edited). Returns the saved weights'
    parameter count.

    Cheap: reads ``config.json`` and the HDF5 metadata of the weights, never the weights.
    """
    budget = PARAMS.value() if budget is None else budget
    try:
        with zipfile.ZipFile(path) as archive:
            try:
                info = archive.getinfo("config.json")
            except KeyError:
                raise RunStoreError(f"run {run_id!r}: model.keras has no config.json.") from None
            if info.file_size > MAX_CONFIG_BYTES:
                raise RunStoreError(
                    f"run {run_id!r}: model.keras's config.json is {info.file_size:,} bytes, "
                    f"over {MAX_CONFIG_BYTES:,}."
                )
            try:
                config = json.loads(archive.read(info).decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
                raise RunStoreError(
                    f"run {run_id!r}: model.keras's config.json is corrupted ({type(exc).__name__})."
                ) from exc
            shapes = _weight_shapes(archive, run_id)
    except (OSError, zipfile.BadZipFile) as exc:
        raise RunStoreError(
            f"run {run_id!r}: model.keras is not a readable Keras archive."
        ) from exc

    saved = sum(math.prod(s) for s in shapes)
    asked = config_parameters(config)
    for what, count in (("its config asks for", asked), ("its weights hold", saved)):
        if count > budget:
            raise RunStoreError(
                f"run {run_id!r}: model.keras is refused: {what} {count:,} parameters, over the "
                f"limit of {budget:,} ({PARAMS.env})."
            )
    if asked > saved:
        raise RunStoreError(
            f"run {run_id!r}: model.keras is refused: its config asks for {asked:,} embedding "
            f"parameters but its weights hold {saved:,}; the archive was altered."
        )
    dims = {d for s in shapes for d in s}
    for key, value in _walk(config):
        if _NOT_SIZES.search(key):
            continue
        size = _as_size(value) if _SIZE_KEYS.search(key) else None
        if size is not None and size > FREE_SIZE and size not in dims:
            raise RunStoreError(
                f"run {run_id!r}: model.keras is refused: its config sets {key!r} to {size:,}, a "
                "size no saved weight has; the archive was altered."
            )
    return saved
