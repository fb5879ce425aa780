"""The pool's acceptance: Wilson intervals, the confidence region, duplicates and the cap.

The Wilson interval is checked against the roots of its defining quadratic
``(p_hat - p)^2 = z^2 p (1 - p) / n`` with ``z`` from scipy, and against a textbook value.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm

from fl_node.pool import (
    AcceptanceRule,
    Candidate,
    ConvergenceRule,
    PoolInputError,
    accept,
    agreement_of,
    wilson_interval,
)

SETTLED = ConvergenceRule(window=2, band=0.05)
N = 1000


def wilson_reference(p_hat: float, n: int, confidence: float) -> tuple[float, float]:
    """The two roots in p of (p_hat - p)^2 = z^2 p (1 - p) / n."""
    z2 = norm.ppf(1 - (1 - confidence) / 2) ** 2
    roots = np.roots([1 + z2 / n, -(2 * p_hat + z2 / n), p_hat**2])
    low, high = sorted(float(r.real) for r in roots)
    return low, high


@pytest.mark.parametrize("p_hat", [0.0, 0.01, 0.1, 0.37, 0.5, 0.9, 1.0])
@pytest.mark.parametrize("n", [1, 7, 100, 5000])
@pytest.mark.parametrize("confidence", [0.8, 0.95, 0.999])
def test_wilson_matches_the_quadratics_roots(p_hat: float, n: int, confidence: float) -> None:
    assert wilson_interval(p_hat, n, confidence) == pytest.approx(
        wilson_reference(p_hat, n, confidence), abs=1e-9
    )


def test_wilson_textbook_value() -> None:
    """0 errors in 10 at 95 %: the upper bound is z^2 / (n + z^2) = 0.2775."""
    low, high = wilson_interval(0.0, 10, 0.95)
    assert low == pytest.approx(0.0, abs=1e-15) and high == pytest.approx(
        1.959964**2 / (10 + 1.959964**2), rel=1e-6
    )


def preds(seed: int, flip: float, base: int = 0) -> tuple[int, ...]:
    """Predictions that differ from a shared reference on about ``flip`` of the examples."""
    truth = np.random.default_rng(base).integers(0, 10, N)
    rng = np.random.default_rng(seed)
    out = np.where(rng.random(N) < flip, (truth + 1 + rng.integers(0, 9, N)) % 10, truth)
    return tuple(int(x) for x in out)


def cand(model: int, error: float, p: tuple[int, ...], errors: tuple[float, ...] = ()) -> Candidate:
    return Candidate(model, f"m{model}", errors or (error + 0.01, error), error, N, p)


def test_each_reason_is_given_where_it_applies() -> None:
    candidates = [
        cand(0, 0.10, preds(1, 0.2)),
        cand(1, 0.11, preds(2, 0.2)),  # inside, different predictions
        cand(2, 0.105, preds(1, 0.2)),  # same predictions as model 0
        cand(3, 0.30, preds(3, 0.2)),  # far worse: outside the region
        cand(4, 0.10, preds(4, 0.2), errors=(0.5, 0.1)),  # still moving
        cand(5, 0.12, preds(5, 0.2)),  # inside, but over the cap
    ]
    decisions = accept(candidates, AcceptanceRule(max_models=2), SETTLED)
    assert [d.model for d in decisions] == [0, 1, 2, 3, 4, 5]
    assert [d.reason for d in decisions] == [
        "accepted",
        "accepted",
        "duplicate",
        "outside_confidence_region",
        "not_converged",
        "pruned",
    ]
    assert [d.accepted for d in decisions] == [True, True, False, False, False, False]
    assert decisions[2].duplicate_of == 0
    assert decisions[4].interval is None and decisions[3].interval is not None


def test_the_region_is_overlap_with_the_best_interval() -> None:
    seen = set()
    for worse in np.arange(0.10, 0.20, 0.005):
        best = wilson_interval(0.10, N, 0.95)
        mine = wilson_interval(float(worse), N, 0.95)
        decisions = accept(
            [cand(0, 0.10, preds(1, 0.3)), cand(1, float(worse), preds(2, 0.3))],
            AcceptanceRule(),
            SETTLED,
        )
        expected = "accepted" if mine[0] <= best[1] else "outside_confidence_region"
        assert decisions[1].reason == expected
        seen.add(expected)
    assert seen == {"accepted", "outside_confidence_region"}


def test_more_confidence_widens_the_region() -> None:
    pair = [cand(0, 0.10, preds(1, 0.3)), cand(1, 0.14, preds(2, 0.3))]
    assert accept(pair, AcceptanceRule(confidence=0.8), SETTLED)[1].reason != "accepted"
    assert accept(pair, AcceptanceRule(confidence=0.9999), SETTLED)[1].reason == "accepted"


def test_duplicates_are_judged_against_kept_models_only() -> None:
    """Model 1 duplicates model 0 (kept); 2 duplicates only 1 (dropped), so 2 stays."""
    a = preds(1, 0.0)
    b = tuple(x if i >= 15 else (x + 1) % 10 for i, x in enumerate(a))
    c = tuple(x if i >= 30 else (x + 1) % 10 for i, x in enumerate(a))
    assert agreement_of(a, b) == pytest.approx(0.985) and agreement_of(a, c) == 0.97
    assert agreement_of(b, c) == pytest.approx(0.985)
    decisions = accept(
        [cand(0, 0.1, a), cand(1, 0.1, b), cand(2, 0.1, c)], AcceptanceRule(), SETTLED
    )
    assert [d.reason for d in decisions] == ["accepted", "duplicate", "accepted"]


def test_nothing_converged_accepts_nothing() -> None:
    decisions = accept([cand(0, 0.1, preds(1, 0.1), errors=(0.9, 0.1))], AcceptanceRule(), SETTLED)
    assert decisions[0].reason == "not_converged" and not decisions[0].accepted


@pytest.mark.parametrize(
    "bad",
    [
        {"error": 1.5},
        {"n_test": 0},
        {"predictions": (1, 2)},
    ],
)
def test_malformed_candidates_are_refused(bad: dict[str, object]) -> None:
    fields: dict[str, object] = {
        "model": 0,
        "name": "m",
        "errors": (0.1, 0.1),
        "error": 0.1,
        "n_test": 3,
        "predictions": (1, 2, 3),
    } | bad
    with pytest.raises(PoolInputError):
        accept([Candidate(**fields)], AcceptanceRule(), SETTLED)  # type: ignore[arg-type]


def test_repeated_models_and_bad_rules_are_refused() -> None:
    one = cand(0, 0.1, preds(1, 0.1))
    with pytest.raises(PoolInputError):
        accept([one, one], AcceptanceRule(), SETTLED)
    for kwargs in ({"confidence": 1.0}, {"agreement": 1.1}, {"max_models": 0}):
        with pytest.raises(PoolInputError):
            AcceptanceRule(**kwargs)
    with pytest.raises(PoolInputError):
        wilson_interval(math.nan, 10, 0.95)
