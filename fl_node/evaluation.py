"""Evaluation metrics as pure NumPy functions (tested against scikit-learn).

Binary classification: accuracy, precision, recall, F1 at a threshold, ROC AUC (rank statistic,
ties averaged), KS (max TPR - FPR), log loss. Regression: MAE, RMSE.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.floating]


def roc_auc(y: Array, score: Array) -> float:
    """Area under the ROC curve: P(score of a positive > score of a negative), ties halved."""
    y = np.asarray(y).astype(bool)
    n_pos = int(y.sum())
    n_neg = int(len(y) - n_pos)
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    values = np.asarray(score, dtype=np.float64)
    order = np.argsort(values, kind="mergesort")
    sorted_scores = values[order]
    first_of_tie = np.r_[True, sorted_scores[1:] != sorted_scores[:-1]]
    starts = np.flatnonzero(first_of_tie)
    ends = np.r_[starts[1:], len(values)] - 1
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = ((starts + ends) / 2.0 + 1.0)[np.cumsum(first_of_tie) - 1]  # ties averaged
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def ks_statistic(y: Array, score: Array) -> float:
    """Kolmogorov-Smirnov statistic: max over thresholds of TPR - FPR."""
    labels: npt.NDArray[np.bool_] = np.asarray(y).astype(bool)
    n_pos = int(labels.sum())
    n_neg = int(len(labels) - n_pos)
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(-np.asarray(score), kind="mergesort")
    s = np.asarray(score)[order]
    yy = labels[order]
    tpr = np.cumsum(yy) / n_pos
    fpr = np.cumsum(~yy) / n_neg
    last_of_tie = np.r_[s[1:] != s[:-1], True]  # evaluate only between distinct scores
    return float(np.max((tpr - fpr)[last_of_tie]))


def log_loss(y: Array, prob: Array, eps: float = 1e-7) -> float:
    """Mean binary cross-entropy."""
    p = np.clip(np.asarray(prob, dtype=np.float64), eps, 1 - eps)
    yy = np.asarray(y, dtype=np.float64)
    return float(-np.mean(yy * np.log(p) + (1 - yy) * np.log(1 - p)))


@dataclass(frozen=True)
class BinaryMetrics:
    """Metrics of a binary classifier on one dataset."""

    accuracy: float
    precision: float
    recall: float
    f1: float
    auc: float
    ks: float
    log_loss: float
    rows: int

    def to_dict(self) -> dict[str, float]:
        """JSON-ready form."""
        return {k: float(v) for k, v in asdict(self).items()}


def binary_metrics(y: Array, prob: Array, threshold: float = 0.5) -> BinaryMetrics:
    """All binary metrics of predicted probabilities ``prob`` against labels ``y``."""
    yy = np.asarray(y).astype(bool)
    pred = np.asarray(prob) >= threshold
    tp = int((pred & yy).sum())
    fp = int((pred & ~yy).sum())
    fn = int((~pred & yy).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return BinaryMetrics(
        accuracy=float((pred == yy).mean()),
        precision=precision,
        recall=recall,
        f1=f1,
        auc=roc_auc(yy, np.asarray(prob)),
        ks=ks_statistic(yy, np.asarray(prob)),
        log_loss=log_loss(yy, prob),
        rows=len(yy),
    )


def mae(y: Array, pred: Array) -> float:
    """Mean absolute error."""
    return float(np.mean(np.abs(np.asarray(y, np.float64) - np.asarray(pred, np.float64))))


def rmse(y: Array, pred: Array) -> float:
    """Root mean squared error."""
    return float(np.sqrt(np.mean((np.asarray(y, np.float64) - np.asarray(pred, np.float64)) ** 2)))
