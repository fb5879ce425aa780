"""The rewards of a vertical task and what the chain recorded of it: typed records.

:class:`RewardPlan` is pure arithmetic: from the participants' feature-group Shapley values
and the round's on-chain cap it derives the amounts (:func:`incentives.allocate_round`, the
split every auditor recomputes), their Merkle tree (:class:`chain.commitments.RewardTree`:
the ``rewardsRoot`` and each party's claim) and the shares in basis points
(:func:`incentives.shares.shares_bps`). The other records describe what happened on chain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chain.commitments import RewardTree
    from chain.fed_task import RoundInfo, Schedule, TaskInfo

SPLIT_RULE = (
    "budget = the round's on-chain cap (one round: the whole pool); score_i = floor(shapley_i x "
    "10^18), 0 when not positive; amount_i = floor(budget x C_i / S) - floor(budget x C_(i-1) "
    "/ S) with prefix sums C of the scores in join order and S their sum (incentives.rewards); "
    "leaves keccak256(keccak256(abi.encode(taskId, round, account, amount))) of the positive "
    "amounts"
)
SHARES_RULE = "largest remainder of 10,000 basis points by positive Shapley value, join order"


@dataclass(frozen=True)
class RewardPlan:
    """What round 1 pays, computed before it is finalised.

    Attributes
    ----------
    task_id : int
        The task.
    participants : tuple of str
        Addresses in join order.
    contributions : tuple of float
        Feature-group Shapley value of each participant.
    cap : int
        The round's on-chain budget cap, in wei.
    scores : tuple of int
        Fixed-point scores of the split.
    amounts : tuple of int
        Wei paid to each participant (they sum to :attr:`budget`).
    shares_bps : tuple of int
        Each participant's share of the final model, summing to exactly 10,000.
    tree : RewardTree
        The Merkle tree of the positive amounts.
    """

    task_id: int
    participants: tuple[str, ...]
    contributions: tuple[float, ...]
    cap: int
    scores: tuple[int, ...]
    amounts: tuple[int, ...]
    shares_bps: tuple[int, ...]
    tree: RewardTree

    @classmethod
    def build(
        cls, task_id: int, participants: Sequence[str], contributions: Sequence[float], cap: int
    ) -> RewardPlan:
        """Split ``cap`` by contribution and build the rewards tree and the shares.

        Parameters
        ----------
        task_id : int
            The task.
        participants : sequence of str
            Addresses in join order.
        contributions : sequence of float
            Shapley value of each participant, same order.
        cap : int
            The round's budget cap in wei (``FedTaskClient.round_cap``).
        """
        from chain.commitments import RewardTree
        from incentives.rewards import allocate_round
        from incentives.shares import shares_bps

        split = allocate_round(contributions, cap, 1)
        amounts = dict(zip(participants, split.amounts, strict=True))
        return cls(
            task_id=task_id,
            participants=tuple(participants),
            contributions=tuple(contributions),
            cap=cap,
            scores=tuple(split.scores),
            amounts=tuple(split.amounts),
            shares_bps=tuple(shares_bps(contributions)),
            tree=RewardTree.build(task_id, 1, amounts),
        )

    @property
    def budget(self) -> int:
        """The round's budget: the sum of the amounts (0 when no contribution is positive)."""
        return int(self.tree.budget)

    @property
    def root(self) -> str:
        """The ``rewardsRoot`` as 0x hex (zero when nothing is paid)."""
        return "0x" + bytes(self.tree.root).hex()

    def by_address(self, values: Sequence[int]) -> dict[str, int]:
        """``address -> value`` for one value per participant (amounts, scores, shares)."""
        return dict(zip(self.participants, values, strict=True))

    def evidence(self) -> dict[str, Any]:
        """The rewards section of the round's evidence: enough to recompute the root."""
        return {
            "rule": SPLIT_RULE,
            "cap_wei": str(self.cap),
            "budget_wei": str(self.budget),
            "scores": {a: str(s) for a, s in self.by_address(self.scores).items()},
            "amounts_wei": {a: str(w) for a, w in self.by_address(self.amounts).items()},
            "rewards_root": self.root,
            "shares_bps": self.by_address(self.shares_bps),
            "shares_rule": SHARES_RULE,
        }


@dataclass(frozen=True)
class ClaimRecord:
    """One participant's claim of its reward by Merkle proof.

    Attributes
    ----------
    amount_wei : int
        The amount in its leaf (what it received).
    tx : str
        The ``claimRewards`` transaction.
    proof : tuple of str
        The proof of its leaf, 0x hex.
    """

    amount_wei: int
    tx: str
    proof: tuple[str, ...]


@dataclass(frozen=True)
class RewardsRecord:
    """The finalised round: stored documents, the rewards root, claims and the remainder.

    Attributes
    ----------
    model_cid, model_hash, evidence_cid : str
        The joint model manifest (CID and 0x keccak) and the evidence document.
    scores : dict of str to int
        Participant address -> fixed-point score of the split.
    budget_wei : int
        The round's budget (the sum of the rewards leaves).
    paid_wei : dict of str to int
        Participant address -> tokens it received by claiming.
    remainder_wei : int
        Escrow the round did not allocate, withdrawn by the sponsor.
    cap_wei : int
        The round's budget cap when it was finalised.
    rewards_root : str
        The ``rewardsRoot``, 0x hex.
    shares_bps : dict of str to int
        Participant address -> share of the final model in basis points, as recorded.
    claims : dict of str to ClaimRecord
        Participant address -> its claim (participants paid nothing have none).
    finalize_tx : str
        The ``finalizeRound`` transaction.
    remainder_tx : str or None
        The sponsor's ``withdrawRemainder`` transaction (``None``: nothing was left).
    """

    model_cid: str
    model_hash: str
    evidence_cid: str
    scores: dict[str, int]
    budget_wei: int
    paid_wei: dict[str, int]
    remainder_wei: int
    cap_wei: int
    rewards_root: str
    shares_bps: dict[str, int]
    claims: dict[str, ClaimRecord]
    finalize_tx: str
    remainder_tx: str | None


@dataclass(frozen=True)
class StakesRecord:
    """The stakes of the task and what each staker withdrew after the cooldown.

    Attributes
    ----------
    participant_wei, coordinator_wei : int
        Stake of each participant and of the coordinator.
    slash_bps : int
        Share of a flagged or stalling party's stake that would be slashed.
    withdrawn_wei : dict of str to int
        Staker address -> wei it withdrew.
    """

    participant_wei: int
    coordinator_wei: int
    slash_bps: int
    withdrawn_wei: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class TaskTimeline:
    """When things happened on chain, how the run reached its deadlines, and every transaction.

    Attributes
    ----------
    schedule : dict of str to int
        The task's periods in seconds.
    clock : {"travel", "wait"}
        Whether the run travelled past its deadlines or waited for them in real time.
    waited_seconds : float
        Wall seconds spent reaching deadlines.
    times : dict of str to int
        Chain timestamps: creation, round 1's opening and deadlines, end of the challenge
        window, the task's end.
    transactions : dict of str to str
        What the run sent (``"create"``, ``"join guest"``, ``"commit host"``...) -> tx hash.
    gas : dict of str to int
        The same labels -> gas used.
    """

    schedule: dict[str, int]
    clock: str
    waited_seconds: float
    times: dict[str, int]
    transactions: dict[str, str]
    gas: dict[str, int]

    @classmethod
    def of(
        cls,
        schedule: Schedule,
        task: TaskInfo,
        round_1: RoundInfo,
        *,
        clock: str,
        waited_seconds: float,
        transactions: dict[str, str],
        gas: dict[str, int],
    ) -> TaskTimeline:
        """The timeline of a task from its state on chain.

        Parameters
        ----------
        schedule : Schedule
            The task's timetable.
        task : TaskInfo
            The task.
        round_1 : RoundInfo
            Its round.
        clock : {"travel", "wait"}
            How the deadlines were reached.
        waited_seconds : float
            Wall seconds spent reaching them.
        transactions : dict of str to str
            Label -> tx hash.
        gas : dict of str to int
            Label -> gas used.
        """
        times = {
            "created_at": task.created_at,
            "opened_at": round_1.commit_deadline - schedule.commit_period,
            "commit_deadline": round_1.commit_deadline,
            "reveal_start": round_1.reveal_start,
            "reveal_deadline": round_1.reveal_deadline,
            "finalize_deadline": round_1.finalize_deadline,
            "claimable_at": round_1.claimable_at,
            "ended_at": task.ended_at,
        }
        return cls(asdict(schedule), clock, waited_seconds, times, dict(transactions), dict(gas))


__all__ = ["ClaimRecord", "RewardPlan", "RewardsRecord", "StakesRecord", "TaskTimeline"]
