"""The sponsor's side of a task: store the spec, escrow the pool, set the terms, invite.

:func:`create_task` is what the demo and ``fedmarket task create`` run: the spec's canonical bytes
go to the content store, the pool is approved and escrowed, and the task is created with its
:class:`TaskTerms` (the schedule of deadlines, the quorum, the stakes, the slash rate, and whether
joining needs the allowlist or an invitation). :func:`invite` signs the EIP-712 invitation a
participant presents to join a permissioned task.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from eth_account.signers.local import LocalAccount

from chain.commitments import Invitation, SignedInvitation, sign_invitation
from chain.fed_task import FedTaskClient, Schedule, TaskConfig
from chain.token import RewardTokenClient
from fl_node.task import TaskSpec
from kernel.types import Address, TaskId
from storage import ContentStore, content_hash

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TaskTerms:
    """What a task asks of its parties besides the model: deadlines, quorum, stakes, access.

    Attributes
    ----------
    schedule : Schedule
        The periods of the task's deadlines, in seconds.
    quorum : int, default 1
        Accepted updates a round needs to pay anything.
    participant_stake : int, default 0
        Token wei each participant locks to join.
    coordinator_stake : int, default 0
        Token wei the coordinator locks before round 1.
    slash_bps : int, default 0
        Share of a flagged (or stalling) party's stake slashed, in basis points.
    permissioned : bool, default False
        Join only if allowlisted or invited.
    allow : tuple of str, default ()
        Accounts to allowlist at creation (permissioned tasks).
    """

    schedule: Schedule
    quorum: int = 1
    participant_stake: int = 0
    coordinator_stake: int = 0
    slash_bps: int = 0
    permissioned: bool = False
    allow: tuple[str, ...] = ()


def create_task(
    fed_task: FedTaskClient,
    token: RewardTokenClient,
    store: ContentStore,
    spec: TaskSpec,
    *,
    coordinator: str,
    pool: int,
    max_participants: int,
    terms: TaskTerms,
) -> TaskId:
    """Store the spec, approve the escrow and create the task as the sponsor; return its id.

    Parameters
    ----------
    fed_task : FedTaskClient
        FedTask, sending as the sponsor.
    token : RewardTokenClient
        The reward token, sending as the sponsor (who must hold ``pool``).
    store : ContentStore
        Where the spec is stored.
    spec : TaskSpec
        The task.
    coordinator : str
        The coordinator's address.
    pool : int
        Reward pool in token wei.
    max_participants : int
        Most participants the task admits.
    terms : TaskTerms
        Schedule, quorum, stakes, slash rate, access.
    """
    spec_bytes = spec.to_bytes()
    spec_cid = store.put(spec_bytes)
    token.approve(fed_task.address, pool)
    config = TaskConfig(
        spec_cid=spec_cid,
        spec_hash=content_hash(spec_bytes),
        coordinator=coordinator,
        pool=pool,
        total_rounds=spec.rounds,
        max_participants=max_participants,
        schedule=terms.schedule,
        quorum=terms.quorum,
        participant_stake=terms.participant_stake,
        coordinator_stake=terms.coordinator_stake,
        slash_bps=terms.slash_bps,
        permissioned=terms.permissioned,
    )
    task_id, _ = fed_task.create_task(config)
    if terms.allow:
        fed_task.set_allowed(task_id, list(terms.allow))
    log.info("create_task: task %s, pool %d, %d rounds", task_id, pool, spec.rounds)
    return task_id


def invite(
    sponsor: LocalAccount, fed_task: FedTaskClient, task_id: int, participant: str, deadline: int
) -> SignedInvitation:
    """The sponsor's EIP-712 invitation of ``participant`` to a permissioned task.

    Parameters
    ----------
    sponsor : LocalAccount
        The task's sponsor.
    fed_task : FedTaskClient
        The FedTask contract (its domain).
    task_id : int
        The task.
    participant : str
        The invited account (only it can use the invitation).
    deadline : int
        Valid up to this timestamp.
    """
    invitation = Invitation(TaskId(task_id), Address(participant), deadline)
    return sign_invitation(sponsor, fed_task.domain(), invitation)


__all__ = ["TaskTerms", "create_task", "invite"]
