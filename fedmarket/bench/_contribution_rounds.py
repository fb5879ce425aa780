"""The contribution benchmark's rounds: train, screen, score every way, pay.

One task runs in memory (no chain: the estimators and the reward policy are what is measured,
and they are what the coordinator runs). Each round every honest client trains from the global
model with :func:`fl_node.training.train_local`; the attackers do not train:

- a **free-rider** sends an all-zero step with its true sample count;
- a **copycat** sends the newest step of its victim it can see, the victim's previous-round step,
  scaled by ``1 + NUDGE`` (commit-reveal hides the current one; in round 1 it has none and sends
  a zero step).

The round's updates are screened as the coordinator screens them
(:class:`fl_node.screening.RoundScreen`, recorded after each round); the utility of a coalition is
the negative validation log loss of its aggregate (the task's strategy, no retraining), as in
``fl_node.coordinator.Coordinator._measure_contributions``, and the estimators' seed is
:func:`fl_node.payout.contribution_seed` of the round's opening model. Exact Shapley, GTG-Shapley
and leave-one-out score the accepted updates (the *screened* game); the rewards follow GTG's
scores under the default :class:`incentives.rewards.RewardPolicy` (a budget that follows the
improvement ``v(all) - v(empty)``). Exact Shapley and GTG also score every update, attackers
included (the *unscreened* game): what they would be paid without the screening, and a
ten-player game for GTG's cost. Each estimator gets its own uncached utility, so its time and its
evaluations are its own.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import torch

from fedmarket.bench._contribution_data import Scenario
from fl_node.coordinator import coalition_utility
from fl_node.evaluation import task_metrics
from fl_node.evidence import UpdateVerdict
from fl_node.models import FedModel, build_model, trainable_state
from fl_node.objectives import predict
from fl_node.payout import contribution_seed, round_improvement
from fl_node.screening import RoundScreen, global_step
from fl_node.serialization import encode_model
from fl_node.strategies import ClientUpdate
from fl_node.training import train_local
from incentives.contribution import (
    Coalition,
    ContributionEstimator,
    ContributionResult,
    ExactShapley,
    GtgShapley,
    LeaveOneOut,
)
from incentives.rewards import RewardPolicy, allocate_rewards, round_budget_for, scores_to_fixed
from kernel.types import Address
from storage.base import content_hash

log = logging.getLogger(__name__)

NUDGE = 5e-4
"""The copycat's relative change of the step it copies (half the copy tolerance, 1e-3)."""

POOL = 10**21
"""The benchmark task's pool (1,000 tokens of 18 decimals), split over its rounds."""

ESTIMATORS: dict[str, Callable[[], ContributionEstimator]] = {
    "exact": ExactShapley,
    "gtg": GtgShapley,
    "loo": LeaveOneOut,
}
"""The estimators compared, by short name (GTG with the defaults the coordinator runs)."""


@dataclass(frozen=True)
class Scored:
    """One estimator's result on one round's game, with its wall time in seconds."""

    result: ContributionResult
    seconds: float


@dataclass(frozen=True)
class Payout:
    """A round's budget and amounts per client (0 for those not paid)."""

    budget: int
    amounts: tuple[int, ...]


@dataclass(frozen=True)
class RoundFigures:
    """One round: the accepted clients, the scores of both games, the payouts.

    Attributes
    ----------
    round : int
        The round (from 1).
    accepted : tuple of int
        The clients whose updates the screen kept (indices into the scenario's parties).
    reasons : tuple of str or None
        Each client's rejection reason (``None``: accepted).
    screened : dict of str to Scored
        Exact, GTG, GTG held to 20 % (``gtg20``, when the game is large enough) and LOO on the
        accepted updates (player ``k`` is ``accepted[k]``).
    unscreened : dict of str to Scored
        Exact, GTG and ``gtg20`` on every client's update (player ``k`` is client ``k``).
    paid : Payout
        What the round pays (GTG on the accepted updates, the improvement budget).
    exact_paid : Payout
        What it would pay by the exact Shapley values instead (the reference for GTG's payouts).
    unscreened_paid : Payout
        What it would pay with no screening (GTG on every update).
    validation_loss : float
        The next global model's validation log loss.
    """

    round: int
    accepted: tuple[int, ...]
    reasons: tuple[str | None, ...]
    screened: dict[str, Scored]
    unscreened: dict[str, Scored]
    paid: Payout
    exact_paid: Payout
    unscreened_paid: Payout
    validation_loss: float


def _loss(model: FedModel, scenario: Scenario) -> float:
    data = scenario.validation
    return float(task_metrics(model.spec.task, data.y, predict(model, data.x)).loss)


class ContributionTask:
    """A scenario's task between rounds: the global model, the strategy's state, the screen.

    Parameters
    ----------
    scenario : Scenario
        The task, the clients' rows (an attacker's are read for its sample count only), the
        validation rows and the roles.
    """

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.spec = scenario.spec
        self.model = build_model(self.spec.model)
        self.strategy = self.spec.make_strategy()
        self.state = self.strategy.initial_state(trainable_state(self.model))
        self.screen = RoundScreen(tolerance=self.spec.copy_tolerance)
        self.previous: dict[int, Mapping[str, torch.Tensor]] = {}
        self.addresses = [Address(f"0x{i + 1:040x}") for i in range(len(scenario.parties))]
        self.policy = RewardPolicy()

    def seed(self, round_: int) -> int:
        """The round's estimator seed: :func:`contribution_seed` of the opening model's hash."""
        blob = encode_model(self.model, self.spec.model, round=round_ - 1, task_id=1)
        return contribution_seed(bytes(content_hash(blob)), round_)

    def _train(self, index: int, round_: int) -> ClientUpdate:
        local = build_model(self.spec.model)
        local.load_state_dict(self.model.state_dict())
        config = self.strategy.configure_train(self.spec.train)
        data = self.scenario.parties[index]
        result = train_local(local, data, config, round=round_, device=torch.device("cpu"))
        return ClientUpdate(delta=dict(result.delta), samples=result.samples)

    def updates(self, round_: int) -> list[ClientUpdate]:
        """Every client's update of ``round_`` (the attackers' included)."""
        roles, parties = self.scenario.roles, self.scenario.parties
        honest = {
            i: self._train(i, round_) for i in range(len(parties)) if roles.kind(i) == "honest"
        }
        zero = {n: torch.zeros_like(t) for n, t in next(iter(honest.values())).delta.items()}
        out = []
        for i, data in enumerate(parties):
            victim = roles.victim(i)
            if i in honest:
                out.append(honest[i])
            elif victim is not None and victim in self.previous:
                nudged = {n: t * (1.0 + NUDGE) for n, t in self.previous[victim].items()}
                out.append(ClientUpdate(delta=nudged, samples=data.rows))
            else:
                out.append(ClientUpdate(delta=dict(zero), samples=data.rows))
        self.previous = {i: u.delta for i, u in honest.items()}
        return out

    def utility(self, updates: Sequence[ClientUpdate]) -> Callable[[Coalition], float]:
        """The coordinator's own utility (:func:`fl_node.coordinator.coalition_utility`)."""
        data = self.scenario.validation
        params = trainable_state(self.model)
        return coalition_utility(self.spec.model, self.strategy, params, updates, self.state, data)

    def screen_round(
        self, round_: int, updates: list[ClientUpdate]
    ) -> tuple[list[UpdateVerdict], list[tuple[int, ClientUpdate]]]:
        """The screen's verdicts and the kept updates (nothing recorded yet)."""
        verdicts = [UpdateVerdict(a, accepted=True, reason=None) for a in self.addresses]
        return self.screen.screen(round_, self.addresses, verdicts, list(enumerate(updates)))

    def advance(
        self, round_: int, updates: list[ClientUpdate], kept: list[tuple[int, ClientUpdate]]
    ) -> None:
        """Aggregate the kept updates into the next global model; record the round's steps."""
        before = trainable_state(self.model)
        if kept:
            result = self.strategy.aggregate_with_state(before, [u for _, u in kept], self.state)
            self.model.load_state_dict(result.params, strict=False)
            self.state = result.state
        step = global_step(before, trainable_state(self.model))
        self.screen.record(round_, self.addresses, list(enumerate(updates)), kept, step)

    def pay(self, players: Sequence[int], scored: ContributionResult) -> Payout:
        """The round's budget and amounts when ``players`` (client indices) were so scored."""
        rounds = self.spec.rounds
        improvement = round_improvement(scored.utilities, len(players)) if players else 0.0
        budget = round_budget_for(
            self.policy, POOL // rounds, improvement, pool=POOL, rounds=rounds
        )
        full = [0.0] * len(self.addresses)
        for index, value in zip(players, scored.scores, strict=True):
            full[index] = value
        eligible = [i in players for i in range(len(self.addresses))]
        paid = allocate_rewards(self.policy, budget, scores_to_fixed(full), eligible)
        return Payout(paid.paid, tuple(paid.amounts))


def capped_gtg(n: int) -> GtgShapley | None:
    """GTG held to a fifth of exact's ``2^n`` evaluations, overshoot included; None if too few.

    :class:`GtgShapley` tests ``max_evaluations`` before each permutation and may overshoot it by
    ``n - 1``, so the cap is ``2^n // 5 - (n - 1)``; below ``n + 2`` (not one whole permutation
    beside the empty and the full coalition) there is no such GTG.
    """
    cap = 2**n // 5 - (n - 1)
    return GtgShapley(max_evaluations=cap) if cap >= n + 2 else None


def _estimator(name: str, n: int) -> ContributionEstimator | None:
    return capped_gtg(n) if name == "gtg20" else ESTIMATORS[name]()


def score(
    names: Sequence[str], n: int, utility: Callable[[Coalition], float], seed: int
) -> dict[str, Scored]:
    """Each named estimator's result on ``n`` players, timed (``gtg20``: :func:`capped_gtg`)."""
    out = {}
    for name in names:
        estimator = _estimator(name, n)
        if estimator is None:
            continue
        started = time.perf_counter()
        result = estimator.estimate(n, utility, seed=seed)
        out[name] = Scored(result, time.perf_counter() - started)
    return out


def run_round(task: ContributionTask, round_: int) -> RoundFigures:
    """One round: the updates, both games scored, the screening, the payouts, the next model."""
    seed = task.seed(round_)
    updates = task.updates(round_)
    everyone = list(range(len(updates)))
    unscreened = score(("exact", "gtg", "gtg20"), len(updates), task.utility(updates), seed)
    verdicts, kept = task.screen_round(round_, updates)
    accepted = [i for i, _ in kept]
    screened = score(
        ("exact", "gtg", "gtg20", "loo"), len(kept), task.utility([u for _, u in kept]), seed
    )
    figures = RoundFigures(
        round=round_,
        accepted=tuple(accepted),
        reasons=tuple(v.reason for v in verdicts),
        screened=screened,
        unscreened=unscreened,
        paid=task.pay(accepted, screened["gtg"].result),
        exact_paid=task.pay(accepted, screened["exact"].result),
        unscreened_paid=task.pay(everyone, unscreened["gtg"].result),
        validation_loss=float("nan"),
    )
    task.advance(round_, updates, kept)
    loss = _loss(task.model, task.scenario)
    log.info(
        "run_round: %s round %d: %d accepted, validation loss %.4f, pays %d",
        *(task.scenario.name, round_, len(accepted), loss, figures.paid.budget),
    )
    return replace(figures, validation_loss=loss)
