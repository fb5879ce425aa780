"""``/tasks``: a task as the chain records it, read fresh on every request (nothing cached).

Rounds are assembled from the FedTask events: ``RoundOpened`` (the model a round started from),
``UpdateSubmitted`` (each participant's anchored update), ``RoundFinalized`` (the new model, the
evidence, budget and amount paid) and ``RewardAllocated`` (each participant's score and reward).
Amounts and scores are decimal strings (see :mod:`marketplace_api.schemas`).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Annotated, Any

from fastapi import APIRouter, Path

from chain import FedTaskClient, RewardRecord, RoundOpening, RoundRecord, UpdateAnchor
from marketplace_api.api.deps import FedTaskDep
from marketplace_api.schemas import (
    INT64_MAX,
    RewardPublic,
    RoundPublic,
    TaskPublic,
    UpdatePublic,
)

log = logging.getLogger(__name__)

router = APIRouter(prefix="/tasks", tags=["tasks"])

_ZERO_HASH = b"\x00" * 32


def _hex(value: bytes) -> str:
    return "0x" + bytes(value).hex()


def reward_totals(rewards: list[RewardRecord]) -> dict[str, int]:
    """Wei allocated to each participant over the given rewards (first-seen order)."""
    totals: dict[str, int] = {}
    for r in rewards:
        totals[r.participant] = totals.get(r.participant, 0) + int(r.amount)
    return totals


def updates_by_round(anchors: list[UpdateAnchor]) -> dict[int, list[UpdatePublic]]:
    """Each round's anchored updates, in anchoring order."""
    updates: dict[int, list[UpdatePublic]] = defaultdict(list)
    for u in anchors:
        updates[u.round].append(
            UpdatePublic(
                participant=u.participant,
                cid=u.cid,
                update_hash=_hex(u.update_hash),
                samples=u.samples,
                block=u.block,
                tx_hash=u.tx_hash,
            )
        )
    return updates


def rewards_by_round(rewards: list[RewardRecord]) -> dict[int, list[RewardPublic]]:
    """Each round's rewards, in allocation order."""
    by_round: dict[int, list[RewardPublic]] = defaultdict(list)
    for r in rewards:
        by_round[r.round].append(
            RewardPublic(participant=r.participant, score=r.score, amount_wei=r.amount)
        )
    return by_round


def round_public(
    number: int,
    opened: RoundOpening | None,
    final: RoundRecord | None,
    updates: list[UpdatePublic],
    rewards: list[RewardPublic],
) -> RoundPublic:
    """One round as the API shows it (``opened`` / ``final`` are ``None`` until those events)."""
    return RoundPublic(
        round=number,
        opened_model_cid=opened.model_cid if opened else None,
        opened_model_hash=_hex(opened.model_hash) if opened else None,
        finalized=final is not None,
        model_cid=final.model_cid if final else None,
        model_hash=_hex(final.model_hash) if final else None,
        evidence_cid=final.evidence_cid if final else None,
        budget_wei=final.budget if final else None,
        paid_wei=final.paid if final else None,
        updates=updates,
        rewards=rewards,
    )


def task_view(fed_task: FedTaskClient, task_id: int) -> TaskPublic:
    """Everything the chain records about ``task_id`` (raises ``TaskUnknown``).

    Parameters
    ----------
    fed_task : FedTaskClient
        Read-only client of the FedTask contract.
    task_id : int
        The task.
    """
    info = fed_task.task(task_id)
    participants = fed_task.participants(task_id)
    openings = {o.round: o for o in fed_task.round_openings(task_id)}
    finals = {f.round: f for f in fed_task.finalized_rounds(task_id)}
    updates = updates_by_round(fed_task.update_anchors(task_id))
    all_rewards = fed_task.rewards(task_id)
    rewards = rewards_by_round(all_rewards)
    rounds = [
        round_public(
            number,
            openings.get(number),
            finals.get(number),
            updates.get(number, []),
            rewards.get(number, []),
        )
        for number in sorted(set(openings) | set(finals))
    ]
    totals: dict[str, int] = dict.fromkeys(participants, 0)
    totals.update(reward_totals(all_rewards))
    has_model = bytes(info.model_hash) != _ZERO_HASH
    return TaskPublic(
        task_id=task_id,
        sponsor=info.sponsor,
        coordinator=info.coordinator,
        status=info.status.name.lower(),
        pool_wei=info.pool,
        escrow_wei=info.escrow,
        total_rounds=info.total_rounds,
        current_round=info.current_round,
        round_open=info.round_open,
        max_participants=info.max_participants,
        spec_cid=info.spec_cid,
        spec_hash=_hex(info.spec_hash),
        model_cid=info.model_cid if has_model else None,
        model_hash=_hex(info.model_hash) if has_model else None,
        participants=participants,
        rounds=rounds,
        totals=totals,
    )


@router.get("/{task_id}", response_model=TaskPublic, responses={404: {}})
def read_task(task_id: Annotated[int, Path(ge=1, le=INT64_MAX)], fed_task: FedTaskDep) -> Any:
    """A task, its participants, every round (updates, rewards) and each participant's total."""
    return task_view(fed_task, task_id)
