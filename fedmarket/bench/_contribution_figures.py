"""The contribution benchmark's figures: a scenario's rounds summed up, per game and estimator.

Per game (``screened``: the accepted updates, what is paid; ``unscreened``: every update) and
per estimator against exact Shapley, over the rounds: Spearman's rank correlation (mean and
minimum over the rounds where both sides vary), the largest relative error
(:func:`~fedmarket.bench._contribution_stats.max_relative_error`, the worst round), the utility
evaluations as a percentage of exact's ``2^n`` (mean and worst round), and the time per round.
Per scenario: each client's total reward and exact-Shapley value (summed over the screened
rounds) and what exact Shapley would have paid it, the Gini coefficients of the honest
clients' totals, the share of GTG's payout that exact Shapley would have paid to others, and each
attacker's earnings
with and without the screening. A scenario without attackers has no separate unscreened game
(every update is accepted: it is the screened one).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from fedmarket.bench._contribution_data import Scenario
from fedmarket.bench._contribution_rounds import POOL, RoundFigures
from fedmarket.bench._contribution_stats import gini, max_relative_error, mean, minimum, spearman

TOKEN = 10**18
"""Wei per token."""


@dataclass(frozen=True)
class EstimatorFigures:
    """One estimator on one game against exact Shapley, over the rounds.

    ``spearman_*`` are NaN when no round had both sides varying (``spearman_rounds`` counts the
    rounds that had); ``players`` is the game's mean size.
    """

    game: str
    estimator: str
    players: float
    spearman_mean: float
    spearman_min: float
    spearman_rounds: int
    max_relative_error: float
    evaluations_pct_mean: float
    evaluations_pct_max: float
    seconds_per_round: float


@dataclass(frozen=True)
class ClientFigures:
    """One client's totals over the task."""

    name: str
    role: str
    reward_wei: int
    reward_pct_of_pool: float
    exact_shapley: float
    exact_reward_wei: int
    unscreened_reward_wei: int
    rounds_accepted: int


@dataclass(frozen=True)
class RoundSummary:
    """One round on the record: who was kept, why the others were not, what was paid."""

    round: int
    accepted: tuple[int, ...]
    reasons: tuple[str | None, ...]
    budget_wei: int
    amounts_wei: tuple[int, ...]
    exact_amounts_wei: tuple[int, ...]
    unscreened_budget_wei: int
    unscreened_amounts_wei: tuple[int, ...]
    validation_loss: float


@dataclass(frozen=True)
class ScenarioFigures:
    """A scenario's figures (see the module docstring)."""

    scenario: str
    rounds: int
    clients: int
    estimators: tuple[EstimatorFigures, ...]
    clients_figures: tuple[ClientFigures, ...]
    gini_honest_rewards: float
    gini_honest_exact_shapley: float
    gini_honest_exact_rewards: float
    reward_shift_pct: float
    paid_wei: int
    pool_wei: int
    final_validation_loss: float
    rejections: dict[str, int]
    per_round: tuple[RoundSummary, ...]


def round_summary(figure: RoundFigures) -> RoundSummary:
    """``figure`` without the scores."""
    return RoundSummary(
        round=figure.round,
        accepted=figure.accepted,
        reasons=figure.reasons,
        budget_wei=figure.paid.budget,
        amounts_wei=figure.paid.amounts,
        exact_amounts_wei=figure.exact_paid.amounts,
        unscreened_budget_wei=figure.unscreened_paid.budget,
        unscreened_amounts_wei=figure.unscreened_paid.amounts,
        validation_loss=figure.validation_loss,
    )


def _players(figure: RoundFigures, game: str) -> list[int]:
    if game == "screened":
        return list(figure.accepted)
    return list(range(len(figure.reasons)))


def estimator_figures(rounds: Sequence[RoundFigures], game: str, name: str) -> EstimatorFigures:
    """``name`` against exact Shapley on ``game`` over ``rounds`` (rounds without it skipped)."""
    rhos, errors, pcts, seconds, sizes = [], [], [], [], []
    for figure in rounds:
        scored = figure.screened if game == "screened" else figure.unscreened
        if name not in scored or not _players(figure, game):
            continue
        exact, got = scored["exact"].result, scored[name].result
        n = len(exact.scores)
        sizes.append(float(n))
        rhos.append(spearman(got.scores, exact.scores) if name != "exact" else 1.0)
        errors.append(max_relative_error(got.scores, exact.scores))
        pcts.append(100.0 * got.evaluations / 2**n)
        seconds.append(scored[name].seconds)
    return EstimatorFigures(
        game=game,
        estimator=name,
        players=mean(sizes),
        spearman_mean=mean(rhos),
        spearman_min=minimum(rhos),
        spearman_rounds=sum(1 for r in rhos if math.isfinite(r)),
        max_relative_error=max(errors, default=math.nan),
        evaluations_pct_mean=mean(pcts),
        evaluations_pct_max=max(pcts, default=math.nan),
        seconds_per_round=mean(seconds),
    )


def _client_totals(scenario: Scenario, rounds: Sequence[RoundFigures]) -> list[ClientFigures]:
    n = len(scenario.parties)
    reward, by_exact, unscreened = [0] * n, [0] * n, [0] * n
    shapley, accepted = [0.0] * n, [0] * n
    for figure in rounds:
        for i in range(n):
            reward[i] += figure.paid.amounts[i]
            by_exact[i] += figure.exact_paid.amounts[i]
            unscreened[i] += figure.unscreened_paid.amounts[i]
        exact = figure.screened["exact"].result.scores
        for player, client in enumerate(figure.accepted):
            shapley[client] += exact[player]
            accepted[client] += 1
    return [
        ClientFigures(
            name=scenario.names[i],
            role=scenario.roles.kind(i),
            reward_wei=reward[i],
            reward_pct_of_pool=100.0 * reward[i] / POOL,
            exact_shapley=shapley[i],
            exact_reward_wei=by_exact[i],
            unscreened_reward_wei=unscreened[i],
            rounds_accepted=accepted[i],
        )
        for i in range(n)
    ]


def reward_shift_pct(rounds: Sequence[RoundFigures]) -> float:
    """Percentage of the tokens paid that exact Shapley would have paid to someone else.

    Per round, the wei that must move to turn GTG's payout into exact's (half the L1 distance of
    the amounts, or all of one side when the other paid nothing), summed over the rounds, over
    the larger of the two payouts per round, summed; 0 when neither paid anything.
    """
    moved, paid = 0, 0
    for f in rounds:
        gtg, exact = f.paid, f.exact_paid
        diff = sum(abs(g - e) for g, e in zip(gtg.amounts, exact.amounts, strict=True))
        moved += max(diff // 2, abs(gtg.budget - exact.budget))
        paid += max(gtg.budget, exact.budget)
    return 100.0 * moved / paid if paid else 0.0


def scenario_figures(scenario: Scenario, rounds: Sequence[RoundFigures]) -> ScenarioFigures:
    """The figures of ``scenario``'s run (``rounds`` in order)."""
    clients = _client_totals(scenario, rounds)
    honest = [c for c in clients if c.role == "honest"]
    rejections: dict[str, int] = {}
    for figure in rounds:
        for reason in figure.reasons:
            if reason is not None:
                rejections[reason] = rejections.get(reason, 0) + 1
    games: list[tuple[str, tuple[str, ...]]] = [("screened", ("exact", "gtg", "gtg20", "loo"))]
    if any(c.role != "honest" for c in clients):  # else the unscreened game is the same one
        games.append(("unscreened", ("exact", "gtg", "gtg20")))
    estimators = [estimator_figures(rounds, game, name) for game, names in games for name in names]
    return ScenarioFigures(
        scenario=scenario.name,
        rounds=len(rounds),
        clients=len(clients),
        estimators=tuple(e for e in estimators if math.isfinite(e.seconds_per_round)),
        clients_figures=tuple(clients),
        gini_honest_rewards=gini([float(c.reward_wei) for c in honest]),
        gini_honest_exact_shapley=gini([c.exact_shapley for c in honest]),
        gini_honest_exact_rewards=gini([float(c.exact_reward_wei) for c in honest]),
        reward_shift_pct=reward_shift_pct(rounds),
        paid_wei=sum(f.paid.budget for f in rounds),
        pool_wei=POOL,
        final_validation_loss=rounds[-1].validation_loss if rounds else math.nan,
        rejections=rejections,
        per_round=tuple(round_summary(f) for f in rounds),
    )
