"""Where a pool task is recorded: FedTask on a chain, or nowhere (benchmarks).

:class:`PoolLedger` is the small interface the pool runner writes through, round by round:
open the round with the manifest of the base models' current global models, each participant's
commitment from its own key, the finalisation with the evidence and the summed contributions'
rewards, and the claims at the end. :class:`FedTaskLedger` records all of it on FedTask (a real
chain node or the in-process one, each party signing with its own key); :class:`OffChainLedger`
keeps the same record in memory for benchmarks that measure training alone.

What the chain shows of a pool round is the same as for a single-model round: who committed,
the keccak of each update, the manifest's hash and the evidence CID. The base model an update
belongs to is inside the committed bytes (the update's ``base_model_hash``), so the commitment
binds it without showing it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from chain.commitments import (
    Claim,
    RewardTree,
    UpdateCommitment,
    encode_shares,
    sign_commitment,
)
from chain.fed_task import Finalization, Schedule, TaskConfig
from fl_node.commitments import BatchDocument
from fl_node.mailbox import CommitmentEnvelope
from fl_node.payout import RoundTerms, reward_split, round_rewards, shares_record
from fl_node.pool.errors import PoolInputError
from fl_node.pool.spec import PoolSpec
from kernel.types import Cid, Hash32, Round, TaskId
from storage import ContentStore, canonical_json, content_hash

if TYPE_CHECKING:
    from chain import Parties

log = logging.getLogger(__name__)

SPONSOR, COORDINATOR = "sponsor", "coordinator"


def participant_role(i: int) -> str:
    """The role name of the ``i``-th participant."""
    return f"participant-{i}"


@dataclass(frozen=True)
class RoundPayout:
    """What a finalised round pays each participant (join order) and where it is recorded."""

    round: int
    amounts: tuple[int, ...]
    budget: int
    evidence_cid: str
    manifest_cid: str


class PoolLedger(Protocol):
    """The record a pool runner writes (see the module docstring)."""

    task_id: int
    participants: tuple[str, ...]

    def open_round(self, round_: int, manifest: Mapping[str, Any]) -> str:
        """Open ``round_`` with the base models' manifest; return the manifest's CID."""
        ...

    def commit(self, index: int, round_: int, update_hash: bytes, samples: int, cid: str) -> None:
        """Participant ``index`` commits its update of ``round_`` from its own key."""
        ...

    def seal(self, round_: int) -> None:
        """Every participant has committed: anchor what is waiting (the batch, if any)."""
        ...

    def finalize(
        self,
        round_: int,
        manifest: Mapping[str, Any],
        evidence: Mapping[str, Any],
        contributions: Sequence[float],
        improvement: float,
        accepted: Sequence[bool],
    ) -> RoundPayout:
        """Finalise ``round_`` with the new manifest, the evidence and the rewards."""
        ...

    def settle(self) -> tuple[int, ...]:
        """Every participant claims what it is owed; what each received (join order)."""
        ...


def _put(store: ContentStore, obj: Mapping[str, Any]) -> tuple[str, bytes]:
    data = canonical_json(obj)
    return str(store.put(data)), bytes(content_hash(data))


@dataclass
class OffChainLedger:
    """The same record kept in memory (benchmarks): commitments and evidence, no money.

    Attributes
    ----------
    participants : tuple of str
        Participant addresses in join order.
    store : ContentStore
        Where manifests and evidence go.
    """

    participants: tuple[str, ...]
    store: ContentStore
    task_id: int = 0
    commitments: dict[tuple[int, int], bytes] = field(default_factory=dict)

    def open_round(self, round_: int, manifest: Mapping[str, Any]) -> str:
        """Store the manifest; return its CID."""
        return _put(self.store, manifest)[0]

    def commit(self, index: int, round_: int, update_hash: bytes, samples: int, cid: str) -> None:
        """Remember the commitment."""
        self.commitments[(round_, index)] = update_hash

    def seal(self, round_: int) -> None:
        """Nothing to anchor."""

    def finalize(
        self,
        round_: int,
        manifest: Mapping[str, Any],
        evidence: Mapping[str, Any],
        contributions: Sequence[float],
        improvement: float,
        accepted: Sequence[bool],
    ) -> RoundPayout:
        """Store manifest and evidence; nothing is paid."""
        manifest_cid = _put(self.store, manifest)[0]
        evidence_cid = _put(self.store, evidence)[0]
        zeros = (0,) * len(self.participants)
        return RoundPayout(round_, zeros, 0, evidence_cid, manifest_cid)

    def settle(self) -> tuple[int, ...]:
        """Nothing to claim."""
        return (0,) * len(self.participants)


class FedTaskLedger:
    """A pool task on FedTask: sponsor, coordinator and participants each with their own key.

    Parameters
    ----------
    parties : Parties
        Signers for :data:`SPONSOR`, :data:`COORDINATOR` and ``participant-i`` (and the deployer
        when the contracts were deployed here, to mint the sponsor's pool).
    store : ContentStore
        The content store (spec, manifests, updates, evidence).
    travel : bool, default True
        Move the chain's clock to each deadline (dev chains) instead of waiting.
    batched : bool, default True
        Participants sign their commitments and the coordinator anchors them in one batch root
        per round, so the chain shows neither who committed when nor in what order (a
        participant's commit time would otherwise tell how long its base model took to train).
        ``False``: each participant sends ``commitUpdate`` itself.
    """

    def __init__(
        self, parties: Parties, store: ContentStore, *, travel: bool = True, batched: bool = True
    ) -> None:
        self.parties = parties
        self.store = store
        self.travel = travel
        self.batched = batched
        self._envelopes: list[CommitmentEnvelope] = []
        self.task_id = 0
        self.participants: tuple[str, ...] = ()
        self.spec: PoolSpec | None = None
        self._pool = 0
        self._payouts: list[RoundPayout] = []
        self._cumulative: list[list[float]] = []

    def create(self, spec: PoolSpec, *, pool: int, schedule: Schedule, n_participants: int) -> int:
        """Escrow ``pool``, create the task with ``spec`` and let every participant join.

        Parameters
        ----------
        spec : PoolSpec
            The pool task (its canonical bytes are stored; their hash goes on chain).
        pool : int
            Reward pool in token wei (minted to the sponsor where the contracts were deployed
            here).
        schedule : Schedule
            The periods of every deadline.
        n_participants : int
            How many ``participant-i`` roles join, in that order.
        """
        from chain import DEPLOYER

        p = self.parties
        if DEPLOYER in p.signers:
            p.token(DEPLOYER).mint(p.address(SPONSOR), pool)
        spec_bytes = spec.to_bytes()
        spec_cid = self.store.put(spec_bytes)
        p.token(SPONSOR).approve(p.deployment.fed_task, pool)
        config = TaskConfig(
            spec_cid=str(spec_cid),
            spec_hash=bytes(content_hash(spec_bytes)),
            coordinator=str(p.address(COORDINATOR)),
            pool=pool,
            total_rounds=spec.rounds,
            max_participants=n_participants,
            schedule=schedule,
            quorum=1,
        )
        task_id, _ = p.fed_task(SPONSOR).create_task(config)
        self.task_id, self.spec, self._pool = int(task_id), spec, pool
        for i in range(n_participants):
            p.fed_task(participant_role(i)).join(self.task_id)
        self.participants = tuple(str(a) for a in p.fed_task().participants(self.task_id))
        log.info("create: pool task %d, %d participants", self.task_id, n_participants)
        return self.task_id

    def _wait(self, timestamp: int) -> None:
        self.parties.backend.wait_until(timestamp, travel=self.travel)

    def _role(self, index: int) -> str:
        address = self.participants[index]
        role = self.parties.role_of(address)
        if role is None:  # every participant joined from one of the parties' roles
            raise PoolInputError(f"FedTaskLedger: no role signs for participant {address}")
        return role

    def open_round(self, round_: int, manifest: Mapping[str, Any]) -> str:
        """The coordinator opens ``round_`` with the manifest; return its CID."""
        cid, digest = _put(self.store, manifest)
        self.parties.fed_task(COORDINATOR).open_round(self.task_id, round_, cid, digest)
        return cid

    def commit(self, index: int, round_: int, update_hash: bytes, samples: int, cid: str) -> None:
        """Participant ``index`` signs its commitment for the batch, or sends it itself."""
        role = self._role(index)
        if not self.batched:
            sender = self.parties.fed_task(role)
            sender.commit_update(self.task_id, round_, update_hash, samples, cid)
            return
        commitment = UpdateCommitment(
            TaskId(self.task_id), Round(round_), Hash32(update_hash), samples
        )
        domain = self.parties.fed_task().domain()
        signed = sign_commitment(self.parties.accounts[role], domain, commitment)
        self._envelopes.append(CommitmentEnvelope(signed, Cid(cid)))

    def seal(self, round_: int) -> None:
        """The coordinator anchors the round's signed commitments in one batch root."""
        if not self._envelopes:
            return
        document = BatchDocument.of(self._envelopes)
        cid = self.store.put_json(document.to_dict())
        self.parties.fed_task(COORDINATOR).post_batch(document.batch, cid)
        self._envelopes = []

    def finalize(
        self,
        round_: int,
        manifest: Mapping[str, Any],
        evidence: Mapping[str, Any],
        contributions: Sequence[float],
        improvement: float,
        accepted: Sequence[bool],
    ) -> RoundPayout:
        """After the reveal deadline, finalise with the rewards of the summed contributions."""
        assert self.spec is not None
        reader = self.parties.fed_task()
        self._wait(reader.round(self.task_id, round_).reveal_deadline)
        terms = RoundTerms(
            policy=self.spec.rewards,
            cap=int(reader.round_cap(self.task_id, round_)),
            quorum=1,
            pool=self._pool,
            rounds=self.spec.rounds,
        )
        allocation = round_rewards(terms, contributions, accepted, improvement)
        split = reward_split(
            self.task_id,
            round_,
            list(reader.participants(self.task_id)),
            terms,
            allocation,
            improvement,
        )
        self._cumulative.append([max(c, 0.0) for c in contributions])
        shares = b""
        if round_ == self.spec.rounds:
            totals = [sum(col) for col in zip(*self._cumulative, strict=True)]
            shares = encode_shares(shares_record(totals).bps)
        full = {**evidence, "rewards": split.to_dict()}
        manifest_cid, manifest_hash = _put(self.store, manifest)
        evidence_cid = _put(self.store, full)[0]
        finalization = Finalization(
            new_model_cid=manifest_cid,
            new_model_hash=manifest_hash,
            evidence_cid=evidence_cid,
            rewards_root=bytes.fromhex(split.root[2:]),
            budget=split.budget,
            accepted=sum(accepted),
            shares=shares,
        )
        self.parties.fed_task(COORDINATOR).finalize_round(self.task_id, round_, finalization)
        payout = RoundPayout(
            round_, tuple(int(a) for a in split.amounts), split.budget, evidence_cid, manifest_cid
        )
        self._payouts.append(payout)
        return payout

    def settle(self) -> tuple[int, ...]:
        """After the last challenge window, each participant claims every round in one call."""
        reader, token = self.parties.fed_task(), self.parties.token()
        last = self._payouts[-1].round if self._payouts else 0
        if last:
            self._wait(reader.round(self.task_id, last).claimable_at)
        received = []
        for index, address in enumerate(self.participants):
            claims = self._claims(index, address)
            before = int(token.balance_of(address))
            if claims:
                self.parties.fed_task(self._role(index)).claim_many(self.task_id, claims)
            received.append(int(token.balance_of(address)) - before)
        return tuple(received)

    def _claims(self, index: int, address: str) -> list[Claim]:
        claims = []
        for payout in self._payouts:
            if not payout.amounts[index]:
                continue
            amounts = {a: n for a, n in zip(self.participants, payout.amounts, strict=True) if n}
            tree = RewardTree.build(self.task_id, payout.round, amounts)
            claims.append(tree.claim_for(address))
        return claims


__all__ = [
    "COORDINATOR",
    "SPONSOR",
    "FedTaskLedger",
    "OffChainLedger",
    "PoolLedger",
    "RoundPayout",
    "participant_role",
]
