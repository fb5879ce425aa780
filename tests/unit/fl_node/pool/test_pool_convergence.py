"""The convergence rule: the last ``window`` errors inside a band (and under a ceiling).

Checked against the rule spelt out directly, over every prefix of random error curves.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from fl_node.pool import ConvergenceRule, PoolInputError, converged, rounds_to_converge


def reference(errors: list[float], rule: ConvergenceRule) -> int | None:
    """The first 1-based round t whose window errors[t-window:t] satisfies the rule."""
    for t in range(1, len(errors) + 1):
        if t < rule.window:
            continue
        w = errors[t - rule.window : t]
        ceiling = rule.max_error if rule.max_error is not None else math.inf
        if max(w) - min(w) <= rule.band and all(e <= ceiling for e in w):
            return t
    return None


def test_a_settled_curve_converges_when_the_window_fills() -> None:
    rule = ConvergenceRule(window=3, band=0.02)
    errors = [0.9, 0.5, 0.2, 0.11, 0.10, 0.105, 0.10]
    assert rounds_to_converge(errors, rule) == 6
    assert converged(errors, rule)
    assert not converged(errors[:5], rule)


def test_the_ceiling_holds_a_flat_but_bad_curve_back() -> None:
    flat = [0.5, 0.5, 0.5]
    assert converged(flat, ConvergenceRule(window=3, band=0.0))
    assert not converged(flat, ConvergenceRule(window=3, band=0.0, max_error=0.4))
    assert rounds_to_converge(flat, ConvergenceRule(window=3, band=0.0, max_error=0.4)) is None


def test_too_few_rounds_never_converge() -> None:
    assert not converged([0.1, 0.1], ConvergenceRule(window=3, band=1.0))
    assert rounds_to_converge([], ConvergenceRule(window=1, band=1.0)) is None


def test_a_curve_that_leaves_the_band_is_no_longer_converged() -> None:
    rule = ConvergenceRule(window=2, band=0.01)
    errors = [0.2, 0.2, 0.3]
    assert rounds_to_converge(errors, rule) == 2
    assert not converged(errors, rule)


def test_the_rule_matches_the_reference_on_random_curves() -> None:
    rng = np.random.default_rng(13)
    for _ in range(500):
        window = int(rng.integers(1, 5))
        band = float(rng.choice([0.0, 0.05, 0.1, 0.3]))
        ceiling = None if rng.random() < 0.5 else float(rng.uniform(0.1, 0.6))
        rule = ConvergenceRule(window, band, ceiling)
        errors = [float(e) for e in np.round(rng.uniform(0, 0.7, int(rng.integers(0, 12))), 1)]
        assert rounds_to_converge(errors, rule) == reference(errors, rule)
        for t in range(len(errors) + 1):
            first = reference(errors, rule)
            window_ok = reference(errors[t - window : t], rule) if t >= window else None
            assert converged(errors[:t], rule) == (window_ok is not None)
            assert first is None or first > t or converged(errors[:first], rule)


@pytest.mark.parametrize(
    "args", [(0, 0.1, None), (2, -0.1, None), (2, math.nan, None), (2, 0.1, math.inf)]
)
def test_malformed_rules_are_refused(args: tuple[int, float, float | None]) -> None:
    with pytest.raises(PoolInputError):
        ConvergenceRule(*args)


def test_non_finite_errors_are_refused() -> None:
    with pytest.raises(PoolInputError):
        converged([0.1, math.nan], ConvergenceRule(1, 0.1))
