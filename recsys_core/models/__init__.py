"""The model zoo: short compositions of ``recsys_core.layers``, selectable by name."""

from recsys_core.models.base import InteractionModel
from recsys_core.models.dlrm import DLRM
from recsys_core.models.registry import MODELS, HParam, build_model, get_entry, resolve_hparams

__all__ = [
    "DLRM",
    "MODELS",
    "HParam",
    "InteractionModel",
    "build_model",
    "get_entry",
    "resolve_hparams",
]
