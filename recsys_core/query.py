"""A page's URL query parameters, read once and checked, for every dashboard page.

Links to the dashboard are shared, bookmarked and edited by hand, so ``?row=99999``, ``?row=²``,
``?layer=abc``, ``?view=nonsense`` or ``?run=../etc`` arrive. Each page used to parse them its own
way: some raised a traceback (``int("²")``, a number input given a value over its maximum), some
fell back silently — a link to a deleted run opened another run without a word. :class:`PageQuery`
reads every parameter the same way: a value that cannot be used becomes a problem (one line each,
shown together as :meth:`PageQuery.message`) and the page goes on with the default, except the run:
a run that is named but cannot be shown raises :class:`RunStoreError`, so the page says which run
and why instead of drawing another one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from recsys_core.errors import RunStoreError
from recsys_core.runs.store import RUN_ID, RunStore

QUOTE_CHARS = 60  # a value quoted in a message is cut to this many characters
_INTEGER = re.compile(r"[+-]?[0-9]{1,12}")  # ASCII digits only: "²".isdigit() is True


def quoted(value: str) -> str:
    """``value`` as a message quotes it: repr'd, and cut so a long URL cannot flood the page."""
    return repr(value if len(value) <= QUOTE_CHARS else value[: QUOTE_CHARS - 1] + "…")


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


class PageQuery:
    """The query parameters of one page view (``st.query_params.to_dict()``), checked on read.

    Every ``read`` returns a usable value; what was wrong with the URL collects in
    :attr:`problems` (one line each), which the page shows once, as :attr:`message`.
    """

    def __init__(self, params: Mapping[str, Any]) -> None:
        self.params: dict[str, str] = {}
        for key, value in params.items():
            if isinstance(value, (list, tuple)):  # a repeated parameter: the last one wins
                value = value[-1] if value else ""
            self.params[str(key)] = str(value)
        self.problems: list[str] = []

    def __contains__(self, name: str) -> bool:
        return bool(self.params.get(name, "").strip())

    def raw(self, name: str) -> str:
        """The parameter as given, stripped ('' when absent)."""
        return self.params.get(name, "").strip()

    @property
    def message(self) -> str | None:
        """Every problem found so far, as one message (None when the URL was fine)."""
        if not self.problems:
            return None
        return " ".join(self.problems)

    def text(self, name: str, default: str = "", limit: int = 200) -> str:
        """Free text (a search box): at most ``limit`` characters, without line breaks."""
        value = self.params.get(name)
        if value is None:
            return default
        value = " ".join(value.split())
        if len(value) > limit:
            self.problems.append(f"{_cap(name)} is longer than {limit} characters: it was cut.")
            value = value[:limit]
        return value

    def choice(
        self, name: str, options: Sequence[str], default: str | None = None, what: str | None = None
    ) -> str | None:
        """One of ``options`` (``default`` when absent or unknown; unknown is a problem)."""
        value = self.raw(name)
        if not value:
            return default
        if value in options:
            return value
        what = what or name
        shown = ", ".join(map(str, list(options)[:12])) + (", …" if len(options) > 12 else "")
        fallback = f"; showing {default}" if default is not None else ""
        self.problems.append(f"Unknown {what} {quoted(value)} (one of: {shown}){fallback}.")
        return default

    def integer(self, name: str, low: int, high: int, default: int, what: str | None = None) -> int:
        """A whole number in ``[low, high]``: ``default`` when absent or not a number, the nearest
        bound when out of range (each a problem)."""
        value = self.raw(name)
        if not value:
            return default
        what = what or name
        if not _INTEGER.fullmatch(value):
            self.problems.append(
                f"{_cap(what)} {quoted(value)} is not a number; showing {what} {default}."
            )
            return default
        number = int(value)
        if low <= number <= high:
            return number
        nearest = min(max(number, low), high)
        span = f"{low}" if low == high else f"{low} to {high}"
        self.problems.append(
            f"{_cap(what)} {number} is out of range ({span}); showing {what} {nearest}."
        )
        return nearest

    def flag(self, name: str, default: bool = False) -> bool:
        """``1`` / ``0`` (also true/false, yes/no); anything else is a problem."""
        value = self.raw(name).lower()
        if not value:
            return default
        if value in ("1", "true", "yes", "on"):
            return True
        if value in ("0", "false", "no", "off"):
            return False
        self.problems.append(f"{_cap(name)} {quoted(self.raw(name))} is not 0 or 1.")
        return default

    def run(self, name: str, ids: Sequence[str], store: RunStore, kind: str = "") -> str | None:
        """The run named by parameter ``name`` when it is one of ``ids`` (None when absent).

        A run that is named but cannot be shown raises :class:`RunStoreError` with the reason a
        visitor can act on, never the store's location: an invalid id, a run that does not exist
        (deleted, or a mistyped link), a run that is damaged. A run that exists but is not of this
        page's ``kind`` (an attention page given a DLRM run) is a problem, and None is returned.
        """
        value = self.raw(name)
        if not value:
            return None
        if value in ids:
            return value
        if not RUN_ID.match(value) or value in (".", ".."):
            raise RunStoreError(
                f"{quoted(value)} is not a run id (letters, digits, '.', '_' and '-'): the link "
                "is malformed."
            )
        try:
            store.open(value)
        except RunStoreError:
            if not (store.root / value).is_dir():
                raise RunStoreError(
                    f"Run {quoted(value)} does not exist (it may have been deleted)."
                ) from None
            raise  # the store's reason names the run and says what is wrong with it
        showing = f"; showing {ids[0]}" if ids else ""
        self.problems.append(f"Run {quoted(value)} is not {kind or 'shown on this page'}{showing}.")
        return None

    def runs(self, name: str, ids: Sequence[str], store: RunStore, limit: int) -> list[str]:
        """The runs named by parameter ``name``, comma-separated (``?runs=a,b,c``), each checked as
        :meth:`run` checks one (a named run that is gone or damaged raises); repeats are dropped,
        and runs past the first ``limit`` are a problem."""
        named = list(dict.fromkeys(r.strip() for r in self.raw(name).split(",") if r.strip()))
        found: list[str] = []
        for value in named:
            run = PageQuery({"run": value})  # one run's checks; its problems become ours
            picked = run.run("run", ids, store)
            self.problems += run.problems
            if picked is not None:
                found.append(picked)
        if len(found) > limit:
            self.problems.append(
                f"{len(found)} runs in the link; showing the first {limit} ({', '.join(found[limit:])} left out)."  # fmt: skip
            )
        return found[:limit]
