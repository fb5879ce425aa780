"""Typed wrapper of the FedTask contract: tasks, rounds, anchored updates, rewards."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from web3.logs import DISCARD

from chain._client import ContractClient
from chain.signer import TxResult
from kernel.types import Address, Cid, Hash32, Round, TaskId, Wei


class TaskStatus(IntEnum):
    """Lifecycle of a task (mirrors ``IFedTask.TaskStatus``)."""

    NONE = 0
    JOINING = 1
    TRAINING = 2
    COMPLETED = 3
    CANCELLED = 4


@dataclass(frozen=True)
class TaskInfo:
    """A task's on-chain state."""

    task_id: TaskId
    sponsor: Address
    coordinator: Address
    pool: Wei
    escrow: Wei
    total_rounds: int
    current_round: Round
    round_open: bool
    status: TaskStatus
    max_participants: int
    spec_cid: Cid
    spec_hash: Hash32
    model_cid: Cid
    model_hash: Hash32


@dataclass(frozen=True)
class UpdateAnchor:
    """An ``UpdateSubmitted`` event: what a participant anchored for a round."""

    task_id: TaskId
    round: Round
    participant: Address
    update_hash: Hash32
    cid: Cid
    samples: int
    block: int
    tx_hash: str


@dataclass(frozen=True)
class RoundRecord:
    """A ``RoundFinalized`` event."""

    task_id: TaskId
    round: Round
    model_cid: Cid
    model_hash: Hash32
    evidence_cid: Cid
    budget: Wei
    paid: Wei
    block: int


@dataclass(frozen=True)
class RoundOpening:
    """A ``RoundOpened`` event."""

    task_id: TaskId
    round: Round
    model_cid: Cid
    model_hash: Hash32
    block: int


@dataclass(frozen=True)
class RewardRecord:
    """A ``RewardAllocated`` event."""

    task_id: TaskId
    round: Round
    participant: Address
    score: int
    amount: Wei


class FedTaskClient(ContractClient):
    """Calls and events of FedTask, typed."""

    artifact_name = "FedTask"

    # ---- writes -------------------------------------------------------------------------------
    def create_task(
        self,
        *,
        spec_cid: str,
        spec_hash: bytes,
        coordinator: str,
        pool: int,
        total_rounds: int,
        max_participants: int,
    ) -> tuple[TaskId, TxResult]:
        """Create a task escrowing ``pool`` (the sponsor must have approved FedTask for it)."""
        fn = self.contract.functions.createTask(
            spec_cid, spec_hash, coordinator, pool, total_rounds, max_participants
        )
        result = self._send(fn)
        events = self.contract.events.TaskCreated().process_receipt(result.receipt, errors=DISCARD)
        return TaskId(int(events[0]["args"]["taskId"])), result

    def join(self, task_id: int) -> TxResult:
        """Join as a participant."""
        return self._send(self.contract.functions.joinTask(task_id))

    def cancel(self, task_id: int) -> TxResult:
        """Cancel a task still joining and refund its escrow (sponsor only)."""
        return self._send(self.contract.functions.cancelTask(task_id))

    def open_round(self, task_id: int, round: int, model_cid: str, model_hash: bytes) -> TxResult:
        """Open ``round`` with the global model it starts from (coordinator only)."""
        return self._send(self.contract.functions.openRound(task_id, round, model_cid, model_hash))

    def submit_update(
        self, task_id: int, round: int, update_hash: bytes, update_cid: str, samples: int
    ) -> TxResult:
        """Anchor an update's hash, CID and sample count (participant, once per round)."""
        fn = self.contract.functions.submitUpdate(task_id, round, update_hash, update_cid, samples)
        return self._send(fn)

    def finalize_round(
        self,
        task_id: int,
        round: int,
        *,
        model_cid: str,
        model_hash: bytes,
        evidence_cid: str,
        scores: Sequence[int],
        budget: int,
    ) -> TxResult:
        """Close ``round`` with the new model, the evidence and one score per participant."""
        fn = self.contract.functions.finalizeRound(
            task_id, round, model_cid, model_hash, evidence_cid, list(scores), budget
        )
        return self._send(fn)

    def claim_rewards(self) -> TxResult:
        """Withdraw everything owed to the signer."""
        return self._send(self.contract.functions.claimRewards())

    def withdraw_remainder(self, task_id: int) -> TxResult:
        """Return what is left in a finished task's escrow to its sponsor."""
        return self._send(self.contract.functions.withdrawRemainder(task_id))

    # ---- views --------------------------------------------------------------------------------
    def task(self, task_id: int) -> TaskInfo:
        """The task's state (raises ``TaskUnknown`` for an unknown id)."""
        raw = self._call(self.contract.functions.getTask(task_id))
        return _task_info(task_id, raw)

    def participants(self, task_id: int) -> list[Address]:
        """Participants in join order (the order of ``finalizeRound`` scores)."""
        return [Address(a) for a in self._call(self.contract.functions.getParticipants(task_id))]

    def is_participant(self, task_id: int, account: str) -> bool:
        """Whether ``account`` joined ``task_id``."""
        return bool(self._call(self.contract.functions.isParticipant(task_id, account)))

    def update(self, task_id: int, round: int, participant: str) -> tuple[Hash32, int, bool]:
        """(hash, samples, submitted) of a participant's update in a round."""
        h, samples, submitted = self._call(
            self.contract.functions.getUpdate(task_id, round, participant)
        )
        return Hash32(bytes(h)), int(samples), bool(submitted)

    def owed(self, account: str) -> Wei:
        """Rewards allocated to ``account`` and not yet claimed."""
        return Wei(int(self._call(self.contract.functions.owed(account))))

    def task_count(self) -> int:
        """Number of tasks created."""
        return int(self._call(self.contract.functions.taskCount()))

    # ---- events -------------------------------------------------------------------------------
    def update_anchors(
        self, task_id: int, round: int | None = None, *, from_block: int | None = None
    ) -> list[UpdateAnchor]:
        """Every update anchored for a task (one round, or all), optionally since a block."""
        filters: dict[str, Any] = {"taskId": task_id}
        if round is not None:
            filters["round"] = round
        return [
            UpdateAnchor(
                task_id=TaskId(int(e["args"]["taskId"])),
                round=Round(int(e["args"]["round"])),
                participant=Address(e["args"]["participant"]),
                update_hash=Hash32(bytes(e["args"]["updateHash"])),
                cid=Cid(e["args"]["updateCid"]),
                samples=int(e["args"]["samples"]),
                block=int(e["blockNumber"]),
                tx_hash="0x" + bytes(e["transactionHash"]).hex(),
            )
            for e in self._logs("UpdateSubmitted", from_block=from_block, **filters)
        ]

    def round_openings(self, task_id: int) -> list[RoundOpening]:
        """Every ``RoundOpened`` of a task, in order."""
        return [
            RoundOpening(
                task_id=TaskId(int(e["args"]["taskId"])),
                round=Round(int(e["args"]["round"])),
                model_cid=Cid(e["args"]["modelCid"]),
                model_hash=Hash32(bytes(e["args"]["modelHash"])),
                block=int(e["blockNumber"]),
            )
            for e in self._logs("RoundOpened", taskId=task_id)
        ]

    def finalized_rounds(self, task_id: int) -> list[RoundRecord]:
        """Every ``RoundFinalized`` of a task, in order."""
        return [
            RoundRecord(
                task_id=TaskId(int(e["args"]["taskId"])),
                round=Round(int(e["args"]["round"])),
                model_cid=Cid(e["args"]["modelCid"]),
                model_hash=Hash32(bytes(e["args"]["modelHash"])),
                evidence_cid=Cid(e["args"]["evidenceCid"]),
                budget=Wei(int(e["args"]["budget"])),
                paid=Wei(int(e["args"]["paid"])),
                block=int(e["blockNumber"]),
            )
            for e in self._logs("RoundFinalized", taskId=task_id)
        ]

    def rewards(self, task_id: int, round: int | None = None) -> list[RewardRecord]:
        """Every ``RewardAllocated`` of a task (one round, or all)."""
        filters: dict[str, Any] = {"taskId": task_id}
        if round is not None:
            filters["round"] = round
        return [_reward(e) for e in self._logs("RewardAllocated", **filters)]

    def rewards_in(self, result: TxResult) -> list[RewardRecord]:
        """The ``RewardAllocated`` events of one ``finalizeRound`` transaction, in order."""
        events = self.contract.events.RewardAllocated().process_receipt(
            result.receipt, errors=DISCARD
        )
        return [_reward(e) for e in events]

    def claims(self, account: str | None = None) -> list[tuple[Address, Wei]]:
        """Every ``RewardsClaimed`` (of one account, or all): (account, amount)."""
        filters: dict[str, Any] = {"account": account} if account else {}
        return [
            (Address(e["args"]["account"]), Wei(int(e["args"]["amount"])))
            for e in self._logs("RewardsClaimed", **filters)
        ]


def _reward(event: Any) -> RewardRecord:
    args = event["args"]
    return RewardRecord(
        task_id=TaskId(int(args["taskId"])),
        round=Round(int(args["round"])),
        participant=Address(args["participant"]),
        score=int(args["score"]),
        amount=Wei(int(args["amount"])),
    )


def _task_info(task_id: int, raw: Any) -> TaskInfo:
    def field(name: str, index: int) -> Any:
        return raw[name] if isinstance(raw, dict) else raw[index]

    return TaskInfo(
        task_id=TaskId(task_id),
        sponsor=Address(field("sponsor", 0)),
        coordinator=Address(field("coordinator", 1)),
        pool=Wei(int(field("pool", 2))),
        escrow=Wei(int(field("escrow", 3))),
        total_rounds=int(field("totalRounds", 4)),
        current_round=Round(int(field("currentRound", 5))),
        round_open=bool(field("roundOpen", 6)),
        status=TaskStatus(int(field("status", 7))),
        max_participants=int(field("maxParticipants", 8)),
        spec_cid=Cid(str(field("specCid", 9))),
        spec_hash=Hash32(bytes(field("specHash", 10))),
        model_cid=Cid(str(field("modelCid", 11))),
        model_hash=Hash32(bytes(field("modelHash", 12))),
    )
