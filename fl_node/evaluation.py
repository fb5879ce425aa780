"""Evaluation metrics as pure NumPy functions (tested against scikit-learn).

Binary classification: accuracy, precision, recall, F1 at a threshold, ROC AUC (rank statistic,
ties averaged), KS (max TPR - FPR), log loss. Multi-class: accuracy, macro-F1, one-vs-rest macro
AUC, log loss. Regression: MAE, RMSE, R^2.

Each kind has its typed record; all three share :attr:`loss` (log loss, or RMSE for regression:
the contribution utility is its negative), :meth:`values` (the acceptance targets' names) and
:data:`LOWER_IS_BETTER` names the metrics whose targets are ceilings.
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

    @property
    def loss(self) -> float:
        """The log loss (what the contribution utility negates)."""
        return self.log_loss

    def values(self) -> dict[str, float]:
        """Every metric by name, ``rows`` excluded (what acceptance targets name)."""
        return {k: v for k, v in self.to_dict().items() if k != "rows"}


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


LOWER_IS_BETTER = frozenset({"log_loss", "mae", "rmse"})
"""Metrics whose acceptance target is a ceiling rather than a floor."""


@dataclass(frozen=True)
class MulticlassMetrics:
    """Metrics of a multi-class classifier on one dataset."""

    accuracy: float
    macro_f1: float
    auc: float  # one-vs-rest, macro-averaged over the classes present with both outcomes
    log_loss: float
    rows: int

    def to_dict(self) -> dict[str, float]:
        """JSON-ready form."""
        return {k: float(v) for k, v in asdict(self).items()}

    @property
    def loss(self) -> float:
        """The log loss (what the contribution utility negates)."""
        return self.log_loss

    def values(self) -> dict[str, float]:
        """Every metric by name, ``rows`` excluded."""
        return {k: v for k, v in self.to_dict().items() if k != "rows"}


def multiclass_metrics(y: npt.NDArray[np.integer], prob: Array) -> MulticlassMetrics:
    """Metrics of class probabilities ``prob`` (rows, k) against class indices ``y``."""
    labels = np.asarray(y).astype(np.int64)
    p = np.asarray(prob, dtype=np.float64)
    k = p.shape[1]
    pred = p.argmax(axis=1)
    f1s: list[float] = []
    aucs: list[float] = []
    for c in range(k):
        tp = int(((pred == c) & (labels == c)).sum())
        fp = int(((pred == c) & (labels != c)).sum())
        fn = int(((pred != c) & (labels == c)).sum())
        if tp + fp + fn:
            f1s.append(2 * tp / (2 * tp + fp + fn))
        auc = roc_auc((labels == c).astype(np.float64), p[:, c])
        if np.isfinite(auc):
            aucs.append(auc)
    picked = np.clip(p[np.arange(len(labels)), labels], 1e-7, 1.0)
    return MulticlassMetrics(
        accuracy=float((pred == labels).mean()) if len(labels) else 0.0,
        macro_f1=float(np.mean(f1s)) if f1s else 0.0,
        auc=float(np.mean(aucs)) if aucs else float("nan"),
        log_loss=float(-np.mean(np.log(picked))) if len(labels) else 0.0,
        rows=len(labels),
    )


@dataclass(frozen=True)
class RegressionMetrics:
    """Metrics of a regression model on one dataset."""

    mae: float
    rmse: float
    r2: float
    rows: int

    def to_dict(self) -> dict[str, float]:
        """JSON-ready form."""
        return {k: float(v) for k, v in asdict(self).items()}

    @property
    def loss(self) -> float:
        """The RMSE (what the contribution utility negates)."""
        return self.rmse

    def values(self) -> dict[str, float]:
        """Every metric by name, ``rows`` excluded."""
        return {k: v for k, v in self.to_dict().items() if k != "rows"}


def regression_metrics(y: Array, pred: Array) -> RegressionMetrics:
    """MAE, RMSE and the coefficient of determination of ``pred`` against ``y``."""
    yy = np.asarray(y, dtype=np.float64)
    pp = np.asarray(pred, dtype=np.float64)
    spread = float(np.sum((yy - yy.mean()) ** 2)) if len(yy) else 0.0
    r2 = 1.0 - float(np.sum((yy - pp) ** 2)) / spread if spread > 0 else 0.0
    return RegressionMetrics(mae=mae(yy, pp), rmse=rmse(yy, pp), r2=r2, rows=len(yy))


Metrics = BinaryMetrics | MulticlassMetrics | RegressionMetrics
"""The metrics of any task kind."""

METRIC_NAMES: dict[str, tuple[str, ...]] = {
    "binary": ("accuracy", "precision", "recall", "f1", "auc", "ks", "log_loss"),
    "multiclass": ("accuracy", "macro_f1", "auc", "log_loss"),
    "regression": ("mae", "rmse", "r2"),
}
"""The metrics each task kind reports (and its acceptance targets may name)."""


def task_metrics(task: str, y: npt.NDArray[np.generic], pred: Array) -> Metrics:
    """The metrics of ``task`` (a task kind) for predictions ``pred`` against ``y``."""
    if task == "multiclass":
        return multiclass_metrics(np.asarray(y).astype(np.int64), pred)
    if task == "regression":
        return regression_metrics(np.asarray(y, dtype=np.float64), pred)
    return binary_metrics(np.asarray(y, dtype=np.float64), pred)


def meets(metrics: Metrics, targets: dict[str, float]) -> dict[str, bool]:
    """For each target, whether ``metrics`` reaches it (a floor, or a ceiling for losses)."""
    values = metrics.values()
    out: dict[str, bool] = {}
    for name, target in targets.items():
        value = values.get(name, float("nan"))
        ok = value <= target if name in LOWER_IS_BETTER else value >= target
        out[name] = bool(np.isfinite(value) and ok)
    return out


HEADLINE: dict[str, tuple[str, str]] = {
    "binary": ("accuracy", "f1"),
    "multiclass": ("accuracy", "macro_f1"),
    "regression": ("mae", "rmse"),
}
"""The two metrics a round's summary line shows, per task kind."""


def headline(metrics: Metrics) -> tuple[tuple[str, float], tuple[str, float]]:
    """The two headline metrics of ``metrics`` by name."""
    values = metrics.values()
    kind = (
        "regression"
        if isinstance(metrics, RegressionMetrics)
        else ("multiclass" if isinstance(metrics, MulticlassMetrics) else "binary")
    )
    first, second = HEADLINE[kind]
    return (first, values[first]), (second, values[second])
