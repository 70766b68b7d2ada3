"""Column roles for a user's table: inferred from the values, overridable per column, explained.

``infer_schema(df, target)`` gives every column other than the target a role — ``categorical``,
``multi-hot``, ``continuous`` or ``ignore`` — with the reason in words, and builds the
:class:`FeatureSpec` the models train on. Rules, in order:

* every cell missing, or one value only → ``ignore`` (with a note; name a role to force it);
* cells holding lists (Parquet list columns), ``[...]`` list literals or ``|`` / ``;`` / ``,``
  separated items that recur across cells (``"Action|Comedy"``) → ``multi-hot``;
* true/false → ``categorical``; dates and times → ``continuous`` (seconds since 1970);
* numbers: integer ids (a name such as ``user_id``, ``itemId``, ``zip``, ``code``) and columns with at
  most :data:`LOW_CARDINALITY` distinct values → ``categorical``, other numbers → ``continuous``;
* text → ``categorical``, unless every value differs (a row key, ``ignore``).

The target is never a feature. Roles given by the caller win over inference.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from recsys_core.errors import DataError
from recsys_core.features.spec import TASKS, FeatureSpec

ROLES = ("categorical", "multi-hot", "continuous", "ignore")
ROLE_ALIASES = {"multi_hot": "multi-hot", "multihot": "multi-hot", "numeric": "continuous"}
LOW_CARDINALITY = 20  # numbers with at most this many distinct values are treated as categories
SAMPLE = 100_000  # values looked at to detect delimiters and list literals
LIST_LITERAL = "[list]"  # ``delimiters`` marker: cells are "['a', 'b']" literals
DELIMITERS = ("|", ";", ",")
_ID_NAME = re.compile(r"(^|[_\W])(id|ids|key|code|zip|zipcode|postcode)$", re.IGNORECASE)
_CAMEL_ID = re.compile(r"[a-z0-9](Id|ID|Key|Code)$")
SCHEMA_COLUMNS = ("column", "role", "group", "kind", "distinct", "missing", "example", "reason")


def normalize_role(role: str) -> str:
    r = ROLE_ALIASES.get(str(role).strip().lower(), str(role).strip().lower())
    if r not in ROLES:
        raise DataError(f"unknown column role {role!r}; use one of {', '.join(ROLES)}.")
    return r


def _id_like(name: str) -> bool:
    return bool(_ID_NAME.search(name) or _CAMEL_ID.search(name)) or name.lower() in ("uid", "iid")


def _is_listlike(value: Any) -> bool:
    return isinstance(value, list | tuple | set | np.ndarray)


def _kind(s: pd.Series, listlike: bool) -> str:
    if listlike:
        return "list"
    if pd.api.types.is_bool_dtype(s):
        return "bool"
    if pd.api.types.is_datetime64_any_dtype(s):
        return "date/time"
    if pd.api.types.is_integer_dtype(s):
        return "integer"
    if pd.api.types.is_float_dtype(s):
        return "number"
    return "text"


def _example(value: Any) -> str:
    text = str(list(value)) if isinstance(value, np.ndarray) else str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def split_items(value: Any, delimiter: str | None) -> list[str]:
    """The items of one multi-hot cell as strings: a list, a list literal or a delimited string."""
    if value is None or (not _is_listlike(value) and pd.isna(value)):
        return []
    if _is_listlike(value):
        return [str(v) for v in value if v is not None and not (isinstance(v, float) and v != v)]
    text = str(value).strip()
    if delimiter == LIST_LITERAL or (text.startswith("[") and text.endswith("]")):
        try:
            parsed = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            parsed = [t.strip(" '\"") for t in text[1:-1].split(",")]
        if _is_listlike(parsed):
            return [str(v) for v in parsed if str(v) != ""]
        return [str(parsed)]
    if delimiter is None:
        return [text] if text else []
    return [t.strip() for t in text.split(delimiter) if t.strip()]


def detect_delimiter(strings: pd.Series, force: bool = False) -> str | None:
    """The separator of multi-item text cells, or None when the cells look like single values.

    ``|`` counts when at least 5 % of the cells hold it; ``;`` and ``,`` also need their items to
    recur across cells (fewer distinct items than distinct cells), so "Paris, France" stays a value.
    ``force``: the caller says the column is multi-hot; pick the most frequent separator.
    """
    strings = strings.astype(str).str.strip()
    if len(strings) > SAMPLE:
        strings = strings.sample(SAMPLE, random_state=0)
    if len(strings) == 0:
        return None
    literal = strings.str.startswith("[") & strings.str.endswith("]")
    if literal.mean() >= 0.9:
        return LIST_LITERAL
    distinct = strings.nunique()
    best, best_frac = None, 0.0
    for d in DELIMITERS:
        frac = float(strings.str.contains(d, regex=False).mean())
        if frac > best_frac:
            best, best_frac = d, frac
        if frac < (0.05 if d == "|" else 0.1):
            continue
        if d != "|":
            items = strings.str.split(d, regex=False).explode().str.strip()
            if items[items != ""].nunique() >= distinct:
                continue
        return d
    if force:
        return best if best_frac > 0 else (" " if strings.str.contains(" ").any() else "|")
    return None


def _infer_column(name: str, s: pd.Series) -> tuple[str, str, str | None]:
    """(role, reason, delimiter) for one feature column."""
    nonnull = s[s.notna()]
    n = len(nonnull)
    if n == 0:
        return "ignore", "every value is missing", None
    if _is_listlike(nonnull.iloc[0]):
        items = {v for bag in nonnull.iloc[:SAMPLE] for v in split_items(bag, None)}
        return "multi-hot", f"cells hold lists ({len(items)} distinct items)", None
    if pd.api.types.is_bool_dtype(s):
        distinct = nonnull.nunique()
        if distinct <= 1:
            return "ignore", f"constant: every value is {nonnull.iloc[0]!r}", None
        return "categorical", "true / false", None
    distinct = int(nonnull.nunique())
    if distinct <= 1:
        return "ignore", f"constant: every value is {_example(nonnull.iloc[0])!r}", None
    if pd.api.types.is_datetime64_any_dtype(s):
        return "continuous", "date / time, used as seconds since 1970", None
    if pd.api.types.is_numeric_dtype(s):
        integral = bool(np.all(np.mod(nonnull.to_numpy(dtype="float64"), 1.0) == 0.0))
        if integral and _id_like(name):
            if distinct == n and n >= LOW_CARDINALITY:
                return "ignore", "a different id in every row (a row key?)", None
            return (
                "categorical",
                f"integer ids ({distinct} distinct; the name looks like an id)",
                None,
            )
        if distinct <= LOW_CARDINALITY:
            return "categorical", f"numbers with only {distinct} distinct values", None
        return "continuous", f"numbers with {distinct} distinct values", None
    strings = nonnull.astype(str)
    delimiter = detect_delimiter(strings)
    if delimiter is not None:
        bags = strings.iloc[:SAMPLE].map(lambda v: split_items(v, delimiter))
        items = {v for bag in bags for v in bag}
        how = "list literals" if delimiter == LIST_LITERAL else f"{delimiter!r}-separated items"
        return "multi-hot", f"{how} ({len(items)} distinct)", delimiter
    if distinct == n and n >= LOW_CARDINALITY:
        return "ignore", "a different value in every row (a row key or free text?)", None
    numbers = pd.to_numeric(strings, errors="coerce")
    bad = numbers.isna()
    if bad.sum() > 0 and bad.mean() <= 0.1:
        pos = int(np.flatnonzero(bad.to_numpy())[0])
        row = int(np.flatnonzero(s.notna().to_numpy())[pos]) + 1
        return (
            "categorical",
            f"mostly numbers, but row {row} holds {strings.iloc[pos]!r}: kept as categories",
            None,
        )
    return "categorical", f"text with {distinct} distinct values", None


@dataclass
class InferredSchema:
    """The role of every column, why, and the :class:`FeatureSpec` they make.

    ``table``: one row per column (the target first) with ``column, role, group, kind, distinct,
    missing, example, reason``. ``delimiters``: how multi-hot text cells split into items.
    """

    table: pd.DataFrame
    target: str
    task: str = "regression"
    binary_threshold: float | None = None
    delimiters: dict[str, str] = field(default_factory=dict)

    def roles(self) -> dict[str, str]:
        """Feature columns and their roles (the target left out)."""
        rows = self.table[self.table["role"] != "target"]
        return dict(zip(rows["column"], rows["role"], strict=True))

    def groups(self) -> dict[str, str]:
        rows = self.table[~self.table["role"].isin(("target", "ignore"))]
        return {c: g for c, g in zip(rows["column"], rows["group"], strict=True) if g != "context"}

    @property
    def spec(self) -> FeatureSpec:
        """The feature specification; a :class:`DataError` when no column is left to learn from."""
        roles = self.roles()
        by_role = {r: tuple(c for c, v in roles.items() if v == r) for r in ROLES}
        if not (by_role["categorical"] or by_role["multi-hot"] or by_role["continuous"]):
            notes = "; ".join(
                f"{c!r}: {r}"
                for c, r in zip(self.table["column"], self.table["reason"], strict=True)
                if c != self.target
            )
            raise DataError(
                f"no feature column is left: every column other than the target {self.target!r} "
                f"is ignored ({notes or 'the table has no other column'})."
            )
        return FeatureSpec(
            categorical=by_role["categorical"],
            multi_hot=by_role["multi-hot"],
            continuous=by_role["continuous"],
            target=self.target,
            task=self.task,
            binary_threshold=self.binary_threshold,
            groups=self.groups(),
        )

    def records(self) -> list[dict[str, Any]]:
        """The schema table as JSON-ready rows (saved with a run)."""
        return [
            {k: (int(v) if isinstance(v, np.integer) else v) for k, v in row.items()}
            for row in self.table.to_dict(orient="records")
        ]

    def to_text(self) -> str:
        return self.table.to_string(index=False)


def infer_schema(
    df: pd.DataFrame,
    target: str,
    task: str = "regression",
    binary_threshold: float | None = None,
    roles: dict[str, str] | None = None,
    groups: dict[str, str] | None = None,
) -> InferredSchema:
    """Roles of ``df``'s columns for predicting ``target``; ``roles`` and ``groups`` override.

    Unknown column names (in ``target``, ``roles`` or ``groups``) raise a :class:`DataError` that
    lists the table's columns.
    """
    columns = [str(c) for c in df.columns]
    if task not in TASKS:
        raise DataError(f"task must be one of {TASKS}, got {task!r}.")
    if target not in columns:
        raise DataError(f"the target column {target!r} is not in the table; its columns are {columns}.")  # fmt: skip
    given = {str(c): normalize_role(r) for c, r in (roles or {}).items()}
    groups = {str(c): str(g).strip() or "context" for c, g in (groups or {}).items()}
    for what, names in (("role", given), ("group", groups)):
        unknown = [c for c in names if c not in columns]
        if unknown:
            raise DataError(f"columns {unknown} (given a {what}) are not in the table; its columns are {columns}.")  # fmt: skip
    if target in given and given[target] != "ignore":
        raise DataError(f"the target {target!r} cannot also be a feature ({given[target]}).")
    rows, delimiters = [], {}
    for col in columns:
        s = df[col]
        nonnull = s[s.notna()]
        listlike = len(nonnull) > 0 and _is_listlike(nonnull.iloc[0])
        try:
            distinct = (
                len({v for bag in nonnull.iloc[:SAMPLE] for v in split_items(bag, None)})
                if listlike
                else int(nonnull.nunique())
            )
        except TypeError:  # unhashable cells of mixed kinds
            distinct = int(nonnull.astype(str).nunique())
        row = {
            "column": col,
            "kind": _kind(s, listlike),
            "distinct": distinct,
            "missing": int(len(s) - len(nonnull)),
            "example": _example(nonnull.iloc[0]) if len(nonnull) else "",
        }
        if col == target:
            rows.insert(0, {**row, "role": "target", "group": "", "reason": "the label to predict (never a feature)"})  # fmt: skip
            continue
        role, reason, delimiter = _infer_column(col, s)
        if col in given and given[col] != role:
            role, reason = given[col], f"given (inferred: {role}, {reason})"
            if role == "multi-hot" and not listlike:
                delimiter = detect_delimiter(nonnull.astype(str), force=True)
        elif col in given:
            reason = f"given ({reason})"
        if role == "multi-hot" and delimiter is not None:
            delimiters[col] = delimiter
        group = groups.get(col, "context") if role != "ignore" else ""
        rows.append({**row, "role": role, "group": group, "reason": reason})
    table = pd.DataFrame(rows, columns=list(SCHEMA_COLUMNS))
    return InferredSchema(table, target, task, binary_threshold, delimiters)


def parse_groups(text: str | None) -> dict[str, str]:
    """``"user:user_id,age;item:item_id"`` -> ``{"user_id": "user", "age": "user", "item_id": "item"}``."""
    out: dict[str, str] = {}
    for part in (text or "").split(";"):
        if not part.strip():
            continue
        if ":" not in part:
            raise DataError(f"--groups expects GROUP:COL,COL;GROUP:COL, got {part.strip()!r}.")
        group, cols = part.split(":", 1)
        for col in (c.strip() for c in cols.split(",")):
            if col:
                if col in out and out[col] != group.strip():
                    raise DataError(f"column {col!r} is given two groups ({out[col]}, {group.strip()}).")  # fmt: skip
                out[col] = group.strip()
    return out


def suggest_target(df: pd.DataFrame) -> str:
    """A likely label column: a conventional name, else the last column."""
    names = [str(c) for c in df.columns]
    for wanted in ("target", "label", "rating", "user_rating", "click", "clicked", "clicks", "y", "score"):  # fmt: skip
        for c in names:
            if c.lower() == wanted:
                return c
    return names[-1]
