"""Which fields a model-agnostic map substitutes: one per input column, or the model's own blocks.

A model consumes its continuous columns as one block (``"continuous"``: DLRM's bottom MLP input,
one projected vector in the FM family), so its own fields hide them: a category x price
interaction shows up, at best, as category x continuous. Substitution methods (TII, Archipelago,
the pair detail) need no such block; they can swap any part of the input. With ``"columns"`` (the
default) every continuous column is its own field: substituting it replaces that one column of the
block and leaves the block's other columns as they were. ``"blocks"`` keeps the model's fields.

A sine/cosine pair (``hour_of_day_sin`` and ``hour_of_day_cos``) is one column field
(``hour_of_day``): the two encode one quantity, and swapping one without the other makes a point
off the unit circle that no data row has.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from recsys_core.errors import RecsysCoreError
from recsys_core.features.spec import CONTINUOUS_FIELD

GRANULARITIES = ("columns", "blocks")
GRANULARITY_TITLES = {
    "columns": "one per input column",
    "blocks": "the model's blocks",
}
DEFAULT_GRANULARITY = "columns"

# An input key owned whole (``"user_id"``) or one column of a 2-D input (``("continuous", 2)``).
KeyPart = str | tuple[str, int]


def check_granularity(value: Any) -> str:
    """``value`` when it is a granularity; otherwise one clear error line."""
    if value not in GRANULARITIES:
        raise RecsysCoreError(
            f"unknown field granularity {value!r}; use one of: {', '.join(GRANULARITIES)}."
        )
    return str(value)


@dataclass(frozen=True)
class FieldLayout:
    """The fields of a model-agnostic map and the parts of the model input each one owns.

    ``keys[f]``: what substituting field ``f`` replaces (see ``KeyPart``); ``columns[f]``: the
    table's continuous columns behind ``f`` (empty for a categorical or multi-hot field);
    ``blocks[f]``: the model field ``f`` is part of (itself for a whole field).
    """

    granularity: str
    fields: list[str]
    keys: dict[str, list[KeyPart]]
    columns: dict[str, list[str]]
    blocks: dict[str, str]

    def groups(self, spec: Any) -> dict[str, str]:
        """The heatmap group of each field: a column's own group where the table gives one, else
        its block's, so the columns of one block sit together on the axes."""
        block_group = spec.group_of(CONTINUOUS_FIELD)
        out = {}
        for f in self.fields:
            if self.blocks[f] == f:  # a model field: its group as the model's own maps give it
                out[f] = spec.group_of(f)
                continue
            given = [spec.groups[c] for c in self.columns[f] if c in spec.groups]
            out[f] = given[0] if given else block_group
        return out

    def describe(self) -> str:
        """A clause for a map's description: which fields were substituted."""
        if self.granularity == "blocks":
            if CONTINUOUS_FIELD in self.fields:
                return "fields: the model's own, its continuous columns as one block"
            return "fields: the model's own"
        if any(self.blocks[f] != f for f in self.fields):
            return "fields: one per input column, each continuous column swapped on its own"
        return "fields: one per input column"

    def extra(self) -> dict[str, Any]:
        """What a map's ``extra`` records: the granularity and the block of every split field."""
        return {
            "fields": self.granularity,
            "blocks": {f: b for f, b in self.blocks.items() if b != f},
        }


def _column_fields(columns: Sequence[str], taken: set[str]) -> dict[str, list[int]]:
    """Continuous columns as fields: each on its own, a ``X_sin``/``X_cos`` pair as one ``X`` (unless
    ``X`` already names a field or column)."""
    out: dict[str, list[int]] = {}
    names = list(columns)
    seen: set[int] = set()
    for k, name in enumerate(names):
        if k in seen:
            continue
        base, _, suffix = name.rpartition("_")
        twin = f"{base}_{'cos' if suffix == 'sin' else 'sin'}" if suffix in ("sin", "cos") else ""
        if twin in names and base not in taken and base not in names and base not in out:
            pair = sorted([k, names.index(twin)])
            out[base] = pair
            seen.update(pair)
        else:
            out[name] = [k]
            seen.add(k)
    return out


def field_layout(
    model_fields: Sequence[str], spec: Any, granularity: str = DEFAULT_GRANULARITY
) -> FieldLayout:
    """The fields a substitution method uses for a model with fields ``model_fields`` trained on
    ``spec``: its own fields (``"blocks"``), or the continuous block split into its columns, in
    the block's place (``"columns"``)."""
    granularity = check_granularity(granularity)
    fields: list[str] = []
    keys: dict[str, list[KeyPart]] = {}
    columns: dict[str, list[str]] = {}
    blocks: dict[str, str] = {}
    cont = list(spec.continuous)
    for f in map(str, model_fields):
        if f == CONTINUOUS_FIELD and granularity == "columns" and cont:
            taken = set(map(str, model_fields))
            for name, idx in _column_fields(cont, taken).items():
                fields.append(name)
                keys[name] = [(CONTINUOUS_FIELD, i) for i in idx]
                columns[name] = [cont[i] for i in idx]
                blocks[name] = CONTINUOUS_FIELD
            continue
        fields.append(f)
        keys[f] = [f]
        columns[f] = cont if f == CONTINUOUS_FIELD else []
        blocks[f] = f
    return FieldLayout(granularity, fields, keys, columns, blocks)
