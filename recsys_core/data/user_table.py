"""Your own table: read a CSV / Parquet file, infer or take the column roles, check and prepare it.

``load_user_table(path, target)`` reads the file (:func:`read_table`), gives each column a role
(:func:`recsys_core.features.infer.infer_schema`, overridable) and returns a :class:`UserTable`: the
table as the models need it (:func:`prepare_table`), its :class:`FeatureSpec`, the schema with the
reason for each role, and a description saved with the run (file name, rows, schema).

Files: ``.csv`` (UTF-8, a byte-order mark is fine), ``.tsv``, ``.parquet`` / ``.pq``. The size is
checked before anything is read: at most ``$RECSYS_CORE_MAX_UPLOAD_MB`` MB (default 200). Every problem
is a :class:`DataError` naming the column and, for bad values, an example and its row (rows counted
from 1 after the header).

Preparation: categorical columns become text (a missing value is the category ``"(missing)"``),
multi-hot cells lists of text (a missing cell is an empty list), continuous columns floats (dates as
seconds since 1970; missing or non-numeric values are errors). Only the target and the feature columns
are kept, so the held-out rows a run keeps round-trip through Parquet.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recsys_core import limits
from recsys_core.errors import DataError, wrap
from recsys_core.features.infer import InferredSchema, infer_schema, split_items
from recsys_core.features.spec import CONTINUOUS_FIELD, FeatureSpec

MAX_UPLOAD_ENV = limits.UPLOAD_MB.env  # declared in recsys_core.limits
DEFAULT_MAX_UPLOAD_MB = limits.UPLOAD_MB.default
FORMATS = {".csv": "csv", ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet"}
TABLE_DATASET = "table"  # RunConfig.dataset of a run trained on a user's table
MISSING = "(missing)"
MIN_ROWS = 10


def max_upload_bytes() -> int:
    """The size limit for a table file: ``$RECSYS_CORE_MAX_UPLOAD_MB`` (default 200) megabytes.

    ``nan``, ``inf``, zero, negative or non-numeric values are a SettingError naming the variable
    (see :data:`recsys_core.limits.UPLOAD_MB`): an ``inf`` would silently lift the limit.
    """
    return int(limits.UPLOAD_MB.value() * 1024 * 1024)


# Arrow column types a model can use. A list of them is a multi-hot column; anything nested deeper
# (a struct, a map, a list of structs or of lists) has no role a model could give it: pandas decodes
# it to dicts, which no role can embed.
SUPPORTED_TYPES = "numbers, text, true/false, dates and times, and lists of those (multi-hot)"


def _nested(arrow_type: Any) -> str | None:
    """What makes a Parquet column's Arrow type unusable ('a struct', 'a list of maps'), or None."""
    import pyarrow as pa

    def kind(t: Any) -> str:
        for test, word in ((pa.types.is_struct, "struct"), (pa.types.is_map, "map"),
                           (pa.types.is_union, "union")):  # fmt: skip
            if test(t):
                return word
        return "list"

    def listlike(t: Any) -> bool:
        tests = ("is_list", "is_large_list", "is_fixed_size_list", "is_list_view",
                 "is_large_list_view")  # fmt: skip
        return any(getattr(pa.types, name, lambda _: False)(t) for name in tests)

    t = arrow_type.value_type if pa.types.is_dictionary(arrow_type) else arrow_type
    if listlike(t):
        inner = t.value_type
        inner = inner.value_type if pa.types.is_dictionary(inner) else inner
        return f"a list of {kind(inner)}s" if pa.types.is_nested(inner) else None
    return f"a {kind(t)}" if pa.types.is_nested(t) else None


def _check_cells(name: str, rows: int, columns: int, values: int = 0) -> None:
    """Refuse a table that decodes to more cells than ``$RECSYS_CORE_MAX_CELLS`` allows.

    ``values``: the cells a Parquet file's metadata counts, list items one by one; a few list
    cells can hold millions of items.
    """
    cells = rows * columns
    if values > cells:
        subject = f"{name!r} decodes to {rows:,} rows × {columns:,} columns whose list items make"
        limits.TABLE_CELLS.check(values, subject)
    limits.TABLE_CELLS.check(cells, f"{name!r} decodes to {rows:,} rows × {columns:,} columns =")


def _check_parquet(source: Any, name: str) -> None:
    """Check a Parquet file from its metadata alone, before a byte of it is decoded.

    Row counts and per-column value counts are in the footer, so a small file that would decode to
    30 million rows, or a nested column no role fits, is refused without decoding it.
    """
    import pyarrow.parquet as pq

    with pq.ParquetFile(source) as pf:
        schema, meta = pf.schema_arrow, pf.metadata
        for column in schema:
            what = _nested(column.type)
            if what is not None:
                shown = str(column.type)  # a struct of many fields would fill the line
                shown = shown if len(shown) <= 60 else shown[:59] + "…"
                raise DataError(
                    f"{name!r}: column {column.name!r} is {what} ({shown}), a nested type "
                    f"no model can use; supported column types are {SUPPORTED_TYPES}. Flatten it "
                    "into plain columns or drop it."
                )
        values = sum(
            meta.row_group(g).column(c).num_values
            for g in range(meta.num_row_groups)
            for c in range(meta.num_columns)
        )
        _check_cells(name, meta.num_rows, len(schema), values)


def _format_of(name: str) -> str:
    suffix = Path(name).suffix.lower()
    if suffix not in FORMATS:
        raise DataError(
            f"{name!r}: unsupported file type {suffix or '(none)'!r}; use a CSV (.csv, .tsv) or "
            "Parquet (.parquet, .pq) file."
        )
    return FORMATS[suffix]


def _encoding_error(name: str, exc: UnicodeDecodeError, head: bytes) -> DataError:
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        what = "it is UTF-16 text (Excel's 'Unicode Text')"
    else:
        bad = exc.object[exc.start : exc.start + 1]
        what = f"byte 0x{bad.hex()} at position {exc.start} is not UTF-8 (Latin-1 or Windows-1252?)"
    return DataError(
        f"{name!r} is not UTF-8 text: {what}. Save it as UTF-8 (in Excel: 'CSV UTF-8') and try again."
    )


def _safe_names(df: pd.DataFrame) -> dict[str, str]:
    """Rename columns models cannot use as field names ('/' in a name, the reserved 'continuous')."""
    renamed, taken = {}, {str(c) for c in df.columns}
    for col in df.columns:
        name = str(col).strip()
        new = name.replace("/", "_") or "column"
        if new == CONTINUOUS_FIELD:
            new = f"{CONTINUOUS_FIELD}_"
        while new != col and new in taken:
            new += "_"
        if new != col:
            renamed[str(col)] = new
            taken.add(new)
    return renamed


def read_table(
    source: str | Path | bytes, name: str | None = None, max_bytes: int | None = None
) -> pd.DataFrame:
    """Read a CSV / TSV / Parquet table from a path or from the file's bytes (``name`` gives the type).

    The size is checked first (``max_bytes``, default :func:`max_upload_bytes`). Columns named with a
    '/' or named 'continuous' are renamed (``df.attrs["renamed"]``); ``df.attrs`` also holds the file
    ``name``, ``format`` and ``bytes``.
    """
    limit = max_upload_bytes() if max_bytes is None else max_bytes
    if isinstance(source, bytes | bytearray | memoryview):
        data, name = bytes(source), name or "table.csv"
        size, handle = len(data), None
    else:
        path = Path(source)
        name = name or path.name
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise DataError(f"no such file: {str(path)!r}.") from None
        except OSError as exc:
            raise DataError(f"{str(path)!r} cannot be read: {exc.strerror or exc}.") from exc
        if not path.is_file():
            raise DataError(f"{str(path)!r} is not a file.")
        data, handle = None, path
    fmt = _format_of(name)
    if size > limit:
        raise DataError(
            f"{name!r} is {size / 2**20:.1f} MB, over the {limit / 2**20:.0f} MB limit "
            f"(set {MAX_UPLOAD_ENV} to allow larger files)."
        )
    if size == 0:
        raise DataError(f"{name!r} is empty (0 bytes).")
    src = io.BytesIO(data) if data is not None else handle
    try:
        if fmt == "parquet":
            _check_parquet(io.BytesIO(data) if data is not None else handle, name)
            df = pd.read_parquet(src)
        else:
            df = pd.read_csv(
                src,
                sep="\t" if fmt == "tsv" else ",",
                encoding="utf-8-sig",
                low_memory=False,
                skipinitialspace=True,
            )
    except UnicodeDecodeError as exc:
        if data is not None:
            head = data[:4]
        else:
            with open(handle, "rb") as fh:
                head = fh.read(4)
        raise _encoding_error(name, exc, head) from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{name!r} holds no table: no header and no rows.") from None
    except pd.errors.ParserError as exc:
        raise wrap(DataError, f"{name!r} is not a well-formed {fmt.upper()} file", exc) from exc
    except DataError:
        raise
    except Exception as exc:  # pyarrow and the CSV reader raise many types for a damaged file
        kind = "Parquet" if fmt == "parquet" else fmt.upper()
        raise wrap(DataError, f"{name!r} cannot be read as {kind}", exc) from exc
    if len(df.columns) == 0:
        raise DataError(f"{name!r} has no columns.")
    if len(df) == 0:
        raise DataError(f"{name!r} is empty: it has the columns {list(map(str, df.columns))} but no rows.")  # fmt: skip
    if fmt != "parquet":  # a Parquet file's cells were counted from its metadata
        _check_cells(name, len(df), len(df.columns))
    renamed = _safe_names(df)
    df = df.rename(columns=renamed) if renamed else df
    df.columns = [str(c) for c in df.columns]
    df.attrs.update({"name": name, "format": fmt, "bytes": size, "renamed": renamed})
    return df


def _row(s: pd.Series, mask: np.ndarray) -> tuple[int, Any]:
    """(1-based row, value) of the first row where ``mask`` holds."""
    pos = int(np.flatnonzero(mask)[0])
    value = s.iloc[pos]
    return pos + 1, value.item() if isinstance(value, np.generic) else value


def _count(n: int, what: str) -> str:
    return f"{n} {what}" + ("" if n == 1 else "s")


def _target(df: pd.DataFrame, spec: FeatureSpec) -> pd.Series:
    t, s = spec.target, df[spec.target]
    missing = s.isna().to_numpy()
    if missing.all():
        raise DataError(f"the target column {t!r} has no values: every cell is missing.")
    if missing.any():
        row, _ = _row(s, missing)
        raise DataError(
            f"the target column {t!r} has {_count(int(missing.sum()), 'missing value')} (the first in row "
            f"{row}); drop or fill those rows."
        )
    if pd.api.types.is_bool_dtype(s):
        s = s.astype("int64")
    y = pd.to_numeric(s, errors="coerce")
    bad = y.isna().to_numpy()
    if bad.any():
        row, value = _row(s, bad)
        raise DataError(f"the target column {t!r} must be numeric: row {row} holds {value!r}.")
    values = y.to_numpy(dtype="float64")
    if not np.isfinite(values).all():
        row, value = _row(s, ~np.isfinite(values))
        raise DataError(f"the target column {t!r} holds {value!r} in row {row}.")
    if spec.task == "binary":
        if spec.binary_threshold is None:
            off = ~np.isin(values, (0.0, 1.0))
            if off.any():
                row, value = _row(s, off)
                raise DataError(
                    f"the target column {t!r} is not binary: a binary task needs 0/1 labels, but row "
                    f"{row} holds {value!r}. Give a threshold (--binary-threshold) to count values "
                    ">= it as 1, or train a regression."
                )
            labels = values
        else:
            labels = (values >= spec.binary_threshold).astype("float64")
        if len(np.unique(labels)) < 2:
            how = (
                "" if spec.binary_threshold is None else f" with threshold {spec.binary_threshold}"
            )
            raise DataError(
                f"the target column {t!r} gives only one class ({int(labels[0])}){how}; a binary "
                "task needs both 0 and 1."
            )
    if spec.task == "regression" and np.all(values == values[0]):
        raise DataError(
            f"the target column {t!r} holds {_row(s, np.ones(len(s), dtype=bool))[1]!r} in every row: a "
            "constant target leaves a regression nothing to learn. Choose another target column."
        )
    return y.astype("float64")


def _categorical(s: pd.Series) -> pd.Series:
    if pd.api.types.is_float_dtype(s):
        nonnull = s.dropna()
        if len(nonnull) and np.all(np.mod(nonnull.to_numpy(), 1.0) == 0.0):
            s = s.astype("Int64")  # 3.0 -> "3" (integers with gaps are read as floats)
    out = s.astype(str)
    out[s.isna().to_numpy()] = MISSING
    return out.astype(object)


def _continuous(col: str, s: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(s):
        ts = pd.to_datetime(s, utc=True)
        values = (ts - pd.Timestamp(0, tz="UTC")).dt.total_seconds()
    elif pd.api.types.is_bool_dtype(s):
        values = s.astype("float64")
    else:
        values = pd.to_numeric(s, errors="coerce")
        bad = (values.isna() & s.notna()).to_numpy()
        if bad.any():
            row, value = _row(s, bad)
            raise DataError(
                f"continuous column {col!r} holds non-numeric values: row {row} holds {value!r} "
                f"({_count(int(bad.sum()), 'such row')}). Fix them, or make the column categorical."
            )
    values = values.astype("float64")
    missing = values.isna().to_numpy()
    if missing.any():
        row, _ = _row(s, missing)
        raise DataError(
            f"continuous column {col!r} has {_count(int(missing.sum()), 'missing value')} (the first in row "
            f"{row}); fill them, or make the column categorical or ignore it."
        )
    inf = ~np.isfinite(values.to_numpy())
    if inf.any():
        row, value = _row(s, inf)
        raise DataError(f"continuous column {col!r} holds {value!r} in row {row}.")
    return values


def prepare_table(
    df: pd.DataFrame, spec: FeatureSpec, delimiters: dict[str, str] | None = None
) -> pd.DataFrame:
    """Check ``df`` against ``spec`` and convert it to what the models read; a DataError otherwise.

    Returns only the target and the feature columns (plus ``timestamp`` when present, for a time
    split), in the spec's order, with a fresh index.
    """
    delimiters = delimiters or {}
    columns = [str(c) for c in df.columns]
    if len(df) == 0:
        raise DataError(f"the table is empty: it has the columns {columns} but no rows.")
    if spec.target not in df.columns:
        raise DataError(f"the target column {spec.target!r} is not in the table; its columns are {columns}.")  # fmt: skip
    features = [*spec.categorical, *spec.multi_hot, *spec.continuous]
    missing = [c for c in features if c not in df.columns]
    if missing:
        raise DataError(f"feature columns {missing} are not in the table; its columns are {columns}.")  # fmt: skip
    if not spec.sparse_fields:
        raise DataError(
            "the models need at least one categorical or multi-hot column to embed; every feature "
            f"column is continuous ({list(spec.continuous)})."
        )
    if len(df) < MIN_ROWS:
        raise DataError(f"the table has {len(df)} rows; training needs at least {MIN_ROWS}.")
    df = df.reset_index(drop=True)
    for col in features:
        if df[col].isna().all():
            raise DataError(
                f"column {col!r} has no values: every cell is missing. Set its role to ignore."
            )
    out = {spec.target: _target(df, spec)}
    for col in spec.categorical:
        out[col] = _categorical(df[col])
    for col in spec.multi_hot:
        d = delimiters.get(col)
        out[col] = pd.Series([split_items(v, d) for v in df[col]], dtype=object)
        lengths = out[col].map(len).to_numpy()
        longest = int(lengths.argmax())  # every row is padded to the longest bag: check it now
        limits.BAG_LENGTH.check(
            int(lengths[longest]), f"multi-hot column {col!r} has a cell (row {longest + 1}) of"
        )
    for col in spec.continuous:
        out[col] = _continuous(col, df[col])
    if "timestamp" in df.columns and "timestamp" not in out:
        ts = df["timestamp"]
        if pd.api.types.is_numeric_dtype(ts) and ts.notna().all():
            out["timestamp"] = ts
    return pd.DataFrame(out)


@dataclass
class UserTable:
    """A user's table ready to train on: prepared rows, spec, schema and a description for the run."""

    table: pd.DataFrame
    spec: FeatureSpec
    schema: InferredSchema
    info: dict[str, Any] = field(default_factory=dict)

    def run_data(self) -> dict[str, Any]:
        """What a run records about its data: file, rows, schema, spec (``RunConfig.data``)."""
        return {
            **self.info,
            "rows": len(self.table),
            "target": self.spec.target,
            "spec": self.spec.to_dict(),
            "delimiters": dict(self.schema.delimiters),
            "schema": self.schema.records(),
        }

    def describe(self) -> str:
        s = self.spec
        return (
            f"{self.info.get('name', 'table')}: {len(self.table):,} rows, target {s.target!r}, "
            f"{len(s.categorical)} categorical, {len(s.multi_hot)} multi-hot, "
            f"{len(s.continuous)} continuous"
        )


def build_user_table(
    df: pd.DataFrame,
    target: str,
    task: str = "regression",
    binary_threshold: float | None = None,
    roles: dict[str, str] | None = None,
    groups: dict[str, str] | None = None,
    name: str | None = None,
    path: str | None = None,
) -> UserTable:
    """Infer (or take) the roles of ``df``'s columns, check the table and prepare it."""
    renamed = dict(df.attrs.get("renamed", {}))

    def fix(names: dict[str, str] | None) -> dict[str, str]:
        return {renamed.get(k, k): v for k, v in (names or {}).items()}

    schema = infer_schema(
        df,
        renamed.get(target, target),
        task=task,
        binary_threshold=binary_threshold,
        roles=fix(roles),
        groups=fix(groups),
    )
    spec = schema.spec
    name = name or df.attrs.get("name") or "table"
    limits.check_fields(spec, repr(name))  # before the columns are converted
    table = prepare_table(df, spec, schema.delimiters)
    info: dict[str, Any] = {"name": name, "path": path, "columns": len(df.columns)}
    for key in ("format", "bytes"):
        if key in df.attrs:
            info[key] = df.attrs[key]
    if renamed:
        info["renamed"] = renamed
    return UserTable(table, spec, schema, info)


def load_user_table(
    source: str | Path | bytes,
    target: str,
    name: str | None = None,
    task: str = "regression",
    binary_threshold: float | None = None,
    roles: dict[str, str] | None = None,
    groups: dict[str, str] | None = None,
    max_bytes: int | None = None,
) -> UserTable:
    """Read a CSV / Parquet table (a path or its bytes with ``name``) and prepare it for training."""
    df = read_table(source, name=name, max_bytes=max_bytes)
    path = (
        None if isinstance(source, bytes | bytearray | memoryview) else str(Path(source).resolve())
    )
    out = build_user_table(df, target, task, binary_threshold, roles, groups, path=path)
    if isinstance(source, bytes | bytearray | memoryview):
        out.info["sha256"] = hashlib.sha256(source).hexdigest()
    return out


def table_from_run_data(data: dict[str, Any]) -> tuple[pd.DataFrame, FeatureSpec]:
    """Re-read a run's table from its recorded path with its recorded spec (to retrain a config)."""
    path = data.get("path")
    if not path:
        raise DataError(
            f"the run's table {data.get('name', '')!r} was uploaded, not read from a file: "
            "pass the table to train_run, or train from a file with --data."
        )
    try:
        spec = FeatureSpec.from_dict(data["spec"])
    except (KeyError, TypeError) as exc:
        raise DataError(f"the run's data description lacks a valid feature spec ({exc}).") from exc
    df = read_table(path)
    return prepare_table(df, spec, data.get("delimiters")), spec
