"""Does an interaction method find planted interactions? Recovery AUC against known ground truth.

``planted_check`` trains a registered model on a table from ``recsys_core.data.planted`` (known
pairwise terms, exact true TII), estimates the model's total interaction index
(``recsys_core.analysis.tii``) on held-out rows and scores how well it ranks the planted pairs above
all other pairs — the ground-truth recovery protocol of interaction-detection papers (Tsang et al.,
"Detecting statistical interactions from neural network weights", ICLR 2018; Tsang et al.,
NeurIPS 2020), here on the DCN-V2 polynomial (Wang et al., WWW 2021) and CTR-shaped tables.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from recsys_core.analysis.matrix import InteractionMatrix
from recsys_core.analysis.tii import total_interaction_index
from recsys_core.data.planted import planted_table
from recsys_core.errors import RecsysCoreError
from recsys_core.training.health import Verdict, mark


def recovery_auc(
    matrix: InteractionMatrix | np.ndarray, true_pairs: Iterable[Any], fields=None
) -> float:
    """ROC-AUC of ranking the true pairs above the other off-diagonal pairs by the matrix values.

    Pairs are unordered, given by field names (or indices when ``matrix`` is an array without
    ``fields``); each pair scores (|m_ij| + |m_ji|) / 2, so directed maps (cross weights, attention)
    count both directions. Ties count one half, NaN values rank lowest. NaN when there is no true
    pair or no other pair.
    """
    if isinstance(matrix, InteractionMatrix):
        values, names = matrix.values, list(matrix.fields)
    else:
        values = np.asarray(matrix, dtype=float)
        names = list(fields) if fields is not None else list(range(len(values)))
    values = np.abs(values)
    values = (values + values.T) / 2.0
    index = {f: k for k, f in enumerate(names)}
    truth = set()
    for a, b in true_pairs:
        if a not in index or b not in index:
            raise RecsysCoreError(f"true pair ({a!r}, {b!r}) names a field not in the matrix.")
        truth.add(frozenset((index[a], index[b])))
    iu, ju = np.triu_indices(len(names), k=1)
    scores = values[iu, ju].astype(float)
    scores = np.where(np.isnan(scores), -np.inf, scores)
    labels = np.array([frozenset((i, j)) in truth for i, j in zip(iu, ju, strict=True)])
    pos, neg = scores[labels], scores[~labels]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    greater = (pos[:, None] > neg[None, :]).sum()
    ties = (pos[:, None] == neg[None, :]).sum()
    return float((greater + 0.5 * ties) / (len(pos) * len(neg)))


@dataclass
class PlantedCheck:
    """What ``planted_check`` found: the true and recovered sqrt(TII) matrices and the AUC."""

    model: str
    table: str
    seed: int
    truth: InteractionMatrix
    recovered: InteractionMatrix
    auc: float
    true_pairs: list[tuple[str, str]]
    test_metrics: dict[str, float] = field(default_factory=dict)
    train_seconds: float = 0.0
    native: dict[str, InteractionMatrix] = field(default_factory=dict)
    native_auc: dict[str, float] = field(default_factory=dict)
    score_std: float = float("nan")
    # did the model learn (training.health)? If not, its recovery AUC ranks noise and means nothing
    health: Verdict | None = None

    @property
    def meaningful(self) -> bool:
        """Whether the recovery numbers mean anything: False when the model did not learn (a
        model that learned nothing has maps of noise, whose recovery AUC is chance)."""
        return self.health is None or not self.health.warns

    @property
    def largest_ratio(self) -> float:
        """Largest recovered sqrt(TII) over the standard deviation of the model's score: on a
        control table (no planted pair) this is the false-positive size, 0 for a perfect model."""
        return float(np.nanmax(self.recovered.values) / self.score_std)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "table": self.table,
            "seed": self.seed,
            "auc": self.auc,
            "true_pairs": [list(p) for p in self.true_pairs],
            "test_metrics": dict(self.test_metrics),
            "train_seconds": self.train_seconds,
            "score_std": self.score_std,
            "largest_ratio": self.largest_ratio,
            "truth": self.truth.to_dict(),
            "recovered": self.recovered.to_dict(),
            "native_auc": dict(self.native_auc),
            "native": {k: m.to_dict() for k, m in self.native.items()},
            "health": None if self.health is None else self.health.to_dict(),
            "meaningful": self.meaningful,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PlantedCheck:
        """The check as :meth:`to_dict` wrote it (a worker process's result, read by the page)."""
        health = data.get("health")
        return cls(
            model=data["model"],
            table=data["table"],
            seed=int(data["seed"]),
            truth=InteractionMatrix.from_dict(data["truth"]),
            recovered=InteractionMatrix.from_dict(data["recovered"]),
            auc=float(data["auc"]),
            true_pairs=[tuple(p) for p in data.get("true_pairs", [])],
            test_metrics=dict(data.get("test_metrics", {})),
            train_seconds=float(data.get("train_seconds", 0.0)),
            native={k: InteractionMatrix.from_dict(m) for k, m in data.get("native", {}).items()},
            native_auc={k: float(v) for k, v in data.get("native_auc", {}).items()},
            score_std=float(data.get("score_std", float("nan"))),
            health=None if health is None else Verdict.from_dict(health),
        )


def _planted_defaults(model_name: str) -> dict[str, Any]:
    """Hyper-parameters a planted check overrides: the embedding penalties are tuned to
    MovieLens' 100,000 ratings and flatten the pair terms a small planted table can support, so
    the check trains without them (pass ``hparams`` to test a model exactly as configured)."""
    from recsys_core.models.registry import MODELS

    entry = MODELS.get(model_name)
    names = {h.name for h in entry.hparams} if entry else set()
    return {k: 0.0 for k in ("embedding_l2", "embedding_batch_l2") if k in names}


def planted_check(
    model_name: str = "dlrm",
    table_kind: str = "ctr",
    seed: int = 0,
    n_rows: int = 20_000,
    task: str | None = None,
    hparams: dict[str, Any] | None = None,
    train: Any = None,
    tii_rows: int = 2000,
    n_boot: int = 200,
    on_epoch: Any = None,
    cancel: Any = None,
    **table_kwargs: Any,
) -> PlantedCheck:
    """Train ``model_name`` on a planted ``table_kind`` table and score the recovered TII.

    ``train``: a ``TrainConfig`` (default: 8 epochs, batch 256, learning rate 0.01, seed ``seed``,
    enough for a DLRM to recover all four CTR pairs from 10,000 regression rows). The TII is
    estimated on the run's held-out rows (at most ``tii_rows``); so is every field x field native
    view of the model, each scored by the same recovery AUC (``native``, ``native_auc``).
    ``on_epoch``/``cancel`` are passed to the training (live progress in the dashboard).
    """
    from recsys_core.analysis.native import native_views
    from recsys_core.training.engine import TrainConfig, predict_scores
    from recsys_core.training.pipeline import RunConfig, train_run

    table, spec, truth = planted_table(
        table_kind, n_rows=n_rows, seed=seed, task=task, **table_kwargs
    )
    if train is None:
        train = TrainConfig(epochs=8, batch_size=256, learning_rate=1e-2, seed=seed)
    config = RunConfig(
        model=model_name,
        dataset=f"planted-{table_kind}",
        task=spec.task,
        hparams={**_planted_defaults(model_name), **(hparams or {})},
        train=train,
        split_seed=seed,
        refit=False,  # the check is of the analysis, not of the last bit of accuracy: twice as fast
    )
    run = train_run(config, table=table, spec=spec, on_epoch=on_epoch, cancel=cancel)
    # The planted truth names the continuous columns as one field, as the model's blocks do.
    recovered = total_interaction_index(
        run.model, run.preprocessor, run.holdout, n_rows=tii_rows, seed=seed, n_boot=n_boot,
        fields="blocks",
    )  # fmt: skip
    truth_matrix = truth.matrix()
    truth_matrix.groups = dict(recovered.groups)  # outline the same field groups on both maps
    if list(recovered.fields) != list(truth_matrix.fields):
        raise RecsysCoreError(
            f"model fields {recovered.fields} differ from the table's {truth_matrix.fields}."
        )
    recovered.extra["planted"] = {
        "table": table_kind,
        "seed": seed,
        "pairs": truth_matrix.extra["pairs"],
    }
    native: dict[str, InteractionMatrix] = {}
    for view in native_views(run.model):
        if view.shape != "matrix":
            continue
        # first layer/head; views that rebuild the initial model need the run's training seed
        seed_kw = {"seed": train.seed} if view.needs_seed else {}
        result = view.compute(run.model, run.preprocessor, run.holdout, **seed_kw)
        if list(result.fields) == list(truth_matrix.fields):
            native[view.name] = result
    scores = predict_scores(run.model, run.preprocessor.transform(run.holdout))
    if run.health is not None:  # the maps of a model that did not learn say so
        mark([recovered, *native.values()], run.health)
    return PlantedCheck(
        model=model_name,
        table=table_kind,
        seed=seed,
        truth=truth_matrix,
        recovered=recovered,
        auc=recovery_auc(recovered, truth.pairs),
        true_pairs=list(truth.pairs),
        test_metrics=dict(run.test_metrics),
        train_seconds=run.train_seconds,
        native=native,
        native_auc={k: recovery_auc(m, truth.pairs) for k, m in native.items()},
        score_std=float(np.std(scores)),
        health=run.health,
    )
