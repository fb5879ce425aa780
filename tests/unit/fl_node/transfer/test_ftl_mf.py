"""The matrix factorisation's gradients and Adam against brute-force references."""

from __future__ import annotations

import numpy as np
import pytest

from fl_node.transfer import Factors, MFConfig, Ratings, TransferInputError
from fl_node.transfer.mf import Adam, gradients, mae, predict, rmse


def _objective(users: Factors, items: Factors, mu: float, r: Ratings) -> float:
    """0.5 * sum of squared errors, one rating at a time."""
    total = 0.0
    for u, i, v in zip(r.users, r.items, r.values, strict=True):
        pred = mu + users.bias[u] + items.bias[i] + float(users.vectors[u] @ items.vectors[i])
        total += 0.5 * (pred - v) ** 2
    return total


def test_gradients_match_finite_differences() -> None:
    rng = np.random.default_rng(3)
    users = Factors.init(6, 3, rng, 0.5)
    items = Factors.init(5, 3, rng, 0.5)
    users.bias[:] = rng.normal(size=6)
    r = Ratings(rng.integers(0, 6, 25), rng.integers(0, 5, 25), rng.integers(2, 11, 25) / 2)
    g = gradients(users, items, 3.5, r)
    assert g.loss == pytest.approx(_objective(users, items, 3.5, r))
    h = 1e-6
    for table, grad in ((users, g.users), (items, g.items)):
        stacked = table.stacked()
        for row, col in [(0, 0), (2, 1), (4, 3), (1, 2)]:
            bumped = stacked.copy()
            bumped[row, col] += h
            moved = Factors.from_stacked(bumped)
            pair = (moved, items) if table is users else (users, moved)
            numeric = (_objective(*pair, 3.5, r) - g.loss) / h
            assert grad[row, col] == pytest.approx(numeric, rel=1e-4, abs=1e-4)


def test_adam_matches_the_textbook_update() -> None:
    opt = Adam(lr=0.1)
    x = np.array([1.0, -2.0])
    g1, g2 = np.array([0.5, -1.0]), np.array([0.1, 0.3])
    x1 = opt.update(x, g1)
    np.testing.assert_allclose(x1, x - 0.1 * np.sign(g1), rtol=1e-6)  # first step: lr * sign
    m = 0.9 * 0.1 * g1 + 0.1 * g2
    v = 0.999 * 0.001 * g1**2 + 0.001 * g2**2
    expected = x1 - 0.1 * (m / (1 - 0.81)) / (np.sqrt(v / (1 - 0.999**2)) + 1e-8)
    np.testing.assert_allclose(opt.update(x1, g2), expected, rtol=1e-12)


def test_predictions_are_clipped_and_metrics_are_plain() -> None:
    users = Factors(np.zeros((1, 1)), np.array([10.0]))
    items = Factors(np.zeros((1, 1)), np.array([0.0]))
    r = Ratings(np.array([0]), np.array([0]), np.array([4.0]))
    assert predict(users, items, 0.0, r).tolist() == [5.0]
    assert rmse(np.array([1.0, 3.0]), np.array([2.0, 3.0])) == pytest.approx(np.sqrt(0.5))
    assert mae(np.array([1.0, 3.0]), np.array([2.0, 5.0])) == pytest.approx(1.5)


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(TransferInputError):
        Ratings(np.array([0, 1]), np.array([0]), np.array([1.0]))
    with pytest.raises(TransferInputError):
        MFConfig(rank=0)
    with pytest.raises(TransferInputError):
        MFConfig(lr=-1.0)
