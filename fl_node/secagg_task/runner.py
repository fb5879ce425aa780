"""A SecAgg task run in-process: real training, group sums, group-level contributions, payouts.

Each round every participant trains on the round's model, encodes its update and sample count
(:mod:`.encoding`) and runs SecAgg with its group over the board; the coordinator's side turns
the group sums into one :class:`~fl_node.strategies.ClientUpdate` per completed group (the
group's weighted mean, weighted by its sample count: FedAvg over groups equals FedAvg over their
survivors), measures the task's estimator over groups on its validation rows, splits each
group's score among its survivors and pays the round under the spec's reward policy.

It runs without a chain: the masked-input commitments are recorded in each round's report, not
sent to ``FedTask`` (the coordinator/participant wiring of the commit-reveal contract is the
next step, see ``docs/privacy.md``).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor

from fl_node.coordinator import coalition_utility
from fl_node.data import LocalDataset
from fl_node.evaluation import task_metrics
from fl_node.models import FedModel, build_model, trainable_state
from fl_node.objectives import predict
from fl_node.payout import RoundTerms, contribution_seed, round_improvement, round_rewards
from fl_node.secagg import Stage
from fl_node.secagg_task.board import MemoryBoard, MessageBoard
from fl_node.secagg_task.contributions import member_contributions, survived
from fl_node.secagg_task.errors import GroupingError
from fl_node.secagg_task.groups import group_seed
from fl_node.secagg_task.noise import member_dp, train_config
from fl_node.secagg_task.round import MemberInput, SecureRound, run_secure_round
from fl_node.strategies import ClientUpdate, ServerState
from fl_node.task import TaskSpec
from fl_node.training import train_local
from incentives import make_estimator
from incentives.contribution import coalition_key

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Party:
    """A participant of the in-process run: its address and its rows (which stay with it)."""

    address: str
    data: LocalDataset


@dataclass(frozen=True)
class SecAggRoundReport:
    """One round as the coordinator saw and paid it.

    Attributes
    ----------
    round : int
        The round.
    secure : SecureRound
        The group sums, their transcripts and the members' masked-input commitments.
    group_scores : tuple of float
        The estimator's score of each completed group.
    contributions : tuple of float
        Each participant's share of its group's score (task participant order).
    amounts : tuple of int
        Wei paid to each participant this round.
    utilities : dict of str to float
        Every coalition of groups measured (keys index the completed groups).
    test_loss : float
        The next model's loss on the held-out test set.
    """

    round: int
    secure: SecureRound
    group_scores: tuple[float, ...]
    contributions: tuple[float, ...]
    amounts: tuple[int, ...]
    utilities: dict[str, float]
    test_loss: float

    @property
    def paid(self) -> int:
        """Everything paid this round."""
        return sum(self.amounts)


def flatten(delta: Mapping[str, Tensor], names: Sequence[str]) -> NDArray[np.float64]:
    """The parameters ``names`` of ``delta``, concatenated (float64)."""
    return np.concatenate([delta[n].detach().cpu().double().numpy().ravel() for n in names])


def unflatten(vector: NDArray[np.float64], shapes: Mapping[str, torch.Size]) -> dict[str, Tensor]:
    """:func:`flatten`'s inverse for parameters of ``shapes`` (in their order)."""
    out, start = {}, 0
    for name, shape in shapes.items():
        size = int(np.prod(shape))
        out[name] = torch.tensor(vector[start : start + size], dtype=torch.float32).reshape(shape)
        start += size
    return out


class SecAggTask:
    """Runs the rounds of a ``secagg`` task in-process (see the module docstring).

    Parameters
    ----------
    spec : TaskSpec
        A task with ``aggregation == "secagg"``.
    parties : sequence of Party
        The participants, in join order (the order of contributions and amounts).
    validation : LocalDataset
        The coordinator's rows for the group utilities.
    test : LocalDataset
        The held-out test set.
    pool : int
        The reward pool, in wei.
    task_id : int, default 1
        Bound into every SecAgg message.
    board : MessageBoard or None, default None
        The SecAgg channel (a fresh :class:`MemoryBoard` when ``None``).
    generator : torch.Generator or None, default None
        The members' distributed-DP noise (:attr:`TaskSpec.distributed_dp`); ``None``: secret.
    """

    def __init__(
        self,
        spec: TaskSpec,
        parties: Sequence[Party],
        *,
        validation: LocalDataset,
        test: LocalDataset,
        pool: int,
        task_id: int = 1,
        board: MessageBoard | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        if spec.secagg is None:
            raise GroupingError("SecAggTask: the spec does not aggregate under secagg")
        self.spec, self.params = spec, spec.secagg
        self.parties, self.validation, self.test = list(parties), validation, test
        self.pool, self.escrow, self.task_id = pool, pool, task_id
        self.board = board or MemoryBoard()
        self.generator = generator
        self.strategy = spec.make_strategy()
        self.model: FedModel = build_model(spec.model)
        self.state: ServerState = self.strategy.initial_state(trainable_state(self.model))
        self.reports: list[SecAggRoundReport] = []

    @property
    def model_hash(self) -> bytes:
        """sha256 of the current model's parameters (the round's public randomness)."""
        params = trainable_state(self.model)
        return hashlib.sha256(flatten(params, sorted(params)).astype("<f4").tobytes()).digest()

    def run(
        self, dropouts: Mapping[int, Mapping[str, Stage]] | None = None
    ) -> list[SecAggRoundReport]:
        """Every round; ``dropouts`` maps a round to its members' last stages."""
        for round_ in range(1, self.spec.rounds + 1):
            self.run_round(round_, (dropouts or {}).get(round_))
        return self.reports

    def member_inputs(self, round_: int) -> dict[str, MemberInput]:
        """Each party trains on the round's model: its flattened update and sample count.

        Under distributed DP the update is neither clipped nor noised yet: the member does both
        when it encodes it for its group (:func:`~fl_node.secagg_task.noise.encode_member`).
        """
        params = trainable_state(self.model)
        config = train_config(self.spec, self.strategy.configure_train(self.spec.train))
        inputs = {}
        for party in self.parties:
            local = build_model(self.spec.model)
            local.load_state_dict(params, strict=False)
            result = train_local(
                local, party.data, config, round=round_, device=torch.device("cpu")
            )
            inputs[party.address] = MemberInput(flatten(result.delta, list(params)), result.samples)
        return inputs

    def run_round(
        self,
        round_: int,
        dropouts: Mapping[str, Stage] | None = None,
        inputs: Mapping[str, MemberInput] | None = None,
    ) -> SecAggRoundReport:
        """Train, aggregate by groups, measure groups, pay survivors, move the model on.

        ``inputs`` (default: :meth:`member_inputs`) lets a benchmark reuse the updates it
        measures on the side; ``dropouts`` maps members to the last stage they complete.
        """
        params = trainable_state(self.model)
        seed = group_seed(self.spec.sample_seed, self.model_hash, round_)
        secure = run_secure_round(
            inputs if inputs is not None else self.member_inputs(round_),
            self.params,
            task=self.task_id,
            round_=round_,
            seed=seed,
            board=self.board,
            dropouts=dropouts,
            dp=member_dp(self.spec),
            generator=self.generator,
        )
        shapes = {n: t.shape for n, t in params.items()}
        updates = [
            ClientUpdate(unflatten(g.decoded.mean, shapes), g.decoded.samples)
            for g in secure.completed
            if g.decoded is not None
        ]
        scores, utilities = self._measure(params, updates, round_)
        report = self._pay(round_, secure, scores, utilities)
        if updates:
            result = self.strategy.aggregate_with_state(params, updates, self.state)
            self.model.load_state_dict(result.params, strict=False)
            self.state = result.state
        report = replace(report, test_loss=self._loss(self.model, self.test))
        self.reports.append(report)
        log.info("run_round: round %d, %d groups, paid %d", round_, len(updates), report.paid)
        return report

    def _measure(
        self, params: Mapping[str, Tensor], updates: Sequence[ClientUpdate], round_: int
    ) -> tuple[list[float], dict[str, float]]:
        """The estimator over groups, with the empty and the full coalition always measured."""
        if not updates:
            return [], {}
        utility = coalition_utility(
            self.spec.model, self.strategy, params, updates, self.state, self.validation
        )
        estimator = make_estimator(self.spec.contribution)
        result = estimator.estimate(
            len(updates), utility, seed=contribution_seed(self.model_hash, round_)
        )
        utilities = dict(result.utilities)
        for coalition in (frozenset(), frozenset(range(len(updates)))):
            utilities.setdefault(coalition_key(coalition), utility(coalition))
        return list(result.scores), utilities

    def _pay(
        self,
        round_: int,
        secure: SecureRound,
        scores: list[float],
        utilities: dict[str, float],
    ) -> SecAggRoundReport:
        """Survivors of completed groups share their group's score; the spec's policy pays."""
        addresses = [p.address for p in self.parties]
        contributions = member_contributions(scores, secure.groups, addresses)
        accepted = survived(secure.groups, addresses)
        rounds_left = self.spec.rounds - round_ + 1
        terms = RoundTerms(
            policy=self.spec.rewards,
            cap=self.escrow // rounds_left,
            quorum=1,
            pool=self.pool,
            rounds=self.spec.rounds,
        )
        improvement = round_improvement(utilities, len(scores))
        rewards = round_rewards(terms, contributions, accepted, improvement)
        self.escrow -= sum(rewards.amounts)
        return SecAggRoundReport(
            *(round_, secure, tuple(scores), tuple(contributions), tuple(rewards.amounts)),
            *(utilities, float("nan")),
        )

    @staticmethod
    def _loss(model: FedModel, data: LocalDataset) -> float:
        return task_metrics(model.spec.task, data.y, predict(model, data.x)).loss


__all__ = ["Party", "SecAggRoundReport", "SecAggTask", "flatten", "unflatten"]
