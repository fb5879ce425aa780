"""Rewards by proof: which rounds an account can claim now, and the Merkle proof of each.

A finalised round pays through its ``rewardsRoot``; the leaves under it are in the round's
evidence (:class:`~fl_node.evidence.RewardSplit`). After an upheld dispute the chain holds the
challenger's corrected root instead, whose leaves are in the challenge's evidence
(:mod:`fl_node.challenge`). :func:`reward_tree` rebuilds whichever tree the chain's root is the
root of; :func:`due_claims` lists the rounds whose challenge window passed, undisputed and not
claimed yet, that pay the account something, each with its proof.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from chain.commitments import Claim, RewardTree
from chain.court import ChallengeCourtClient
from chain.fed_task import FedTaskClient, RewardsClaimedEvent, RoundFinalizedEvent
from chain.signer import TxResult
from fl_node.challenge import ChallengeEvidence
from fl_node.errors import ChallengeDocumentError, EvidenceError, TaskStateError
from fl_node.evidence import RewardLeaf, RoundEvidence
from kernel.types import Address
from storage import ContentStore
from storage.sealed_store import SealedStore

log = logging.getLogger(__name__)


def tree_of(task_id: int, round: int, leaves: Iterable[RewardLeaf]) -> RewardTree:
    """The rewards tree of ``leaves``.

    Parameters
    ----------
    task_id : int
        The task.
    round : int
        The round.
    leaves : iterable of RewardLeaf
        ``(account, amount)`` pairs.
    """
    return RewardTree.build(task_id, round, {leaf.account: leaf.amount for leaf in leaves})


def _corrected_tree(
    court: ChallengeCourtClient, store: ContentStore, task_id: int, round: int, root: bytes
) -> RewardTree | None:
    """The tree of the challenge whose corrected root the chain now holds, if there is one."""
    for opened in court.challenges_opened(task_id, round):
        if bytes(opened.corrected_root) != bytes(root):
            continue
        try:
            doc = ChallengeEvidence.from_dict(store.get_json(opened.evidence_cid))
        except (ChallengeDocumentError, LookupError, ValueError) as exc:
            log.warning("reward_tree: challenge %s unreadable: %s", opened.challenge_id, exc)
            continue
        tree = tree_of(task_id, round, doc.corrected_leaves)
        if tree.root == bytes(root):
            return tree
    return None


def reward_tree(
    store: ContentStore,
    finalized: RoundFinalizedEvent,
    root: bytes,
    court: ChallengeCourtClient | None = None,
) -> RewardTree | None:
    """The rewards tree whose root is ``root``: the evidence's, or a challenger's correction.

    Parameters
    ----------
    store : ContentStore
        Where the evidence (and any challenge evidence) is stored.
    finalized : RoundFinalizedEvent
        The round's ``RoundFinalized`` event (its evidence CID).
    root : bytes
        The round's rewards root on-chain now (``FedTaskClient.round(...).rewards_root``).
    court : ChallengeCourtClient or None, default None
        Where to look for a corrected root's leaves; ``None`` looks only at the evidence.

    Returns
    -------
    RewardTree or None
        ``None`` when no published leaves hash to ``root``.
    """
    task_id, round_ = int(finalized.task_id), int(finalized.round)
    try:
        evidence = RoundEvidence.from_dict(store.get_json(finalized.evidence_cid))
        tree = tree_of(task_id, round_, evidence.rewards.leaves)
        if tree.root == bytes(root):
            return tree
    except (EvidenceError, LookupError, ValueError) as exc:
        log.warning("reward_tree: round %s evidence unreadable: %s", round_, exc)
    if court is None:
        return None
    return _corrected_tree(court, store, task_id, round_, root)


@dataclass
class ClaimLedger:
    """What one account knows of one task's rounds, so a polling node reads each thing once.

    Attributes
    ----------
    settled : set of int
        Rounds claimed, or that pay this account nothing.
    windows : dict of int to int
        End of the challenge window of each finalised round seen.
    finalized : dict of int to RoundFinalizedEvent
        The ``RoundFinalized`` events read so far, by round.
    trees : dict of int to RewardTree
        Rewards trees already rebuilt, by round.
    due : dict of int to Claim
        Claims found due and not made yet, by round. A round past its window undisputed never
        changes again, and only this account can claim its reward, so a node that waits to claim
        several rounds at once does not read them again at every step; :meth:`forget_due` drops
        them when a claim says otherwise.
    """

    settled: set[int] = field(default_factory=set)
    windows: dict[int, int] = field(default_factory=dict)
    finalized: dict[int, RoundFinalizedEvent] = field(default_factory=dict)
    trees: dict[int, RewardTree] = field(default_factory=dict)
    due: dict[int, Claim] = field(default_factory=dict)

    def settle(self, rounds: Iterable[int]) -> None:
        """Mark ``rounds`` claimed."""
        for round_ in rounds:
            self.settled.add(round_)
            self.due.pop(round_, None)

    def forget_due(self) -> None:
        """Read every due claim again (one was made elsewhere: a claim reverted as claimed)."""
        self.due.clear()


@dataclass(frozen=True)
class DueClaims:
    """The claims an account can make now, and how many rounds it still waits for.

    Attributes
    ----------
    claims : list of Claim
        One per round that can be claimed now, oldest first.
    waiting : int
        Finalised rounds not claimable yet (window running, disputed, or leaves not found).
    """

    claims: list[Claim]
    waiting: int


def due_claims(
    fed_task: FedTaskClient,
    store: ContentStore,
    task_id: int,
    account: Address,
    *,
    last_finalized: int,
    ledger: ClaimLedger | None = None,
    court: ChallengeCourtClient | None = None,
) -> DueClaims:
    """The rounds ``account`` can claim now: window passed, undisputed, unclaimed, paying it.

    Parameters
    ----------
    fed_task : FedTaskClient
        The FedTask contract.
    store : ContentStore
        Where the evidence is stored.
    task_id : int
        The task.
    account : Address
        The participant.
    last_finalized : int
        The task's last finalised round (0 before the first).
    ledger : ClaimLedger or None, default None
        What is known already (updated in place); ``None`` starts afresh.
    court : ChallengeCourtClient or None, default None
        Where corrected roots come from (see :func:`reward_tree`).
    """
    book = ledger if ledger is not None else ClaimLedger()
    now = fed_task.backend.chain_time()
    claims: list[Claim] = []
    waiting = 0
    for round_ in range(1, last_finalized + 1):
        if round_ in book.settled:
            continue
        if round_ not in book.windows:
            book.windows[round_] = fed_task.round(task_id, round_).claimable_at
        claim = None
        if now >= book.windows[round_]:
            claim = _due(fed_task, store, (task_id, round_), account, now, book, court)
        if claim is not None:
            claims.append(claim)
        elif round_ not in book.settled:
            waiting += 1
    return DueClaims(claims, waiting)


def _finalized(
    fed_task: FedTaskClient, task_id: int, round_: int, book: ClaimLedger
) -> RoundFinalizedEvent | None:
    """The round's ``RoundFinalized`` event (every one read at once, then kept).

    ``None`` when the node's logs do not show it yet although its views show the round final
    (a node behind a load balancer, or one that indexes logs after the block): the round is then
    read again at the next look instead of failing the participant.
    """
    if round_ not in book.finalized:
        book.finalized.update({int(f.round): f for f in fed_task.rounds_finalized(task_id)})
    if round_ not in book.finalized:  # the kept logs may have missed it: scan them again once
        fed_task.rescan(RoundFinalizedEvent)
        book.finalized.update({int(f.round): f for f in fed_task.rounds_finalized(task_id)})
    found = book.finalized.get(round_)
    if found is None:
        log.warning("due_claims: round %s is final but its RoundFinalized log is not seen", round_)
    return found


def _claimed(fed_task: FedTaskClient, task_id: int, round_: int, account: Address) -> bool:
    """Whether ``account`` claimed ``round_``, from the ``RewardsClaimed`` events.

    FedTask emits one exactly when it sets the claim bit, and the backend's event cache serves
    every node of a process with one scan of the new blocks (``hasClaimed`` is one call per node
    and round).
    """
    found = fed_task.events(RewardsClaimedEvent, task_id=task_id, round=round_, account=account)
    return bool(found)


def _due(
    fed_task: FedTaskClient,
    store: ContentStore,
    where: tuple[int, int],
    account: Address,
    now: int,
    book: ClaimLedger,
    court: ChallengeCourtClient | None,
) -> Claim | None:
    """One round's claim if it is due now; marks the round settled when there is none to make."""
    task_id, round_ = where
    if round_ in book.due:
        return book.due[round_]
    info = fed_task.round(task_id, round_)
    if info.disputed or now < info.claimable_at:
        return None
    if _claimed(fed_task, task_id, round_, account):
        book.settled.add(round_)
        return None
    tree = book.trees.get(round_)
    if tree is None or tree.root != bytes(info.rewards_root):
        finalized = _finalized(fed_task, task_id, round_, book)
        if finalized is None:
            return None
        tree = reward_tree(store, finalized, info.rewards_root, court)
        if tree is None:  # the window passed undisputed: nothing will ever change that
            log.warning("due_claims: no published leaves hash to round %s's root", round_)
            book.settled.add(round_)
            return None
        book.trees[round_] = tree
    if not tree.amount_of(account):
        book.settled.add(round_)
        return None
    book.due[round_] = tree.claim_for(account)
    return book.due[round_]


def submit_claims(fed_task: FedTaskClient, task_id: int, claims: Sequence[Claim]) -> TxResult:
    """Claim ``claims`` in one transaction: ``claimRewards`` for one, ``claimMany`` for several.

    Parameters
    ----------
    fed_task : FedTaskClient
        FedTask, sending as the claimant.
    task_id : int
        The task.
    claims : sequence of Claim
        At least one, each round once.
    """
    if len(claims) == 1:
        return fed_task.claim_rewards(task_id, claims[0])
    return fed_task.claim_many(task_id, claims)


def claim_due_now(
    fed_task: FedTaskClient,
    store: ContentStore,
    task_id: int,
    *,
    court: ChallengeCourtClient | None = None,
) -> tuple[list[Claim], TxResult | None]:
    """Claim, as ``fed_task``'s signer, every round of the task due to it now.

    Parameters
    ----------
    fed_task : FedTaskClient
        FedTask, sending as the claimant.
    store : ContentStore
        Where the evidence is stored (sealed evidence is opened with the claimant's key).
    task_id : int
        The task.
    court : ChallengeCourtClient or None, default None
        Where corrected roots come from.

    Returns
    -------
    tuple of (list of Claim, TxResult or None)
        What was claimed and the transaction (``None`` when nothing was due).
    """
    if fed_task.signer is None:
        raise TaskStateError("claim_due_now: a read-only client cannot claim")
    store = SealedStore(store, key=bytes(fed_task.signer.account.key))  # sealed evidence opens
    info = fed_task.task(task_id)
    last = int(info.last_round) - (1 if info.round_open else 0)
    account = Address(fed_task.signer.address)
    due = due_claims(fed_task, store, task_id, account, last_finalized=last, court=court)
    if not due.claims:
        return [], None
    return due.claims, submit_claims(fed_task, task_id, due.claims)


__all__ = [
    "ClaimLedger",
    "DueClaims",
    "claim_due_now",
    "due_claims",
    "reward_tree",
    "submit_claims",
    "tree_of",
]
