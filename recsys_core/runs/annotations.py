"""A run's name, tags and note: what people say about a run, kept apart from what training wrote.

A run id (``dlrm-20261206-153012-a1f3``) says which model and when, not why: analysts name runs
("baseline", "lr sweep 3"), tag them ("sweep-lr", "paper") and leave notes, and expect to search by
them. These live in a small sidecar, ``<run folder>/annotations.json``, so ``run.json`` stays
exactly what training wrote (its mtime keys the dashboard's caches, and a rename must not make a
server reload the model). The sidecar is written whole or not at all (a temporary file renamed into
place) under a lock, so two people tagging one run at once both keep their tag; a missing,
unreadable or hand-edited sidecar reads as no annotations, never as a broken run.

Every value is checked before it is written (:func:`check_name`, :func:`check_tag`,
:func:`check_note`): lengths, and no control characters; a tag is one word of letters, digits and
``_ . : + / -``. The pages show all of it as text (``viz.text.md_text``), never as Markdown.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from recsys_core.errors import RecsysCoreError

FILE = "annotations.json"
LOCK = ".annotations.lock"
NAME_MAX = 80
TAG_MAX = 32
TAGS_MAX = 20
NOTE_MAX = 2000
TAG = re.compile(r"^[^\W_][\w.:+/-]*$")  # a word: starts with a letter or digit


class AnnotationError(RecsysCoreError):
    """A name, tag or note that cannot be stored (too long, control characters, not a tag)."""


def _controls(text: str, allow_newline: bool = False) -> bool:
    """Whether ``text`` holds control or format characters (a newline only where allowed)."""
    for ch in text:
        if allow_newline and ch == "\n":
            continue
        if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp"):
            return True
    return False


def _shown(text: str) -> str:
    """``text`` quoted for a message: cut, so a pasted essay does not become the error line."""
    return repr(text if len(text) <= 40 else text[:39] + "…")


def check_name(name: str) -> str:
    """A run's name, stripped; '' clears it. One line, at most ``NAME_MAX`` characters."""
    if not isinstance(name, str):
        raise AnnotationError(f"a run name is text, not {type(name).__name__}.")
    name = name.strip()
    if len(name) > NAME_MAX:
        raise AnnotationError(
            f"the name {_shown(name)} is {len(name)} characters long; at most {NAME_MAX}."
        )
    if _controls(name):
        raise AnnotationError(
            f"the name {_shown(name)} holds a line break or control character; use one line."
        )
    return name


def check_tag(tag: str) -> str:
    """One tag: a word of letters, digits and ``_ . : + / -``, at most ``TAG_MAX`` characters."""
    if not isinstance(tag, str):
        raise AnnotationError(f"a tag is text, not {type(tag).__name__}.")
    tag = tag.strip()
    if not tag:
        raise AnnotationError("a tag cannot be empty.")
    if len(tag) > TAG_MAX:
        raise AnnotationError(f"the tag {_shown(tag)} is {len(tag)} characters long; at most {TAG_MAX}.")  # fmt: skip
    if not TAG.match(tag):
        raise AnnotationError(
            f"the tag {_shown(tag)} is not one word: use letters, digits and _ . : + / - "
            "(starting with a letter or digit), no spaces."
        )
    return tag


def check_note(note: str) -> str:
    """A note, stripped; '' clears it. Line breaks allowed, at most ``NOTE_MAX`` characters."""
    if not isinstance(note, str):
        raise AnnotationError(f"a note is text, not {type(note).__name__}.")
    note = note.replace("\r\n", "\n").replace("\r", "\n").strip()
    if len(note) > NOTE_MAX:
        raise AnnotationError(f"the note is {len(note)} characters long; at most {NOTE_MAX}.")
    if _controls(note, allow_newline=True):
        raise AnnotationError("the note holds a control character; use plain text and line breaks.")
    return note


@dataclass(frozen=True)
class Annotations:
    """A run's name, tags and note, and who last changed them and when (epoch seconds)."""

    name: str = ""
    tags: tuple[str, ...] = ()
    note: str = ""
    updated: float | None = None
    updated_by: str | None = None
    history: tuple[dict[str, Any], ...] = field(default_factory=tuple)  # the last few changes

    def __post_init__(self) -> None:
        check_name(self.name)
        check_note(self.note)
        tags = tuple(check_tag(t) for t in self.tags)
        if len(tags) > TAGS_MAX:
            raise AnnotationError(f"a run has at most {TAGS_MAX} tags; it would have {len(tags)}.")
        object.__setattr__(self, "tags", tags)

    @property
    def empty(self) -> bool:
        return not (self.name or self.tags or self.note)

    def with_tag(self, tag: str) -> Annotations:
        """These annotations plus ``tag`` (a tag already there, in any case, is kept once)."""
        tag = check_tag(tag)
        if tag.lower() in (t.lower() for t in self.tags):
            return self
        return replace(self, tags=(*self.tags, tag))

    def without_tag(self, tag: str) -> Annotations:
        """These annotations less ``tag`` (case-insensitive); a tag that is not there is an error,
        so a typo is noticed instead of silently doing nothing."""
        kept = tuple(t for t in self.tags if t.lower() != tag.strip().lower())
        if len(kept) == len(self.tags):
            shown = ", ".join(self.tags) or "none"
            raise AnnotationError(f"the run has no tag {_shown(tag)} (its tags: {shown}).")
        return replace(self, tags=kept)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": 1,
            "name": self.name,
            "tags": list(self.tags),
            "note": self.note,
            "updated": self.updated,
            "updated_by": self.updated_by,
            "history": list(self.history),
        }

    @classmethod
    def from_dict(cls, data: Any) -> Annotations:
        """The annotations in a sidecar's JSON; anything malformed reads as none (a hand-edited
        file must not make the run unreadable)."""
        if not isinstance(data, dict):
            return cls()
        try:
            tags = data.get("tags") or []
            history = data.get("history") or []
            updated = data.get("updated")
            by = data.get("updated_by")
            return cls(
                name=data["name"] if isinstance(data.get("name"), str) else "",
                tags=tuple(str(t) for t in tags) if isinstance(tags, list) else (),
                note=data["note"] if isinstance(data.get("note"), str) else "",
                updated=float(updated) if isinstance(updated, (int, float)) else None,
                updated_by=str(by) if isinstance(by, str) else None,
                history=tuple(h for h in history if isinstance(h, dict))[-HISTORY_KEPT:]
                if isinstance(history, list)
                else (),
            )
        except (AnnotationError, TypeError, ValueError):
            return cls()


HISTORY_KEPT = 20  # changes remembered in the sidecar (who changed what, when)


def read(run_path: str | Path) -> Annotations:
    """The run's annotations (none when it has no sidecar, or one that cannot be read)."""
    try:
        text = (Path(run_path) / FILE).read_text(encoding="utf-8")
        return Annotations.from_dict(json.loads(text))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return Annotations()


@contextlib.contextmanager
def _locked(run_path: Path) -> Iterator[None]:
    """An exclusive lock on the run's annotations while one change reads and writes them (best
    effort: a store on a file system without locks still gets whole-file writes)."""
    try:
        import fcntl
    except ImportError:  # not on POSIX
        yield
        return
    try:
        fd = os.open(run_path / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        yield
        return
    try:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def write(run_path: str | Path, annotations: Annotations) -> None:
    """Write ``annotations`` beside the run, whole or not at all (temporary file, then rename)."""
    run_path = Path(run_path)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=".tmp-annotations-", suffix=".json", dir=run_path)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(annotations.to_dict(), out, ensure_ascii=False, indent=1)
        os.replace(tmp, run_path / FILE)
        tmp = None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise AnnotationError(
            f"run {run_path.name!r}: its name, tags and note cannot be saved ({reason})."
        ) from exc
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def update(
    run_path: str | Path,
    *,
    name: str | None = None,
    add_tags: tuple[str, ...] | list[str] = (),
    remove_tags: tuple[str, ...] | list[str] = (),
    tags: tuple[str, ...] | list[str] | None = None,
    note: str | None = None,
    by: str | None = None,
) -> Annotations:
    """Change the run's annotations and return them as saved: ``name`` / ``note`` when given
    ('' clears), ``tags`` replaces them all, then ``add_tags`` and ``remove_tags``. Everything is
    checked before anything is written, so a bad value changes nothing."""
    run_path = Path(run_path)
    if not run_path.is_dir():
        raise AnnotationError(f"no run {run_path.name!r} in the run store.")
    with _locked(run_path):
        current = read(run_path)
        new = current
        if name is not None:
            new = replace(new, name=check_name(name))
        if note is not None:
            new = replace(new, note=check_note(note))
        if tags is not None:
            new = replace(new, tags=())
            for tag in tags:
                new = new.with_tag(tag)
        for tag in add_tags:
            new = new.with_tag(tag)
        for tag in remove_tags:
            new = new.without_tag(tag)
        if new == current:
            return current
        changed = [k for k in ("name", "tags", "note") if getattr(new, k) != getattr(current, k)]
        now = time.time()
        entry = {"at": now, "by": by, "changed": changed}
        new = replace(
            new, updated=now, updated_by=by, history=(*current.history, entry)[-HISTORY_KEPT:]
        )
        write(run_path, new)
        return new
