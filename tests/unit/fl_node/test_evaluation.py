"""Metrics against scikit-learn on random inputs."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from fl_node.evaluation import binary_metrics, ks_statistic, mae, rmse, roc_auc


@given(st.integers(min_value=0, max_value=10_000), st.integers(min_value=4, max_value=300))
@settings(max_examples=60, deadline=None)
def test_binary_metrics_match_sklearn(seed, n):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    if y.min() == y.max():
        y[0] = 1 - y[0]
    prob = np.round(np.clip(rng.random(n) * 0.7 + 0.3 * y, 0, 1), 2)  # ties on purpose
    m = binary_metrics(y, prob)
    pred = prob >= 0.5
    assert m.accuracy == pytest.approx(skm.accuracy_score(y, pred))
    assert m.precision == pytest.approx(skm.precision_score(y, pred, zero_division=0))
    assert m.recall == pytest.approx(skm.recall_score(y, pred, zero_division=0))
    assert m.f1 == pytest.approx(skm.f1_score(y, pred, zero_division=0))
    assert m.auc == pytest.approx(skm.roc_auc_score(y, prob))
    fpr, tpr, _ = skm.roc_curve(y, prob)
    assert m.ks == pytest.approx(np.max(tpr - fpr))
    assert m.log_loss == pytest.approx(skm.log_loss(y, np.clip(prob, 1e-7, 1 - 1e-7)))


def test_single_class_has_no_auc():
    assert np.isnan(roc_auc(np.ones(3), np.array([0.1, 0.2, 0.3])))
    assert np.isnan(ks_statistic(np.zeros(3), np.array([0.1, 0.2, 0.3])))


def test_regression_errors():
    y, p = np.array([1.0, 2.0, 4.0]), np.array([2.0, 2.0, 2.0])
    assert mae(y, p) == pytest.approx(1.0)
    assert rmse(y, p) == pytest.approx(np.sqrt(5 / 3))


@given(st.integers(min_value=0, max_value=10_000), st.integers(min_value=8, max_value=200))
@settings(max_examples=40, deadline=None)
def test_multiclass_metrics_match_sklearn(seed, n):
    from fl_node.evaluation import multiclass_metrics

    rng = np.random.default_rng(seed)
    k = int(rng.integers(3, 6))
    y = rng.integers(0, k, n)
    y[:k] = np.arange(k)  # every class present
    logits = rng.normal(size=(n, k)) + 1.5 * np.eye(k)[y] * rng.random((n, 1))
    prob = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    m = multiclass_metrics(y, prob)
    assert m.accuracy == pytest.approx(skm.accuracy_score(y, prob.argmax(1)))
    assert m.macro_f1 == pytest.approx(
        skm.f1_score(y, prob.argmax(1), average="macro", labels=np.unique(np.r_[y, prob.argmax(1)]))
    )
    assert m.auc == pytest.approx(skm.roc_auc_score(y, prob, multi_class="ovr", average="macro"))
    assert m.log_loss == pytest.approx(skm.log_loss(y, prob, labels=np.arange(k)))
    assert m.rows == n


@given(st.integers(min_value=0, max_value=10_000), st.integers(min_value=3, max_value=200))
@settings(max_examples=40, deadline=None)
def test_regression_metrics_match_sklearn(seed, n):
    from fl_node.evaluation import regression_metrics

    rng = np.random.default_rng(seed)
    y = rng.normal(size=n) * 3 + 1
    pred = y + rng.normal(size=n)
    m = regression_metrics(y, pred)
    assert m.mae == pytest.approx(skm.mean_absolute_error(y, pred))
    assert m.rmse == pytest.approx(np.sqrt(skm.mean_squared_error(y, pred)))
    assert m.r2 == pytest.approx(skm.r2_score(y, pred))
    assert m.loss == m.rmse


def test_acceptance_targets_are_floors_and_losses_ceilings():
    from fl_node.evaluation import RegressionMetrics, meets

    m = RegressionMetrics(mae=0.5, rmse=0.7, r2=0.4, rows=10)
    assert meets(m, {"mae": 0.6, "rmse": 0.7, "r2": 0.3}) == {"mae": True, "rmse": True, "r2": True}
    assert meets(m, {"mae": 0.4, "r2": 0.5}) == {"mae": False, "r2": False}
    assert meets(m, {"accuracy": 0.1}) == {"accuracy": False}  # not a metric of the kind


def test_task_metrics_dispatch_on_the_kind():
    from fl_node.evaluation import (
        BinaryMetrics,
        MulticlassMetrics,
        RegressionMetrics,
        headline,
        task_metrics,
    )

    y = np.array([0, 1, 1, 0])
    assert isinstance(task_metrics("binary", y, np.array([0.2, 0.8, 0.6, 0.1])), BinaryMetrics)
    prob = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6], [0.5, 0.4, 0.1]])
    multi = task_metrics("multiclass", np.array([0, 1, 2, 0]), prob)
    assert isinstance(multi, MulticlassMetrics) and multi.accuracy == 1.0
    assert headline(multi)[1][0] == "macro_f1"
    assert isinstance(task_metrics("regression", y, y + 0.1), RegressionMetrics)
