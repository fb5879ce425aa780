"""A participant node (protocol v2): stakes, trains, commits, reveals, claims, withdraws.

The node talks to nothing but the chain, the content store and, when it batches its commitments,
a mailbox. It joins a task with its stake (and the sponsor's invitation on a permissioned task).
Each round it reads the round's model from the ``RoundOpened`` event, fetches the bytes and checks
them against the chain, trains locally and builds its update (safetensors, naming itself as the
author), then **commits** without publishing the bytes:

- through the coordinator's batch: it signs the EIP-712 ``UpdateCommitment`` and posts it to the
  mailbox before the commit deadline; once the deadline passed it reads the batch document and,
  if it was left out, commits directly during the inclusion period;
- or directly on-chain (``commitUpdate`` with the CID), the default without a mailbox.

It publishes the bytes only from the round's reveal start, so nobody can copy a current update.
In a task that seals its updates (``sealed_updates`` in the spec) it publishes the sealed object
(:mod:`fl_node.sealed`): the update encrypted under a fresh key wrapped to the spec's key holders,
committing to keccak-256 of the plaintext and to the CID of the sealed bytes.
After each round's challenge window it claims its reward with the Merkle proof of its leaf in the
round's published evidence (several rounds in one ``claimMany``), and once the task ended and the
stake cooldown passed it withdraws its stake. It never moves the chain's clock: it acts on what
:meth:`~chain.backends.ChainBackend.chain_time` says, so :meth:`ParticipantNode.step` can be called
as often as one likes (each call does what is due, and nothing twice).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import torch

from chain import pinned_reads
from chain.commitments import Claim, SignedInvitation, UpdateCommitment, sign_commitment
from chain.court import ChallengeCourtClient
from chain.errors import ChainRevertError
from chain.fed_task import (
    FedTaskClient,
    RoundInfo,
    RoundOpenedEvent,
    TaskInfo,
    UpdateCommittedEvent,
)
from chain.signer import Signer, TxResult
from chain.token import RewardTokenClient
from fl_node.claims import ClaimLedger, DueClaims, due_claims, submit_claims
from fl_node.commitments import read_batch
from fl_node.data import LocalDataset
from fl_node.errors import (
    BatchDocumentError,
    ModelIntegrityError,
    RoundTimeoutError,
    SpecError,
    TaskStateError,
)
from fl_node.evidence import BallotRecord
from fl_node.mailbox import CommitmentEnvelope, Mailbox
from fl_node.models import FedModel
from fl_node.robustness import local_scores, make_ballot
from fl_node.sealed import seal_update
from fl_node.serialization import LoadedModel, UpdateMeta, decode_model, encode_update
from fl_node.strategies import ClientUpdate
from fl_node.task import TaskSpec
from fl_node.training import pick_device, train_local
from kernel.alerts import raise_alert
from kernel.errors import ServiceUnavailableError
from kernel.failpoints import failpoint
from kernel.retry import Outage
from kernel.types import Address, Cid, Hash32, Round, TaskId
from storage import ContentStore, compute_cid, content_hash, validate_cid
from storage.sealed_store import SealedStore, holder_id
from storage.sealing import address_of, public_key_of

log = logging.getLogger(__name__)

DEFAULT_OUTAGE_LIMIT = 600.0
"""Seconds a long-running node rides out an unreachable chain node or store before it stops."""
TOO_EARLY = ("TaskRoundNotClaimable", "TaskStakeLocked", "TaskDisputesOpen")
"""Reverts that only say "not yet": a node's clock (:meth:`ChainBackend.chain_time`) may run
ahead of the block a call is simulated in (a dev chain mines only on demand), so a claim or a
withdrawal that looks due is tried again at the next step."""


def fetch_verified(store: ContentStore, cid: str, expected_hash: bytes, what: str) -> bytes:
    """Fetch ``cid`` and check its keccak-256 against an on-chain hash, then its CID.

    Parameters
    ----------
    store : ContentStore
        Where the bytes are.
    cid : str
        Their content identifier.
    expected_hash : bytes
        The hash the chain holds for them.
    what : str
        What they are (for the error message).

    Raises
    ------
    ModelIntegrityError
        When the bytes differ from the anchored hash (a breach alert is fired first: a party
        was served a spec, model or evidence other than the one the chain anchors).
    """
    data = store.get(cid, verify=False)
    if content_hash(data) != expected_hash:
        detail = f"{what} {cid}: bytes do not match the on-chain hash"
        raise_alert("integrity_failure", detail, source=__name__)
        raise ModelIntegrityError(detail)
    store.verify(validate_cid(cid), data)
    return data


def read_spec(fed_task: FedTaskClient, store: ContentStore, task_id: int) -> TaskSpec:
    """The spec of ``task_id``, fetched from the store and checked against its on-chain hash."""
    info = fed_task.task(task_id)
    return TaskSpec.from_bytes(fetch_verified(store, info.spec_cid, info.spec_hash, "task spec"))


def round_opening(fed_task: FedTaskClient, task_id: int, round: int) -> RoundOpenedEvent:
    """The ``RoundOpened`` event of a round: the model it trains from, its deadlines.

    Parameters
    ----------
    fed_task : FedTaskClient
        The FedTask contract.
    task_id : int
        The task.
    round : int
        The round.

    Raises
    ------
    TaskStateError
        The round was not opened.
    """
    found = fed_task.events(RoundOpenedEvent, task_id=task_id, round=round)
    if not found:
        raise TaskStateError(f"round_opening: round {round} of task {task_id} was not opened")
    return found[0]


@dataclass(frozen=True)
class SubmittedUpdate:
    """What a participant committed in one round.

    Attributes
    ----------
    task_id, round : int
        Where.
    cid : Cid
        The CID of the update's bytes (published from the reveal start): the sealed object's in
        a task that seals its updates.
    update_hash : Hash32
        ``keccak256`` of the (plaintext) update (the commitment).
    samples : int
        Training samples behind the update.
    train_loss : float
        Local training loss.
    bytes_up, bytes_down : int
        Update size as published (sealed or not); global model size.
    via : str
        ``"batch"`` (signed, through the mailbox) or ``"direct"`` (``commitUpdate``).
    gas_used : int
        Gas of the direct commitment (0 through the batch).
    """

    task_id: int
    round: int
    cid: Cid
    update_hash: Hash32
    samples: int
    train_loss: float
    bytes_up: int
    bytes_down: int
    via: str
    gas_used: int


@dataclass
class PendingUpdate:
    """An update committed for a round and kept until its reveal."""

    update: SubmittedUpdate
    blob: bytes
    inclusion_checked: bool = False
    revealed: bool = False
    abandoned: bool = False
    unconfirmed: bool = False
    """Its commitment was sent when a service went away: whether it landed is not known yet."""


@dataclass(frozen=True)
class ClaimRecord:
    """One claim transaction: the rounds and amounts it claimed, and its gas."""

    rounds: tuple[int, ...]
    amount: int
    gas_used: int


@dataclass
class _TaskState:
    """What the node remembers of one task between two steps."""

    pending: dict[int, PendingUpdate] = field(default_factory=dict)
    prepared: dict[int, PendingUpdate] = field(default_factory=dict)
    ledger: ClaimLedger = field(default_factory=ClaimLedger)
    withdrawn: int | None = None


class ParticipantNode:
    """One data owner's training node.

    Parameters
    ----------
    signer : Signer
        The participant's own key on the chain backend.
    fed_task : FedTaskClient
        The FedTask contract (re-bound to ``signer``).
    store : ContentStore
        Where models and updates are exchanged.
    data : LocalDataset
        This participant's private rows.
    mailbox : Mailbox or None, default None
        Where to post signed commitments for the coordinator's batch; ``None`` commits directly.
    court : ChallengeCourtClient or None, default None
        Read for corrected rewards roots after an upheld dispute.
    claim_min_rounds : int, default 1
        Claim once this many rounds are due (or nothing more is to come), in one ``claimMany``.
    device : torch.device or None, default None
        Training device; CUDA when present.
    """

    def __init__(
        self,
        *,
        signer: Signer,
        fed_task: FedTaskClient,
        store: ContentStore,
        data: LocalDataset,
        mailbox: Mailbox | None = None,
        court: ChallengeCourtClient | None = None,
        claim_min_rounds: int = 1,
        device: torch.device | None = None,
    ) -> None:
        self.signer = signer
        self.address = Address(signer.address)
        self.fed_task = fed_task.as_signer(signer)
        self.store: ContentStore = SealedStore(store, key=bytes(signer.account.key))
        self.data = data
        self.mailbox = mailbox
        self.court = court
        self.claim_min_rounds = max(1, claim_min_rounds)
        self.device = device or pick_device()
        self.history: list[SubmittedUpdate] = []
        self.claims: list[ClaimRecord] = []
        self._specs: dict[int, TaskSpec] = {}
        self._tasks: dict[int, _TaskState] = {}

    def __repr__(self) -> str:
        return f"ParticipantNode({self.data.name}, {self.address})"

    def _state(self, task_id: int) -> _TaskState:
        return self._tasks.setdefault(task_id, _TaskState())

    def _token(self) -> RewardTokenClient:
        return RewardTokenClient(self.fed_task.backend, self.fed_task.token(), self.signer)

    # ---- joining --------------------------------------------------------------------------------
    def join(self, task_id: int, invitation: SignedInvitation | None = None) -> TxResult:
        """Join ``task_id`` with its stake, after checking that its spec fits this node's data.

        Parameters
        ----------
        task_id : int
            The task.
        invitation : SignedInvitation or None, default None
            The sponsor's invitation (permissioned tasks, unless allowlisted).
        """
        self.spec(task_id).check_data(self.data)
        self._update_holders(self.fed_task.task(task_id))
        self._check_reader(task_id)
        stake = self.fed_task.task(task_id).participant_stake
        if stake:
            self._token().approve(self.fed_task.address, stake)
        tx = self.fed_task.join(task_id, invitation)
        log.info("join: %s joined task %s staking %d", self.data.name, task_id, stake)
        return tx

    def ensure_joined(
        self, task_id: int, invitation: SignedInvitation | None = None
    ) -> TxResult | None:
        """Join ``task_id`` unless this account already did (a node restarted mid-task).

        Parameters
        ----------
        task_id : int
            The task.
        invitation : SignedInvitation or None, default None
            The sponsor's invitation (permissioned tasks, unless allowlisted).
        """
        if self.fed_task.is_participant(task_id, self.address):
            self.spec(task_id).check_data(self.data)
            self._check_reader(task_id)
            log.info("join: %s is already in task %s: resuming", self.address, task_id)
            return None
        return self.join(task_id, invitation)

    def spec(self, task_id: int) -> TaskSpec:
        """The task's spec, fetched once and checked against its on-chain hash.

        Parameters
        ----------
        task_id : int
            The task.
        """
        if task_id not in self._specs:
            self._specs[task_id] = read_spec(self.fed_task, self.store, task_id)
        return self._specs[task_id]

    def ballot(
        self, task_id: int, round_: int, updates: Mapping[str, ClientUpdate]
    ) -> BallotRecord:
        """Sign this participant's ballot in the round's trusted-participant vote.

        Each update (by its hash) is scored on this participant's own rows: how much it lowers
        the loss of the round's opening model (:func:`fl_node.robustness.local_scores`).

        Parameters
        ----------
        task_id : int
            The task.
        round_ : int
            The open round.
        updates : mapping of str to ClientUpdate
            The round's screened updates by update hash.
        """
        loaded, _ = self._global_model(self.fed_task.task(task_id), round_)
        if not isinstance(loaded.module, FedModel):
            raise ModelIntegrityError(f"ballot: the model of task {task_id} is not a FedModel")
        scores = local_scores(loaded.module, updates, self.data)
        domain = self.fed_task.domain()
        return make_ballot(self.signer.account, domain, task_id, round_, scores)

    # ---- one round ------------------------------------------------------------------------------
    def step(self, task_id: int) -> SubmittedUpdate | None:
        """Do what is due now: commit, check inclusion, reveal, claim, withdraw the stake.

        Parameters
        ----------
        task_id : int
            The task.

        Returns
        -------
        SubmittedUpdate or None
            The update committed by this call, if any.
        """
        with pinned_reads(self.fed_task.backend):  # one look at the chain's head per step
            info = self.fed_task.task(task_id)
            sent = None
            if info.round_open:
                sent = self._serve_round(info)
            if info.last_round:
                self.claim_due(task_id, info=info)
            if info.status.ended:
                self.withdraw_stake(task_id)
            return sent

    def _serve_round(self, info: TaskInfo) -> SubmittedUpdate | None:
        """Commit, check the batch, or reveal in the open round, whichever is due."""
        task_id, round_ = int(info.task_id), int(info.last_round)
        state = self._state(task_id)
        pending = state.pending.get(round_)
        if pending is not None and (pending.revealed or pending.abandoned):
            return None
        rinfo = self.fed_task.round(task_id, round_)
        now = self.fed_task.backend.chain_time()
        sent = None
        if pending is None:
            if not self._training_due(info, rinfo, now):
                return None
            pending = state.pending[round_] = self._train_and_commit(info, rinfo, now)
            sent = pending.update
        elif pending.unconfirmed:
            self._confirm_commitment(pending, now < rinfo.reveal_start)
        elif not pending.inclusion_checked and now >= rinfo.commit_deadline:
            self._check_inclusion(pending, rinfo, now)
        if not (pending.revealed or pending.abandoned) and now >= rinfo.reveal_start:
            self._reveal(pending)
        return sent

    def _training_due(self, info: TaskInfo, rinfo: RoundInfo, now: int) -> bool:
        """Whether this node still has to train and commit in the open round."""
        task_id, round_ = int(info.task_id), int(info.last_round)
        if now >= rinfo.reveal_start or self._committed_on_chain(task_id, round_):
            return False
        return self._sampled(task_id, round_, bytes(info.model_hash))

    def prepare(self, task_id: int) -> bool:
        """Train the open round's update now, if it is due, for the next :meth:`step` to commit.

        Only reads the chain and the store and trains: several nodes sharing a machine (a
        simulation) call it from a thread pool so their training runs in parallel (torch releases
        the GIL), then :meth:`step` each in turn, which commits in a fixed order.

        Parameters
        ----------
        task_id : int
            The task.

        Returns
        -------
        bool
            Whether an update was trained.
        """
        info = self.fed_task.task(task_id)
        state = self._state(task_id)
        round_ = int(info.last_round)
        if not info.round_open or round_ in state.pending or round_ in state.prepared:
            return False
        rinfo = self.fed_task.round(task_id, round_)
        if not self._training_due(info, rinfo, self.fed_task.backend.chain_time()):
            return False
        state.prepared[round_] = self._train(info)
        return True

    def _sampled(self, task_id: int, round_: int, base_model_hash: bytes) -> bool:
        """Whether the task's client sampling chose this node for ``round_``."""
        spec = self.spec(task_id)
        if spec.sample_fraction >= 1.0:
            return True
        participants = list(self.fed_task.participants(task_id))
        chosen = spec.sampled(participants, round_, base_model_hash)
        if self.address.lower() not in {a.lower() for a in chosen}:
            log.info("step: %s is not sampled in round %d", self.data.name, round_)
            return False
        return True

    def _committed_on_chain(self, task_id: int, round_: int) -> bool:
        """Whether this account already committed directly (e.g. before a restart).

        Read from the ``UpdateCommitted`` events (``commitUpdate`` is the only way to commit
        directly, and it emits one): the backend's event cache serves every node of a process
        with one scan of the new blocks, where ``commitmentOf`` is one call per node.
        """
        found = self.fed_task.events(
            UpdateCommittedEvent, task_id=task_id, round=round_, participant=self.address
        )
        return bool(found)

    def _global_model(self, info: TaskInfo, round_: int) -> tuple[LoadedModel, int]:
        """The round's model, checked against the chain's hash (event and task state)."""
        opening = round_opening(self.fed_task, int(info.task_id), round_)
        if bytes(opening.model_hash) != bytes(info.model_hash):
            raise ModelIntegrityError(f"round {round_}: the opened model is not the task's model")
        data = fetch_verified(self.store, opening.model_cid, opening.model_hash, "global model")
        loaded = decode_model(data)
        if loaded.task_id != info.task_id:
            raise ModelIntegrityError(
                f"global model belongs to task {loaded.task_id}, not {info.task_id}"
            )
        return loaded, len(data)

    def _train(self, info: TaskInfo) -> PendingUpdate:
        """Train on the open round's model and build the update (nothing is sent)."""
        task_id, round_ = int(info.task_id), int(info.last_round)
        spec = self.spec(task_id)
        loaded, bytes_down = self._global_model(info, round_)
        config = spec.make_strategy().configure_train(spec.train)
        result = train_local(loaded.module, self.data, config, round=round_, device=self.device)
        meta = UpdateMeta(
            task_id=task_id,
            round=round_,
            participant=self.address,
            base_model_hash="0x" + bytes(info.model_hash).hex(),
            samples=result.samples,
            train_loss=result.loss,
            strategy=spec.strategy,
        )
        blob = encode_update(result.delta, meta)
        stored = self._seal(blob, info)
        update = SubmittedUpdate(
            *(task_id, round_, compute_cid(stored), content_hash(blob), result.samples),
            *(result.loss, len(stored), bytes_down, "batch", 0),
        )
        return PendingUpdate(update, stored)

    def _check_reader(self, task_id: int) -> None:
        """Refuse a task that seals its artifacts for others only: this node could not train.

        Raises
        ------
        SpecError
            The spec seals the task's models and evidence and lists no key of this node.
        """
        holders = self.spec(task_id).artifact_holders
        if holders and holder_id(public_key_of(bytes(self.signer.account.key))) not in holders:
            raise SpecError(
                f"task {task_id} seals its models for {len(holders)} keys, none of them "
                f"{self.address}'s: ask the sponsor to list this node's public key"
            )

    def _update_holders(self, info: TaskInfo) -> tuple[str, ...]:
        """The keys this task's updates are sealed to (none: stored in the clear).

        Raises
        ------
        SpecError
            The spec seals updates but lists no key of the task's coordinator, who could then
            open none of them.
        """
        holders = self.spec(int(info.task_id)).sealed_updates
        coordinator = str(info.coordinator).lower()
        if holders and all(
            address_of(bytes.fromhex(h[2:])).lower() != coordinator for h in holders
        ):
            raise SpecError(
                f"task {info.task_id} seals its updates but lists no key of its coordinator"
            )
        return holders

    def _seal(self, blob: bytes, info: TaskInfo) -> bytes:
        """The bytes to publish: ``blob`` sealed to the task's key holders, or as is."""
        holders = self._update_holders(info)
        if not holders:
            return blob
        return seal_update(
            blob,
            task_id=int(info.task_id),
            round_=int(info.last_round),
            participant=self.address,
            holders=holders,
        )

    def _train_and_commit(self, info: TaskInfo, rinfo: RoundInfo, now: int) -> PendingUpdate:
        """Commit the round's update (trained by :meth:`prepare`, or now): mailbox or direct."""
        round_ = int(info.last_round)
        state = self._state(int(info.task_id))
        pending = state.prepared.pop(round_, None) or self._train(info)
        try:
            if self.mailbox is not None and now < rinfo.commit_deadline:
                self._post(pending)
            else:
                self._commit_directly(pending)
        except ServiceUnavailableError:  # keep the update: the next step finds out what landed
            pending.unconfirmed = True
            state.pending[round_] = pending
            raise
        u = pending.update
        log.info(
            "step: %s round %d loss %.4f, %d samples, committed via %s",
            *(self.data.name, round_, u.train_loss, u.samples, u.via),
        )
        return pending

    def _post(self, pending: PendingUpdate) -> None:
        """Sign the commitment and post it to the mailbox for the coordinator's batch."""
        assert self.mailbox is not None
        u = pending.update
        commitment = UpdateCommitment(TaskId(u.task_id), Round(u.round), u.update_hash, u.samples)
        signed = sign_commitment(self.signer.account, self.fed_task.domain(), commitment)
        self.mailbox.send(CommitmentEnvelope(signed, u.cid))
        self.history.append(u)

    def _commit_directly(self, pending: PendingUpdate) -> None:
        """``commitUpdate`` from this node's own key (before the reveal start).

        A commitment mined after the reveal start reverts: the round is then given up (nothing
        is revealed), the node goes on with the next one.
        """
        u = pending.update
        pending.inclusion_checked = True
        self.history = [h for h in self.history if (h.task_id, h.round) != (u.task_id, u.round)]
        failpoint("participant.before_commit")
        try:
            tx = self.fed_task.commit_update(u.task_id, u.round, u.update_hash, u.samples, u.cid)
        except ChainRevertError as exc:
            if exc.error_name not in ("TaskDeadlinePassed", "TaskRoundNotOpen"):
                raise
            log.warning("step: %s too late for round %d: %s", self.address, u.round, exc)
            pending.abandoned = True
            return
        failpoint("participant.after_commit")
        direct = replace(u, via="direct", gas_used=tx.gas_used)
        pending.update = direct
        self.history.append(direct)

    def _confirm_commitment(self, pending: PendingUpdate, may_commit: bool) -> None:
        """After an outage: keep the commitment that landed, or send it again while it may."""
        u = pending.update
        if self._committed_on_chain(u.task_id, u.round):
            pending.unconfirmed, pending.inclusion_checked = False, True
            if not any((h.task_id, h.round) == (u.task_id, u.round) for h in self.history):
                self.history.append(replace(u, via="direct"))
            log.info("step: round %d's commitment landed before the outage", u.round)
        elif may_commit:
            pending.unconfirmed = False
            self._commit_directly(pending)
        else:
            pending.unconfirmed, pending.abandoned = False, True
            log.warning("step: round %d's commitment was lost in an outage", u.round)

    def _check_inclusion(self, pending: PendingUpdate, rinfo: RoundInfo, now: int) -> None:
        """Once the commit deadline passed: read the batch; if left out, commit directly."""
        u = pending.update
        pending.inclusion_checked = True
        try:
            posted = read_batch(self.fed_task, self.store, u.task_id, u.round)
        except BatchDocumentError as exc:  # a batch nobody can check includes nobody
            log.warning("step: round %d's batch cannot be checked: %s", u.round, exc)
            posted = None
        mine = posted.document.batch.commitment_of(self.address) if posted else None
        included = (
            mine is not None
            and mine.commitment.update_hash == u.update_hash
            and mine.commitment.samples == u.samples
            and posted is not None
            and posted.document.cids.get(self.address) == u.cid
        )
        if included:
            return
        if now >= rinfo.reveal_start:
            log.warning("step: %s left out of round %d's batch too late", self.address, u.round)
            return
        log.warning("step: %s left out of round %d: commits directly", self.address, u.round)
        self._commit_directly(pending)

    def _reveal(self, pending: PendingUpdate) -> None:
        """Publish the update's bytes (from the reveal start only)."""
        cid = self.store.put(pending.blob)
        if cid != pending.update.cid:
            raise ModelIntegrityError(
                f"reveal: the store names the update {cid}, not {pending.update.cid}"
            )
        pending.revealed = True
        log.debug("reveal: %s published %s", self.address, cid)

    # ---- rewards and stake ----------------------------------------------------------------------
    def _due(self, info: TaskInfo) -> DueClaims:
        """The claims due now in the task of ``info``."""
        last = int(info.last_round) - (1 if info.round_open else 0)
        state = self._state(int(info.task_id))
        return due_claims(
            self.fed_task,
            self.store,
            int(info.task_id),
            self.address,
            last_finalized=last,
            ledger=state.ledger,
            court=self.court,
        )

    def claim_due(
        self, task_id: int, *, force: bool = False, info: TaskInfo | None = None
    ) -> ClaimRecord | None:
        """Claim every round due now, in one transaction (``claimMany`` for several).

        Waits for :attr:`claim_min_rounds` due rounds unless nothing more is to come (or
        ``force``).

        Parameters
        ----------
        task_id : int
            The task.
        force : bool, default False
            Claim whatever is due, however few.
        info : TaskInfo or None, default None
            The task as just read (read again when ``None``).

        Returns
        -------
        ClaimRecord or None
            What was claimed, or ``None`` when nothing was.
        """
        info = info or self.fed_task.task(task_id)
        if not (force or info.status.ended) and self._too_few_rounds(info):
            return None
        due = self._due(info)
        last = due.waiting == 0 and info.status.ended
        if not due.claims or (len(due.claims) < self.claim_min_rounds and not (force or last)):
            return None
        return self._claim(task_id, due.claims, self._state(task_id))

    def _too_few_rounds(self, info: TaskInfo) -> bool:
        """Whether fewer finalised rounds than :attr:`claim_min_rounds` can still pay this node.

        Due claims are a subset of the finalised rounds not settled yet, so a node that waits
        for several rounds skips reading them while there cannot be enough (no chain reads).
        """
        last = int(info.last_round) - (1 if info.round_open else 0)
        open_rounds = last - len(self._state(int(info.task_id)).ledger.settled)
        return open_rounds < self.claim_min_rounds

    def _claim(self, task_id: int, claims: list[Claim], state: _TaskState) -> ClaimRecord | None:
        try:
            tx = submit_claims(self.fed_task, task_id, claims)
        except ChainRevertError as exc:
            if exc.error_name == "TaskAlreadyClaimed":  # claimed elsewhere: read them again
                state.ledger.forget_due()
                log.warning("claim: %s had claimed already: %s", self.address, exc)
                return None
            if exc.error_name not in TOO_EARLY:
                raise
            log.debug("claim: %s not yet: %s", self.address, exc)
            return None
        state.ledger.settle(int(c.round) for c in claims)
        record = ClaimRecord(
            rounds=tuple(int(c.round) for c in claims),
            amount=sum(int(c.amount) for c in claims),
            gas_used=tx.gas_used,
        )
        self.claims.append(record)
        log.info("claim: %s claimed %d wei, rounds %s", self.address, record.amount, record.rounds)
        return record

    def withdraw_stake(self, task_id: int) -> int | None:
        """Withdraw the stake once the task ended, its cooldown and last window passed.

        Settles this node's own pending flags first (anyone may; the slash goes to the pool).

        Parameters
        ----------
        task_id : int
            The task.

        Returns
        -------
        int or None
            The stake withdrawn, or ``None`` when it is not withdrawable yet (or was withdrawn).
        """
        state = self._state(task_id)
        if state.withdrawn is not None:
            return None
        info = self.fed_task.task(task_id)
        stake = self.fed_task.stake_of(task_id, self.address)
        if not info.status.ended or not stake:
            return None
        if not self._stake_free(task_id, info):
            return None
        try:
            self._settle_flags(task_id, info)
            amount = int(self.fed_task.stake_of(task_id, self.address))
            self.fed_task.withdraw_stake(task_id)
        except ChainRevertError as exc:
            if exc.error_name not in TOO_EARLY:
                raise
            log.debug("withdraw_stake: %s not yet: %s", self.address, exc)
            return None
        state.withdrawn = amount
        log.info("withdraw_stake: %s took back %d wei from task %s", self.address, amount, task_id)
        return amount

    def _stake_free(self, task_id: int, info: TaskInfo) -> bool:
        """Whether the cooldown and every window passed, with no dispute open."""
        now = self.fed_task.backend.chain_time()
        cooldown = self.fed_task.schedule(task_id).stake_cooldown
        last = self.fed_task.round(task_id, int(info.last_round)) if info.last_round else None
        window = last.claimable_at if last is not None else 0
        return info.open_disputes == 0 and now >= max(info.ended_at + cooldown, window)

    def _settle_flags(self, task_id: int, info: TaskInfo) -> None:
        """Execute the slash of every flag pending against this node (its stake is then free)."""
        if not self.fed_task.pending_flags(task_id, self.address):
            return
        for round_ in range(1, int(info.last_round) + 1):
            if self.fed_task.is_flagged(task_id, round_, self.address):
                self.fed_task.execute_slash(task_id, round_, self.address)

    def settled(self, task_id: int) -> bool:
        """Whether nothing is left to do in a task: ended, every due reward claimed, stake back.

        Parameters
        ----------
        task_id : int
            The task.
        """
        info = self.fed_task.task(task_id)
        if not info.status.ended:
            return False
        due = self._due(info)
        staked = self.fed_task.stake_of(task_id, self.address)
        return not due.claims and due.waiting == 0 and not staked

    def run(
        self,
        task_id: int,
        *,
        poll_interval: float = 0.5,
        timeout: float | None = None,
        outage_limit: float = DEFAULT_OUTAGE_LIMIT,
    ) -> list[SubmittedUpdate]:
        """Serve ``task_id`` until it is settled: train, commit, reveal, claim, withdraw.

        Parameters
        ----------
        task_id : int
            The task.
        poll_interval : float, default 0.5
            Seconds between two looks at the chain.
        timeout : float or None, default None
            Give up after this many seconds.
        outage_limit : float, default DEFAULT_OUTAGE_LIMIT
            Seconds the chain node or the store may stay unreachable: the node tries again with
            backoff and jitter meanwhile (a round it misses is simply not paid).

        Raises
        ------
        RoundTimeoutError
            When ``timeout`` seconds pass before the task is settled.
        OutageError
            When a service stays unreachable for longer than ``outage_limit``.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        outage = Outage(limit=outage_limit)
        while True:
            try:
                self.step(task_id)
                settled = self.settled(task_id)
            except ServiceUnavailableError as exc:  # a node restarted, a link cut, a daemon down
                outage.wait(exc, "the chain node or the store")
                continue
            outage.end()
            if settled:
                log.info("run: task %s settled for %s", task_id, self.address)
                return self.history
            if deadline is not None and time.monotonic() > deadline:
                raise RoundTimeoutError(f"run: task {task_id} not settled within {timeout}s")
            time.sleep(poll_interval)


__all__ = [
    "ClaimRecord",
    "ParticipantNode",
    "SubmittedUpdate",
    "fetch_verified",
    "round_opening",
]
