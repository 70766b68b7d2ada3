"""Did the run learn? A verdict on a trained run, from the numbers training already produces.

A model that learned nothing still has weights, so every interaction map of it draws something —
noise that looks like structure. The dashboard used to save such runs as "done" and draw their maps
as if they meant something. :func:`assess` answers "did this run learn?" with four checks:

(a) **finite**: no NaN / inf in the training losses, the validation and test metrics or the test
    predictions — otherwise the run *diverged*;
(b) **loss fell**: the training loss of the best epoch of the (early-stopped) fit is below the
    first epoch's by at least ``LOSS_DROP_MIN`` of it;
(c) **beats the trivial predictor** on the validation rows (the best epoch's metric) and on the
    test rows (the final model), each against the constant the training targets give, computed on
    the same rows: regression — the RMSE of predicting the training targets' mean; binary — the
    log loss of predicting the training base rate, and a ROC-AUC above 0.5 by ``NOISE_Z`` standard
    errors (Hanley & McNeil 1982, :func:`hanley_mcneil_se`);
(d) **predictions vary**: the spread of the test predictions is at least ``SPREAD_MIN`` of the
    labels' spread.

Any failed check makes the status ``"did not learn"`` (``"diverged"`` for (a)); all passed make it
``"learned"``. Runs saved before verdicts existed get what their ``run.json`` still supports
(:func:`verdict_of_run`): (a) and (b) from the saved history, and ``"unknown"`` when those pass —
the baselines need the training targets, which run.json does not keep.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from recsys_core.training.metrics import log_loss, rmse

LEARNED, NOT_LEARNED, DIVERGED, UNKNOWN = "learned", "did not learn", "diverged", "unknown"
IMPORTED = "imported"  # a model trained elsewhere (runs.imported): "imported: not trained here"
STATUSES = (LEARNED, NOT_LEARNED, DIVERGED, UNKNOWN, IMPORTED)

# --- Thresholds, declared once ---------------------------------------------------------------
# (b) Relative fall of the training loss, first epoch -> best epoch. A frozen model's loss moves by
# about 1e-6 per epoch under weight decay alone (and by ~1e-5 with a learning rate of 1e-7); any
# model that learns moves it by percents (MovieLens DLRM: 1.10 -> 0.62, a 44 % fall; a Criteo-shaped
# CTR table: 0.433 -> 0.404, 7 %). 0.1 % sits a hundred times above the first and far below the rest.
LOSS_DROP_MIN = 1e-3
# (c) Regression: the model's RMSE must be below the mean predictor's by at least 1 % of it (an R²
# of about 2 %). On few rows chance alone can buy that much: a prediction that is the mean plus
# noise, scaled at its best, lowers the MSE of n rows by z²/n (z its correlation with the labels in
# standard errors), so the RMSE by z²/(2n); the margin is the larger of 1 % and NOISE_Z²/(2n).
RMSE_MARGIN = 0.01
# (c) Binary: the model's log loss must be below the base rate's (the label entropy) by 0.5 % of it.
# Click signals are weak — a good CTR model gains 5-10 % — so the margin is half the regression one;
# the AUC test below is what rules out chance.
LOG_LOSS_MARGIN = 0.005
# (c) Standard errors a model must clear: AUC > 0.5 + NOISE_Z * SE(0.5). Three standard errors is a
# one-sided p of about 0.0013: a model that learned nothing passes about once in 700 runs.
NOISE_Z = 3.0
# (d) Standard deviation of the test predictions over that of the test labels. To beat the mean's
# MSE by 2 % (the 1 % RMSE margin) a prediction p needs 2cov(p, y) - var(p) >= 0.02·var(y), and
# cov(p, y) <= sd(p)·sd(y), so sd(p) >= 1 % of sd(y): below that, predictions are as good as constant.
SPREAD_MIN = 0.01


@dataclass(frozen=True)
class Check:
    """One check of a verdict with its numbers. ``passed`` is None when the check does not apply
    (one epoch only, no validation rows, a single class)."""

    name: str
    passed: bool | None
    detail: str
    value: float | None = None
    baseline: float | None = None
    threshold: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "passed": self.passed,
            "detail": self.detail,
            "value": _json_float(self.value),
            "baseline": _json_float(self.baseline),
            "threshold": _json_float(self.threshold),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Check:
        passed = data.get("passed")
        return cls(
            name=str(data.get("name", "")),
            passed=None if passed is None else bool(passed),
            detail=str(data.get("detail", "")),
            value=_read_float(data.get("value")),
            baseline=_read_float(data.get("baseline")),
            threshold=_read_float(data.get("threshold")),
        )


@dataclass(frozen=True)
class Verdict:
    """Did the run learn: ``status`` (one of ``STATUSES``), the one line a person reads
    (``summary``, starting with the status) and the checks behind it."""

    status: str
    summary: str
    checks: tuple[Check, ...] = field(default_factory=tuple)

    @property
    def learned(self) -> bool:
        return self.status == LEARNED

    @property
    def warns(self) -> bool:
        """Whether the run's maps must carry a warning: it did not learn or it diverged."""
        return self.status in (NOT_LEARNED, DIVERGED)

    @property
    def failed(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.passed is False)

    def check(self, name: str) -> Check | None:
        return next((c for c in self.checks if c.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "summary": self.summary,
            "checks": [c.to_dict() for c in self.checks],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Verdict:
        """The verdict back from :meth:`to_dict`; anything unreadable reads as ``"unknown"``."""
        status = data.get("status") if isinstance(data, Mapping) else None
        if status not in STATUSES:
            return unknown_verdict("the saved verdict is unreadable")
        checks = data.get("checks") or []
        return cls(
            status=str(status),
            summary=str(data.get("summary") or status),
            checks=tuple(Check.from_dict(c) for c in checks if isinstance(c, Mapping)),
        )


def _json_float(x: float | None) -> float | None:
    """JSON has no NaN: a non-finite number is saved as None (the check's detail says which)."""
    return None if x is None or not math.isfinite(x) else float(x)


def _read_float(x: Any) -> float | None:
    try:
        return None if x is None else float(x)
    except (TypeError, ValueError):
        return None


def unknown_verdict(why: str = "saved before health verdicts existed") -> Verdict:
    return Verdict(UNKNOWN, f"{UNKNOWN}: {why}", ())


# --- The numbers ------------------------------------------------------------------------------


def mean_predictor_rmse(train_targets: np.ndarray, targets: np.ndarray) -> float:
    """RMSE on ``targets`` of predicting the mean of ``train_targets`` for every row."""
    return rmse(targets, np.full(len(targets), float(np.mean(train_targets))))


def base_rate_log_loss(train_targets: np.ndarray, targets: np.ndarray) -> float:
    """Log loss on ``targets`` of predicting the base rate of ``train_targets`` for every row."""
    return log_loss(targets, np.full(len(targets), float(np.mean(train_targets))))


def hanley_mcneil_se(auc: float, n_pos: int, n_neg: int) -> float:
    """Standard error of a ROC-AUC from ``n_pos`` positives and ``n_neg`` negatives.

    Hanley & McNeil (1982), "The meaning and use of the area under a receiver operating
    characteristic (ROC) curve", Radiology 143(1):29-36, eq. 2: with Q1 = A/(2 - A) and
    Q2 = 2A²/(1 + A),

        SE² = [A(1 - A) + (n_pos - 1)(Q1 - A²) + (n_neg - 1)(Q2 - A²)] / (n_pos · n_neg).

    At A = 0.5 this is (n_pos + n_neg + 1) / (12 n_pos n_neg), the exact variance of the
    Mann-Whitney U / (n_pos n_neg) under no signal: the noise an AUC must clear. NaN with an
    empty class.
    """
    if n_pos < 1 or n_neg < 1 or not math.isfinite(auc):
        return float("nan")
    a = float(auc)
    q1, q2 = a / (2.0 - a), 2.0 * a * a / (1.0 + a)
    var = (a * (1 - a) + (n_pos - 1) * (q1 - a * a) + (n_neg - 1) * (q2 - a * a)) / (n_pos * n_neg)
    return math.sqrt(max(var, 0.0))


def rmse_margin(n_rows: int) -> float:
    """The relative RMSE gain a regression model must show on ``n_rows`` rows (see RMSE_MARGIN)."""
    return max(RMSE_MARGIN, NOISE_Z**2 / (2.0 * max(n_rows, 1)))


def _finite(x: Any) -> bool:
    try:
        return math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def _plain_pct(ratio: float) -> str:
    return f"{100.0 * ratio:.1f} %"


def _pct(ratio: float) -> str:
    """A relative change as '−16 %' (typographic minus)."""
    pct = 100.0 * ratio
    text = f"{abs(pct):.0f}" if abs(pct) >= 10 else f"{abs(pct):.1f}"
    return ("−" if pct < 0 else "+") + text + " %"


# --- The checks -------------------------------------------------------------------------------


def _finite_check(history: Sequence[Mapping[str, Any]], metrics: Mapping[str, Any]) -> Check:
    for row in history:
        for key, value in row.items():
            # the loss and validation metrics; an AUC is NaN with one class, which is no divergence
            if key != "loss" and (not key.startswith("val_") or key == "val_auc"):
                continue
            if not _finite(value):
                return Check("finite", False, f"the {key} of epoch {row.get('epoch')} is {value}")
    for key, value in metrics.items():
        if key != "auc" and not _finite(value):
            return Check("finite", False, f"the {key} is {value}")
    return Check("finite", True, "losses, metrics and predictions are finite")


def _losses(history: Sequence[Mapping[str, Any]]) -> list[float]:
    values = (_read_float(r.get("loss")) for r in history)
    return [v for v in values if v is not None]


def _loss_check(history: Sequence[Mapping[str, Any]]) -> Check:
    losses = _losses(history)
    if len(losses) < 2:
        return Check("loss_fell", None, "one epoch: no fall of the loss to measure")
    first, best = losses[0], min(losses)
    drop = (first - best) / abs(first) if first else 0.0
    ok = drop >= LOSS_DROP_MIN
    detail = (f"training loss {first:.4g} → {best:.4g} ({_pct(-drop)}; "
              f"needs −{_plain_pct(LOSS_DROP_MIN)})")  # fmt: skip
    return Check("loss_fell", ok, detail, best, first, LOSS_DROP_MIN)


def _baseline_check(
    where: str, task: str, value: float | None, train_targets: np.ndarray, targets: np.ndarray
) -> Check:
    """``where`` ("validation" / "test"): the model's primary metric ``value`` on ``targets``
    against the constant predictor from ``train_targets``, on the same rows."""
    name = f"{where}_vs_baseline"
    if value is None or len(targets) == 0:
        return Check(name, None, f"no {where} rows")
    if task == "binary":
        base, metric, what, margin = (
            base_rate_log_loss(train_targets, targets), "log loss", "the base rate",
            LOG_LOSS_MARGIN,
        )  # fmt: skip
    else:
        base, metric, what = mean_predictor_rmse(train_targets, targets), "RMSE", "the mean"
        margin = rmse_margin(len(targets))
    change = value / base - 1.0 if base > 0 else float("nan")
    ok = bool(base > 0 and value <= base * (1.0 - margin))
    detail = (f"{where} {metric} {value:.3f} vs {base:.3f} for {what} ({_pct(change)}; "
              f"needs −{_plain_pct(margin)})")  # fmt: skip
    return Check(name, ok, detail, float(value), base, margin)


def _auc_check(where: str, auc_value: float | None, targets: np.ndarray) -> Check:
    name = f"{where}_auc"
    y = np.asarray(targets).astype(bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if auc_value is None or n_pos == 0 or n_neg == 0 or not _finite(auc_value):
        return Check(name, None, f"no {where} AUC (a single class)")
    se = hanley_mcneil_se(0.5, n_pos, n_neg)
    z = (auc_value - 0.5) / se
    ok = bool(z >= NOISE_Z)
    detail = f"{where} AUC {auc_value:.3f}, {z:.1f} standard errors above 0.5 (SE {se:.3f}; needs {NOISE_Z:g})"  # fmt: skip
    return Check(name, ok, detail, float(auc_value), 0.5, 0.5 + NOISE_Z * se)


def _spread_check(predictions: np.ndarray | None, targets: np.ndarray) -> Check:
    if predictions is None or len(targets) < 2:
        return Check("prediction_spread", None, "no test predictions")
    p, y = np.asarray(predictions, "float64"), np.asarray(targets, "float64")
    if not np.isfinite(p).all():
        return Check("prediction_spread", False, "test predictions are not finite")
    label_sd = float(np.std(y))
    if label_sd == 0:
        return Check("prediction_spread", None, "the test labels are constant")
    ratio = float(np.std(p)) / label_sd
    detail = (f"predictions spread {_plain_pct(ratio)} of the labels' "
              f"(needs {_plain_pct(SPREAD_MIN)})")  # fmt: skip
    return Check("prediction_spread", ratio >= SPREAD_MIN, detail, ratio, label_sd, SPREAD_MIN)


def _best_row(history: Sequence[Mapping[str, Any]], best_epoch: int) -> Mapping[str, Any]:
    for row in history:
        if row.get("epoch") == best_epoch:
            return row
    return history[-1] if history else {}


def _loss_text(history: Sequence[Mapping[str, Any]]) -> str:
    losses = _losses(history)
    return f"loss {losses[0]:.2f} → {min(losses):.2f}" if len(losses) >= 2 else ""


def _verdict(
    checks: list[Check], history: Sequence[Mapping[str, Any]], if_passed: str = LEARNED
) -> Verdict:
    """Status and one line from the checks: the headline comparison with the trivial predictor,
    what else failed, and the training loss."""
    failed = [c for c in checks if c.passed is False]
    if any(c.name == "finite" for c in failed) or any(
        c.name == "prediction_spread" and "not finite" in c.detail for c in failed
    ):
        status = DIVERGED
    elif failed:
        status = NOT_LEARNED
    else:
        status = if_passed
    headline = next(
        (c for c in checks if c.name.endswith(("_vs_baseline", "_auc")) and c.passed is not None),
        None,
    )
    parts = []
    # the comparison with the trivial predictor first; a failed one shows the bar it missed
    if headline is not None:
        parts.append(headline.detail if headline.passed is False
                     else headline.detail.split(" (")[0] + _change_note(headline))  # fmt: skip
        auc = next((c for c in checks if c.name.endswith("_auc") and c.passed is not None), None)
        if auc is not None and auc is not headline and not failed:
            parts[-1] += f", AUC {auc.value:.3f}"
    parts += [c.detail for c in failed if c is not headline][:2]  # what else failed
    if status != DIVERGED and not any(c.name == "loss_fell" for c in failed):
        parts.append(_loss_text(history))
    line = "; ".join(p for p in parts if p)
    if status == UNKNOWN:
        line = "saved before health verdicts existed" + (f"; {line}" if line else "")
    return Verdict(status, f"{status}: {line}" if line else status, tuple(checks))


def _change_note(check: Check) -> str:
    if check.name.endswith("_vs_baseline") and check.baseline:
        return f" ({_pct(check.value / check.baseline - 1.0)})"
    return ""


def assess(
    task: str,
    history: Sequence[Mapping[str, Any]],
    best_epoch: int,
    fit_targets: np.ndarray,
    val_targets: np.ndarray | None,
    train_targets: np.ndarray,
    test_targets: np.ndarray,
    test_metrics: Mapping[str, float],
    test_predictions: np.ndarray | None = None,
) -> Verdict:
    """The verdict of a run from what training produced.

    ``history``: the epochs of the early-stopped fit (``History.epochs``: ``loss`` and the
    ``val_*`` metrics), ``best_epoch`` the epoch whose weights were kept; ``fit_targets``: the
    labels that fit trained on (the validation baseline's constant); ``val_targets``: the
    validation labels (None without a validation part); ``train_targets``: the labels the final
    model trained on (the refit's rows, or ``fit_targets``), the test baseline's constant;
    ``test_targets``, ``test_metrics`` and ``test_predictions`` (rating or click probability) of
    the final model on the test rows.
    """
    history = list(history)
    checks = [_finite_check(history, test_metrics), _loss_check(history)]
    metric = "log_loss" if task == "binary" else "rmse"
    best = _best_row(history, best_epoch)
    if val_targets is not None and len(val_targets):
        checks.append(
            _baseline_check("validation", task, _read_float(best.get(f"val_{metric}")),
                            np.asarray(fit_targets), np.asarray(val_targets))
        )  # fmt: skip
    checks.append(
        _baseline_check("test", task, _read_float(test_metrics.get(metric)),
                        np.asarray(train_targets), np.asarray(test_targets))
    )  # fmt: skip
    if task == "binary":
        if val_targets is not None and len(val_targets):
            checks.append(_auc_check("validation", _read_float(best.get("val_auc")), val_targets))
        checks.append(_auc_check("test", _read_float(test_metrics.get("auc")), test_targets))
    checks.append(_spread_check(test_predictions, np.asarray(test_targets)))
    if checks[0].passed is False:  # diverged: the other numbers mean nothing
        return _verdict([checks[0]], history)
    return _verdict(checks, history)


def verdict_of_run(meta: Mapping[str, Any] | Any) -> Verdict:
    """The verdict of a saved run, from its ``run.json`` (a ``SavedRun`` or its ``meta``).

    Runs saved with a verdict (key ``"health"``) give it back. Older runs get what their history
    still tells — a NaN (``"diverged"``) or a training loss that did not fall (``"did not learn"``)
    — and ``"unknown"`` otherwise: the baselines need the training targets, which run.json lacks.
    """
    meta = getattr(meta, "meta", meta)
    if not isinstance(meta, Mapping):
        return unknown_verdict("the run has no readable run.json")
    saved = meta.get("health")
    if isinstance(saved, Mapping):
        return Verdict.from_dict(saved)
    history = meta.get("history")
    if not isinstance(history, list) or not all(isinstance(r, Mapping) for r in history):
        return unknown_verdict()
    test = meta.get("test") if isinstance(meta.get("test"), Mapping) else {}
    checks = [_finite_check(history, test), _loss_check(history)]
    return _verdict(checks if checks[0].passed else checks[:1], history, if_passed=UNKNOWN)


def health_line(verdict: Verdict | Mapping[str, Any] | None) -> str:
    """The verdict as the one line a person reads, starting with its status, e.g.
    ``learned: validation RMSE 0.944 vs 1.129 for the mean (−16 %); loss 1.10 → 0.62``."""
    if verdict is None:
        return unknown_verdict().summary
    if not isinstance(verdict, Verdict):
        verdict = Verdict.from_dict(verdict)
    return verdict.summary


def map_warning(verdict: Verdict) -> str:
    """The warning every map of a run that did not learn carries."""
    return f"This model {verdict.status}: {verdict.summary.split(': ', 1)[-1]} — its maps show noise, not learned interactions."  # fmt: skip


def mark(result: Any, verdict: Verdict) -> Any:
    """Attach ``verdict`` to an analysis result (or a list of them) whose run did not learn, as
    ``extra["health"]``, so every figure drawn of it carries the warning (``viz``); results of
    runs that learned (or are unknown) are left unmarked. Returns ``result``."""
    for item in result if isinstance(result, list) else [result]:
        extra = getattr(item, "extra", None)
        if not isinstance(extra, dict):
            continue
        if verdict.warns:
            extra["health"] = {"status": verdict.status, "summary": verdict.summary}
        else:
            extra.pop("health", None)
    return result


def warning_of(result: Any) -> str | None:
    """The map warning an analysis result carries (see :func:`mark`), or None."""
    extra = getattr(result, "extra", None)
    health = extra.get("health") if isinstance(extra, dict) else None
    if not isinstance(health, Mapping) or health.get("status") not in (NOT_LEARNED, DIVERGED):
        return None
    return map_warning(Verdict(str(health["status"]), str(health.get("summary", "")), ()))
