"""Disputes before ChallengeCourt: a participant challenges a round, a validator votes on it.

- :func:`challenge_round`: a participant of the task puts a failed round's challenge evidence
  (:class:`~fl_node.challenge.ChallengeEvidence`, stored by the audit) before the court, with
  its bond, inside the round's challenge window;
- :func:`vote_on`: a validator audits the task itself, stores its audit report as its public
  evidence, and votes its confidence (:func:`fl_node.audit.uphold_bps`).

Resolving is one call anyone may make (``ChallengeCourtClient.resolve``); payouts are pull
balances (``withdraw``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from chain.court import ChallengeCourtClient
from chain.fed_task import FedTaskClient
from chain.token import RewardTokenClient
from fl_node.audit import audit_task, uphold_bps
from fl_node.challenge import ChallengeEvidence
from fl_node.errors import TaskStateError
from fl_node.mailbox import Mailbox
from storage import ContentStore

log = logging.getLogger(__name__)


def challenge_round(
    court: ChallengeCourtClient, evidence: ChallengeEvidence, evidence_cid: str
) -> int:
    """Challenge the coordinator's verdict on a round, locking the court's bond; return its id.

    Parameters
    ----------
    court : ChallengeCourtClient
        The court, sending as the challenger (a participant of the task).
    evidence : ChallengeEvidence
        The audit's challenge evidence of the round.
    evidence_cid : str
        Where it is stored.
    """
    if court.signer is None:
        raise TaskStateError("challenge_round: a read-only court client cannot challenge")
    token = RewardTokenClient(court.backend, court.token(), court.signer)
    token.approve(court.address, court.challenge_bond())
    challenge_id, _ = court.challenge(
        evidence.task_id,
        evidence.round,
        evidence_cid=evidence_cid,
        corrected_root=evidence.root_bytes,
        corrected_shares=evidence.shares_bytes,
    )
    log.info(
        "challenge_round: challenge %s of task %s round %s",
        *(challenge_id, evidence.task_id, evidence.round),
    )
    return challenge_id


@dataclass(frozen=True)
class Vote:
    """A validator's vote and the audit behind it.

    Attributes
    ----------
    challenge_id : int
        The challenge.
    uphold_bps : int
        The confidence voted, 0 to 10,000.
    evidence_cid : str
        The validator's audit report in the content store.
    """

    challenge_id: int
    uphold_bps: int
    evidence_cid: str


def vote_on(
    court: ChallengeCourtClient,
    fed_task: FedTaskClient,
    store: ContentStore,
    challenge_id: int,
    *,
    mailbox: Mailbox | None = None,
) -> Vote:
    """Audit the challenged task, store the report, and vote on the challenge.

    Parameters
    ----------
    court : ChallengeCourtClient
        The court, sending as the validator.
    fed_task : FedTaskClient
        The FedTask contract (read only).
    store : ContentStore
        The content store (the audit report is stored there).
    challenge_id : int
        The challenge.
    mailbox : Mailbox or None, default None
        The commitments' bulletin board, when the validator can read it.
    """
    info = court.challenge_info(challenge_id)
    report = audit_task(fed_task, store, int(info.task_id), mailbox=mailbox)
    bps = uphold_bps(report, info)
    cid = store.put_json(report.to_dict())
    court.vote(challenge_id, bps, cid)
    log.info("vote_on: challenge %s, uphold %d bps (audit %s)", challenge_id, bps, cid)
    return Vote(challenge_id, bps, cid)


__all__ = ["Vote", "challenge_round", "vote_on"]
