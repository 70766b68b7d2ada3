"""Errors the library raises for bad input; each names the problem so the UI and CLI can show it."""

from __future__ import annotations

import errno
import os
import re


class RecsysCoreError(Exception):
    """Base class: a message meant for the user, shown without a traceback."""


class DataError(RecsysCoreError, ValueError):
    """A table, column or data set is missing, malformed or fails verification."""


class TrainingError(RecsysCoreError, RuntimeError):
    """Training could not proceed (diverged loss, cancelled, bad settings)."""


class RunStoreError(RecsysCoreError):
    """A run id is invalid, a run is missing, or a saved run is corrupted."""


class LimitError(DataError):
    """The input is over one of the budgets in :mod:`recsys_core.limits` (table cells, fields,
    pairs, parameters, bag length, epochs); the message names the limit, the value found and the
    environment variable that raises it. A ``DataError`` because it is the data (or the model the
    data asks for) that is too large, and it is raised before the work that would need memory."""


class SettingError(RecsysCoreError, ValueError):
    """An environment variable that configures the library holds a value it cannot use."""


# Text that frames an exception rather than saying what went wrong: Keras wraps a layer's error in
# "Exception encountered when calling X.call()." and appends the arguments it received.
_FRAMING = re.compile(
    r"^(Traceback \(most recent call last\)|File \"|Exception encountered when calling"
    r"|Arguments received by|•|During handling of the above exception"
    r"|The above exception was the direct cause|-{3,}|\^+$)"
)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
MESSAGE_CHARS = 300  # a message line longer than this is cut: a terminal shows it in a few rows


def one_line(text: str, limit: int = MESSAGE_CHARS) -> str:
    """The first meaningful line of ``text``, whitespace collapsed, cut to ``limit`` characters.

    Keras, XLA and Arrow raise messages of dozens of lines (the layer's arguments, an HLO dump); a
    user reads the sentence that says what went wrong, and the rest goes to a log. Framing lines
    (see ``_FRAMING``) and terminal colour codes are skipped.
    """
    lines = [" ".join(line.split()) for line in _ANSI.sub("", str(text)).splitlines()]
    lines = [line for line in lines if line]
    meaningful = [line for line in lines if not _FRAMING.match(line)]
    line = (meaningful or lines or [""])[0]
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def wrap(cls: type[RecsysCoreError], message: str, exc: BaseException) -> RecsysCoreError:
    """``cls("message: <the first meaningful line of exc>")``, raised ``from exc`` by the caller.

    The message stays one line however long the library's text is; the whole text travels as the
    exception's ``__cause__``, which the command line writes to its log.
    """
    return cls(f"{message}: {one_line(str(exc)) or type(exc).__name__}")


DISK_FULL_ERRNOS = frozenset(e for e in (errno.ENOSPC, getattr(errno, "EDQUOT", None)) if e)


def is_disk_full(exc: BaseException | None) -> bool:
    """Whether ``exc`` or an exception it was raised from says the disk (or a quota) is full.

    h5py and zipfile, which Keras saves with, may re-raise the operating system's error with its
    text but without its errno, so the text counts too.
    """
    seen = 0
    while exc is not None and seen < 16:  # a chain, never a cycle; 16 is far deeper than real ones
        if isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS:
            return True
        if "No space left on device" in str(exc) or "Disk quota exceeded" in str(exc):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def storage_error(exc: BaseException, what: str, where: str | os.PathLike[str]) -> RunStoreError:
    """A one-line RunStoreError for an OSError while writing ``what`` into ``where``.

    A full disk says so (and that nothing was kept); anything else gives the system's reason.
    """
    if is_disk_full(exc):
        return RunStoreError(
            f"the disk is full: {what} could not be written to {os.fspath(where)} (no space left "
            "on device); nothing was saved. Free some space or write to another disk."
        )
    reason = getattr(exc, "strerror", None) or one_line(str(exc)) or type(exc).__name__
    return RunStoreError(f"{what} could not be written to {os.fspath(where)}: {reason}.")


def from_os_error(exc: OSError) -> RecsysCoreError:
    """One line for an OSError that reached the top: a full disk says so, and names the file."""
    where = exc.filename if exc.filename is not None else "a file"
    if is_disk_full(exc):
        return RecsysCoreError(
            f"the disk is full: {os.fsdecode(where)} could not be written (no space left on "
            "device)."
        )
    reason = exc.strerror or one_line(str(exc)) or type(exc).__name__
    return RecsysCoreError(f"{os.fsdecode(where)}: {reason}.")
