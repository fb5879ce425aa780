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
