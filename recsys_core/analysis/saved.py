"""Analysis results kept beside a saved run, so a restarted dashboard shows them without recomputing.

A result is one JSON file, ``<run folder>/analyses/<digest of its key>.json``, holding its key, the
recsys_core version, a digest of the code that computes analyses (``recsys_core/analysis``,
``layers``, ``models``) and its payload (a matrix's ``to_dict``, a run's
:class:`~recsys_core.analysis.views.AnalysisMenu`). Files are written whole or not at all (a
temporary file renamed into place). A file that cannot be read, that other code wrote or that holds
another key counts as absent, so the result is computed again and the file replaced: an upgrade, or
a fix to an analysis in a working copy, never shows a stale map. A store that cannot be written (a
read-only volume) keeps results in the server's memory only.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from recsys_core import __version__
from recsys_core.analysis.columns import DEFAULT_GRANULARITY
from recsys_core.analysis.native.base import ViewResult, view_result_from_dict

FOLDER = "analyses"
FORMAT = 1  # of the record itself
CODE = ("analysis", "layers", "models")  # the packages whose code decides what a map holds

log = logging.getLogger(__name__)


def result_key(
    method: str,
    row: int | None = None,
    view: str | None = None,
    layer: int | None = None,
    head: int | None = None,
    fields: str = DEFAULT_GRANULARITY,
) -> dict[str, Any]:
    """The key of one interaction view of a run (as ``interaction_matrix`` takes its arguments).

    ``fields`` (the granularity of a model-agnostic map, ``analysis.columns``) is part of the key,
    so a map over the model's blocks is never served for one over input columns; native views
    always use the model's own fields, so theirs is None."""
    return {
        "what": "view",
        "method": method,
        "row": row,
        "view": view,
        "layer": layer,
        "head": head,
        "fields": None if method == "native" else fields,
    }


@functools.lru_cache(maxsize=1)
def code_digest() -> str:
    """sha256 of the source of the packages in ``CODE`` (a few milliseconds, once per process)."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for package in CODE:
        for path in sorted((root / package).rglob("*.py")):
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def _path(run_path: Path, key: dict[str, Any]) -> Path:
    text = json.dumps(key, sort_keys=True)
    return Path(run_path) / FOLDER / f"{hashlib.sha256(text.encode()).hexdigest()[:32]}.json"


def load(run_path: Path, key: dict[str, Any]) -> dict[str, Any] | None:
    """The payload saved under ``key`` for the run in ``run_path``, or None (absent, unreadable,
    written by another version or for another key)."""
    path = _path(run_path, key)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        log.warning("ignoring unreadable saved analysis %s (%s)", path, exc)
        return None
    if (
        not isinstance(data, dict)
        or data.get("key") != key
        or data.get("format") != FORMAT
        or data.get("version") != __version__
        or data.get("code") != code_digest()
        or not isinstance(data.get("payload"), dict)
    ):
        return None
    return data["payload"]


def save(run_path: Path, key: dict[str, Any], payload: dict[str, Any]) -> bool:
    """Write ``payload`` under ``key`` beside the run; False when the store cannot be written."""
    path = _path(run_path, key)
    record = {
        "key": key,
        "format": FORMAT,
        "version": __version__,
        "code": code_digest(),
        "payload": payload,
    }
    tmp = None
    try:
        path.parent.mkdir(exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(record, out)
        os.replace(tmp, path)
        return True
    except (
        OSError,
        TypeError,
        ValueError,
    ) as exc:  # read-only store, or a payload JSON cannot hold
        log.info("analysis of %s kept in memory only (%s)", Path(run_path).name, exc)
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        return False


def load_as(run_path: Path, key: dict[str, Any], decode: Callable[[dict[str, Any]], Any]) -> Any:
    """``decode`` of the payload saved under ``key``, or None (absent, or a payload ``decode``
    refuses: a malformed file counts as absent and is computed again)."""
    payload = load(run_path, key)
    if payload is None:
        return None
    try:
        return decode(payload)
    except (KeyError, TypeError, ValueError) as exc:
        log.warning("ignoring malformed saved analysis of %s (%s)", Path(run_path).name, exc)
        return None


def load_result(run_path: Path, key: dict[str, Any]) -> ViewResult | None:
    """A saved matrix or per-field scores, or None."""
    return load_as(run_path, key, view_result_from_dict)


def save_result(run_path: Path, key: dict[str, Any], result: ViewResult) -> bool:
    return save(run_path, key, result.to_dict())
