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
from recsys_core.models.afm import AFM
from recsys_core.models.autoint import AutoInt
from recsys_core.models.dcn import DCN
from recsys_core.models.dcn_v2 import DCNV2
from recsys_core.models.deep_fefm import DeepFEFM
from recsys_core.models.deepfm import DeepFM
from recsys_core.models.dlrm import DLRM
from recsys_core.models.dnn import DNNModel
from recsys_core.models.fgcnn import FGCNN
from recsys_core.models.fibinet import FiBiNET
from recsys_core.models.flen import FLEN
from recsys_core.models.fm import FactorizationMachine
from recsys_core.models.fwfm import FwFM
from recsys_core.models.nfm import NFM
from recsys_core.models.pnn import PNN
from recsys_core.models.wide_deep import WideDeep
from recsys_core.models.xdeepfm import XDeepFM

__all__ = [
    "AFM",
    "DCN",
    "DCNV2",
    "DLRM",
    "FGCNN",
    "FLEN",
    "MODELS",
    "NFM",
    "PNN",
    "AutoInt",
    "DNNModel",
    "DeepFEFM",
    "DeepFM",
    "FactorizationMachine",
    "FiBiNET",
    "FwFM",
    "HParam",
    "InteractionModel",
    "ModelEntry",
    "WideDeep",
    "XDeepFM",
    "build_model",
    "get_entry",
    "register",
    "resolve_hparams",
]
