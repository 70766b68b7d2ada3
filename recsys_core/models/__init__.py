"""The model zoo: short compositions of ``recsys_core.layers``, selectable by name.

Each model module registers itself in ``registry.MODELS`` when imported; importing this package
imports them all.
"""

from recsys_core.models.base import InteractionModel
from recsys_core.models.registry import (
    MODELS,
    HParam,
    ModelEntry,
    build_model,
    get_entry,
    register,
    resolve_hparams,
)

# isort: split
from recsys_core.models.dlrm import DLRM

# --- models A ---
# --- models B ---

__all__ = [
    "DLRM",
    "MODELS",
    "HParam",
    "InteractionModel",
    "ModelEntry",
    "build_model",
    "get_entry",
    "register",
    "resolve_hparams",
]
