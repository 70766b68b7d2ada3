"""Models by name, each with its hyper-parameters (defaults, ranges, help) for the CLI and dashboard."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from recsys_core import limits
from recsys_core.errors import RecsysCoreError
from recsys_core.features.preprocessing import Preprocessor
from recsys_core.models.base import InteractionModel


@dataclass(frozen=True)
class HParam:
    """One hyper-parameter: ``kind`` is int, float, choice or ints (a list of layer widths)."""

    name: str
    default: Any
    help: str
    kind: str = "int"
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()

    def parse(self, value: Any) -> Any:
        """Coerce a CLI/UI value and check its range; raise naming the parameter."""
        try:
            if self.kind == "ints":
                items = value.split(",") if isinstance(value, str) else value
                parsed: Any = [int(v) for v in items if str(v).strip()]
                values = parsed
            elif self.kind == "choice":
                if value not in self.choices:
                    raise ValueError(f"must be one of {list(self.choices)}")
                return value
            else:
                parsed = int(value) if self.kind == "int" else float(value)
                values = [parsed]
        except (TypeError, ValueError) as exc:
            raise RecsysCoreError(f"hyper-parameter {self.name}={value!r}: {exc}") from None
        for v in values:
            if (self.low is not None and v < self.low) or (self.high is not None and v > self.high):
                raise RecsysCoreError(
                    f"hyper-parameter {self.name}={value!r} is out of range [{self.low}, {self.high}]."
                )
        return parsed

    @property
    def group(self) -> str:
        """Where the dashboard lists it: embeddings, interaction, deep part or regularisation."""
        name = self.name
        if name.endswith("_l2") or "dropout" in name:
            return "regularisation"
        if name.startswith("embedding") or name == "fg_embedding":
            return "embeddings"
        if name in ("dnn", "top_mlp", "bottom_mlp", "structure"):
            return "deep part"
        return "interaction"


HPARAM_GROUPS = ("embeddings", "interaction", "deep part", "regularisation")


@dataclass(frozen=True)
class ModelEntry:
    name: str
    title: str
    description: str
    cls: type[InteractionModel]
    hparams: tuple[HParam, ...] = field(default_factory=tuple)

    def defaults(self) -> dict[str, Any]:
        return {h.name: h.default for h in self.hparams}


# Hyper-parameters many models share; model modules reuse these objects.
EMBEDDING = HParam("embedding_dim", 8, "Width of every field's embedding vector.", low=1, high=512)
EMB_L2 = HParam(
    "embedding_l2", 1e-4, "L2 penalty on the whole embedding tables, every step.", "float", 0.0, 1.0
)
EMB_BATCH_L2 = HParam(
    "embedding_batch_l2",
    0.0,
    "Per-example L2 on the embedding rows each batch looks up (and on the continuous field's "
    "vector), as in SGD matrix factorisation.",
    "float",
    0.0,
    10.0,
)
# Models whose interactions are explicit products of embeddings (FM, PNN, DeepFM, DLRM, ...) default
# to 0.13, the best of 0.03 to 0.3 for FM and DeepFM on MovieLens 100K; deep-only models keep 0.
PRODUCT_BATCH_L2 = dataclasses.replace(EMB_BATCH_L2, default=0.13)
DNN = HParam("dnn", [256, 128], "Hidden widths of the deep part.", "ints", 1, 4096)
DROPOUT = HParam("dropout", 0.0, "Dropout between hidden layers.", "float", 0.0, 0.9)

MODELS: dict[str, ModelEntry] = {}


def register(entry: ModelEntry) -> ModelEntry:
    """Add a model to the zoo under ``entry.name`` (model modules call this at import)."""
    if entry.name in MODELS and MODELS[entry.name] is not entry:
        raise ValueError(f"model name {entry.name!r} is registered twice.")
    names = [h.name for h in entry.hparams]
    if len(set(names)) != len(names):
        raise ValueError(f"model {entry.name!r} lists a hyper-parameter twice: {names}.")
    MODELS[entry.name] = entry
    return entry


def get_entry(name: str) -> ModelEntry:
    import recsys_core.models  # noqa: F401  (importing the package registers every model)

    if name not in MODELS:
        raise RecsysCoreError(f"unknown model {name!r}; available: {', '.join(sorted(MODELS))}.")
    return MODELS[name]


def resolve_hparams(name: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Defaults of ``name`` updated with validated ``overrides``; unknown names are an error."""
    entry = get_entry(name)
    params = entry.defaults()
    known = {h.name: h for h in entry.hparams}
    for key, value in (overrides or {}).items():
        if key not in known:
            raise RecsysCoreError(
                f"model {name!r} has no hyper-parameter {key!r}; it has {sorted(known)}."
            )
        params[key] = known[key].parse(value)
    return params


def build_model(
    name: str,
    preprocessor: Preprocessor,
    hparams: dict[str, Any] | None = None,
    output_bias: float | None = None,
) -> InteractionModel:
    """Instantiate and build model ``name`` for the fields ``preprocessor`` was fitted on.

    The pair and parameter budgets (:mod:`recsys_core.limits`) are checked before the model is
    constructed, from the field count and the embedding tables, and the exact parameter count
    again once it is built: the CLI, the dashboard and any script that builds through here get the
    same refusal before training allocates an optimizer's state for it.
    """
    params = resolve_hparams(name, hparams)
    if output_bias is None:
        output_bias = _initial_bias(preprocessor)
    cls = get_entry(name).cls
    fields = len(preprocessor.spec.fields)
    if cls.forms_pairs:
        limits.check_pairs(name, fields)
    rows, dim = embedding_rows(preprocessor), int(params.get("embedding_dim", EMBEDDING.default))
    limits.PARAMS.check(
        rows * dim, f"{name} on these fields would have at least",
        f"embedding tables of {rows:,} rows × width {dim}",
    )  # fmt: skip
    # Optional hook: a model that needs more than tables/continuous from the feature spec (e.g. FLEN's
    # field groups) defines classmethod ``from_preprocessor_kwargs(preprocessor) -> dict``.
    hook = getattr(cls, "from_preprocessor_kwargs", None)
    extra = dict(hook(preprocessor)) if hook is not None else {}
    model = cls(
        tables=preprocessor.tables(),
        continuous=list(preprocessor.spec.continuous),
        output_bias=output_bias,
        output_range=preprocessor.target_range,
        name=name,
        **{**extra, **params},
    )
    model.build()
    limits.PARAMS.check(int(model.count_params()), f"{name} on these fields has")
    return model


def embedding_rows(preprocessor: Preprocessor) -> int:
    """Rows of the embedding tables every model of the zoo holds, each ``embedding_dim`` wide.

    Their total times the width is a lower bound of a model's parameters known before it is built,
    and on a table with large vocabularies it is most of them.
    """
    return sum(int(t["vocab_size"]) for t in preprocessor.tables())


def _initial_bias(pre: Preprocessor) -> float:
    """Start the output at the training mean (or its log-odds), so early epochs learn structure."""
    import math

    m = pre.target_mean
    if pre.spec.task == "binary":
        m = min(max(m, 1e-4), 1 - 1e-4)
        return math.log(m / (1 - m))
    return m
