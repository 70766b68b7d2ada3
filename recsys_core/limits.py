"""Budgets checked before work starts, each declared once: name, default, variable, unit.

A small file can ask for a great deal: a 0.55 MB Parquet file decodes to 30 million rows, and a
table of 3,000 columns and 20 rows asks a pairwise model for 4.5 million field pairs and ~24 GB.
Such a request is refused up front, in one line that names the limit, the value found and the
environment variable that raises it, before the memory is allocated; the command line and the
dashboard meet the same refusal because the checks sit where tables are read
(:mod:`recsys_core.data.user_table`), where a run is prepared (:mod:`recsys_core.training.pipeline`)
and where a model is built (:func:`recsys_core.models.registry.build_model`).

The defaults never block the project's own uses: MovieLens 100K (1 M cells, about 12 fields, models
of up to a few million parameters), the tests, and the 10 M-row Criteo-shaped benchmark, which
streams its Parquet file in batches (:mod:`recsys_core.data.criteo`) and never decodes it whole.

A setting's value is read at every check, so a server picks up a change without a restart of the
code that reads it; a value that is not a positive number (``nan``, ``inf``, ``-1``, ``0``, text)
is a :class:`~recsys_core.errors.SettingError` naming the variable, never a silent default.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from recsys_core.errors import LimitError, SettingError, TrainingError

if TYPE_CHECKING:
    from recsys_core.features.spec import FeatureSpec

SEED_MAX = 2**32 - 1  # NumPy's and Keras' seeds are unsigned 32-bit integers


@dataclass(frozen=True)
class Limit:
    """One budget: ``name`` as the refusal says it, a ``default`` that ``env`` overrides, the
    ``unit`` counted, and what it protects (``description``, shown in the README's table).
    ``whole``: the value counts things (a positive integer); otherwise any positive number."""

    name: str
    default: int | float
    env: str
    unit: str
    description: str
    whole: bool = True

    def value(self) -> int | float:
        """The limit in force: ``$env`` when set, else the default; a bad value: SettingError."""
        raw = os.environ.get(self.env)
        if raw is None or not raw.strip():
            return self.default
        try:
            value = float(raw.strip())
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or value <= 0 or (self.whole and not value.is_integer()):
            kind, default = ("whole number", f"{self.default:,}") if self.whole else (
                "number", f"{self.default:g}")  # fmt: skip
            raise SettingError(
                f"{self.env} must be a positive {kind} of {self.unit} (the {self.name} limit; "
                f"default {default}), got {raw!r}."
            )
        return int(value) if self.whole else value

    def check(self, found: int, subject: str, detail: str = "") -> None:
        """Refuse ``found`` over the limit: "<subject> <found> <unit> (<detail>), over the ..."."""
        limit = self.value()
        if found > limit:
            extra = f" ({detail})" if detail else ""
            raise LimitError(
                f"{subject} {found:,} {self.unit}{extra}, over the {self.name} limit of "
                f"{limit:,}; set {self.env} to {found} or more to allow it."
            )


UPLOAD_MB = Limit(
    "upload size", 200.0, "RECSYS_CORE_MAX_UPLOAD_MB", "megabytes",
    "size of a table file, checked before it is read (keep Streamlit's `server.maxUploadSize` at "
    "least as large)", whole=False,
)  # fmt: skip
TABLE_CELLS = Limit(
    "table-cell", 50_000_000, "RECSYS_CORE_MAX_CELLS", "cells",
    "rows × columns a table decodes to (list items counted one by one), checked from a Parquet "
    "file's metadata before decoding and right after a CSV is parsed",
)  # fmt: skip
FIELDS = Limit(
    "field", 500, "RECSYS_CORE_MAX_FIELDS", "fields",
    "feature columns a model embeds (its field × field maps have this many rows)",
)  # fmt: skip
PAIRS = Limit(
    "pair", 5_000, "RECSYS_CORE_MAX_PAIRS", "field pairs",
    "pairwise interaction terms F(F-1)/2 of the models that form every pair (DLRM, PNN, AFM, "
    "FwFM, FiBiNET, DeepFEFM, FGCNN, AutoInt); 5,000 is about 100 fields",
)  # fmt: skip
PARAMS = Limit(
    "parameter", 100_000_000, "RECSYS_CORE_MAX_PARAMS", "parameters",
    "weights of a model, estimated from its embedding tables (vocabulary sizes × embedding width) "
    "before it is built and counted exactly before training",
)  # fmt: skip
BAG_LENGTH = Limit(
    "bag-length", 1_000, "RECSYS_CORE_MAX_BAG_LENGTH", "items",
    "items in one multi-hot cell (every row of the column is padded to the longest)",
)  # fmt: skip
EPOCHS = Limit(
    "epoch", 10_000, "RECSYS_CORE_MAX_EPOCHS", "epochs",
    "epochs one training may ask for",
)  # fmt: skip
TRAININGS = Limit(
    "concurrent-training", 1, "RECSYS_CORE_MAX_TRAININGS", "trainings",
    "trainings that run at once in a dashboard server; the others wait in a queue",
)  # fmt: skip
QUEUED = Limit(
    "queue", 50, "RECSYS_CORE_MAX_QUEUED", "jobs",
    "jobs that may wait at once; past that, a submission is refused",
)  # fmt: skip

JOB_MEMORY_MB = Limit(
    "job memory", 8192, "RECSYS_CORE_JOB_MEMORY_MB", "megabytes",
    "resident memory of one job's process (a training or a check, with the ~0.7 GB that JAX, XLA "
    "and the libraries take) before its worker kills it; never more than 3/4 of the machine's",
)  # fmt: skip
JOB_TIMEOUT_S = Limit(
    "job time", 14_400, "RECSYS_CORE_JOB_TIMEOUT_S", "seconds",
    "how long one job may run before its worker stops it",
)  # fmt: skip

LIMITS: tuple[Limit, ...] = (
    UPLOAD_MB, TABLE_CELLS, FIELDS, PAIRS, PARAMS, BAG_LENGTH, EPOCHS, TRAININGS, QUEUED,
    JOB_MEMORY_MB, JOB_TIMEOUT_S,
)  # fmt: skip


def check_settings() -> dict[str, int | float]:
    """Every limit's value by variable name; the first bad setting raises a SettingError.

    The command line calls it at start, so a deployment's mistyped variable is reported in one line
    before any work, whichever command meets it first.
    """
    return {limit.env: limit.value() for limit in LIMITS}


def max_trainings() -> int:
    """``$RECSYS_CORE_MAX_TRAININGS`` (default 1): trainings a dashboard server runs at once."""
    return int(TRAININGS.value())


def max_queued() -> int:
    """``$RECSYS_CORE_MAX_QUEUED`` (default 50): jobs that may wait for a worker at once."""
    return int(QUEUED.value())


def pair_count(fields: int) -> int:
    """F(F-1)/2: the field pairs a model that forms every pair computes a term for."""
    return fields * (fields - 1) // 2


def check_pairs(model: str, fields: int) -> None:
    """Refuse a pairwise model on so many fields that its F(F-1)/2 terms are over the pair limit."""
    PAIRS.check(pair_count(fields), f"{model} on {fields:,} fields forms")


def check_fields(spec: FeatureSpec, subject: str) -> None:
    """Refuse a feature spec with more fields than ``$RECSYS_CORE_MAX_FIELDS`` allows.

    Every field gets an embedding table and a row and a column in each field × field map; a table
    of thousands of columns asks a model for far more memory than its file size suggests.
    """
    detail = f"{len(spec.sparse_fields):,} categorical or multi-hot columns"
    if spec.continuous:
        detail += f" and one field for the {len(spec.continuous):,} continuous columns"
    FIELDS.check(len(spec.fields), f"{subject} has", detail)


def check_seed(value: int, what: str) -> None:
    """Seeds are unsigned 32-bit integers (NumPy, Keras); anything else fails deep in training."""
    if not 0 <= value <= SEED_MAX:
        raise TrainingError(f"{what} must be in 0..{SEED_MAX} (2^32-1), got {value}.")
