"""Evaluation metrics in NumPy: RMSE and MAE for ratings, log loss and ROC-AUC for clicks."""

from __future__ import annotations

import numpy as np
import pandas as pd


def rmse(y: np.ndarray, pred: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(y, "float64") - np.asarray(pred, "float64")) ** 2)))


def mae(y: np.ndarray, pred: np.ndarray) -> float:
    return float(np.mean(np.abs(np.asarray(y, "float64") - np.asarray(pred, "float64"))))


def log_loss(y: np.ndarray, prob: np.ndarray, eps: float = 1e-7) -> float:
    p = np.clip(np.asarray(prob, "float64"), eps, 1 - eps)
    y = np.asarray(y, "float64")
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def auc(y: np.ndarray, score: np.ndarray) -> float:
    """ROC-AUC as the Mann-Whitney U statistic, ties counted as one half; NaN with one class."""
    y = np.asarray(y).astype(bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = pd.Series(np.asarray(score, "float64")).rank(method="average").to_numpy()
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def task_metrics(task: str, y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """All metrics of a task; ``pred`` is the rating (regression) or the click probability (binary)."""
    if task == "binary":
        return {"log_loss": log_loss(y, pred), "auc": auc(y, pred)}
    return {"rmse": rmse(y, pred), "mae": mae(y, pred)}


# The metric early stopping and leaderboards rank by, and whether larger is better.
PRIMARY_METRIC = {"regression": ("rmse", False), "binary": ("log_loss", False)}
