"""The parties of one vertical task on FedTask v2, each sending from its own key.

:class:`TaskRecorder` records the task in the order of the run: create and join
(:meth:`~TaskRecorder.create_task`), stake and open round 1 with the PSI manifest
(:meth:`~TaskRecorder.open_round`), commit each model part (:meth:`~TaskRecorder.commit_part`),
then plan, finalise, claim and withdraw (:meth:`~TaskRecorder.plan_rewards`,
:meth:`~TaskRecorder.finalize`). Deadlines are reached by :class:`._clock.Deadlines`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fl_node.events import EventSink
from fl_node.vertical.runner._errors import (
    InconsistentResultError,
    SponsorFundsError,
    StakeFundsError,
)
from fl_node.vertical.runner.jobs import PartRecord
from fl_node.vertical.runner.onchain._clock import Deadlines
from fl_node.vertical.runner.onchain.records import (
    ClaimRecord,
    RewardPlan,
    RewardsRecord,
    StakesRecord,
    TaskTimeline,
)
from fl_node.vertical.runner.onchain.terms import DATA_ROLES, TaskTerms

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

    from chain import ChainBackend, Deployment, Parties, TxResult
    from chain.fed_task import Schedule
    from storage import LocalCidStore

log = logging.getLogger(__name__)

ROLES = ("sponsor", "coordinator", "guest", "host")
"""The on-chain roles of a vertical task, each signing with its own key."""
KEY_VARIABLES = {
    "sponsor": "FEDMARKET_SPONSOR_KEY",
    "coordinator": "FEDMARKET_COORDINATOR_KEY",
    "guest": "FEDMARKET_GUEST_KEY",
    "host": "FEDMARKET_HOST_KEY",
}
"""Environment variable holding each role's hex private key (``fedmarket vfl``)."""


class TaskRecorder:
    """The parties of one vertical task on a FedTask deployment, and the public store.

    Parameters
    ----------
    parties : Parties
        A signer per role of :data:`ROLES` (and the deployer, when deployed here).
    store : LocalCidStore
        The public content store (specs, manifests, evidence).
    owns_chain : bool, default True
        Travel past deadlines where the chain allows it; ``False`` waits in real time.
    emit : EventSink or None, default None
        Receives a ``DeadlineReached`` event per deadline reached.
    data_roles : tuple of str, default DATA_ROLES
        The participants, each with its own signer: the guest and each host.
    """

    def __init__(
        self,
        parties: Parties,
        store: LocalCidStore,
        *,
        owns_chain: bool = True,
        emit: EventSink | None = None,
        data_roles: tuple[str, ...] = DATA_ROLES,
    ) -> None:
        self.parties = parties
        self.data_roles = data_roles
        self.store = store
        self.task_id = 0
        self.clock = Deadlines(parties.backend, travel=owns_chain, emit=emit)
        self.transactions: dict[str, str] = {}
        self.gas: dict[str, int] = {}
        self._terms = TaskTerms(pool=0)
        self._schedule: Schedule | None = None
        self._withdrawn: dict[str, int] = {}
        self._signers = {s.address: s for s in parties.signers.values()}
        self._gas_start = {a: s.gas_used for a, s in self._signers.items()}

    @classmethod
    def provision(
        cls,
        store_dir: Path,
        *,
        backend: ChainBackend,
        deployment: Deployment | None = None,
        keys: Mapping[str, LocalAccount] | None = None,
        owns_chain: bool = True,
        emit: EventSink | None = None,
        data_roles: tuple[str, ...] = DATA_ROLES,
    ) -> TaskRecorder:
        """Attach to (or deploy) the contracts and give every role of :data:`ROLES` a signer.

        Parameters
        ----------
        store_dir : Path
            Folder of the public content store.
        backend : ChainBackend
            The chain.
        deployment : Deployment or None, default None
            Existing contracts; ``None`` deploys fresh ones from the chain's faucet.
        keys : mapping of str to LocalAccount or None, default None
            Funded keys of the roles that bring their own; the others get a fresh key funded
            from the faucet.
        owns_chain : bool, default True
            Travel past deadlines where the chain allows it; ``False`` waits in real time.
        emit : EventSink or None, default None
            Receives a ``DeadlineReached`` event per deadline reached.
        data_roles : tuple of str, default DATA_ROLES
            The participants (``("guest", "host-1", "host-2")`` with two hosts).

        Raises
        ------
        FundingError
            A role has no key and the chain has no faucet.
        """
        from chain import provision
        from storage import LocalCidStore

        roles = ("sponsor", "coordinator", *data_roles)
        parties = provision(backend, roles, deployment=deployment, keys=keys)
        store = LocalCidStore(store_dir)
        return cls(parties, store, owns_chain=owns_chain, emit=emit, data_roles=data_roles)

    @property
    def gas_used(self) -> int:
        """Gas of every transaction sent since provisioning (deployment and funding excluded)."""
        return sum(s.gas_used - self._gas_start[a] for a, s in self._signers.items())

    @property
    def schedule(self) -> Schedule:
        """The task's timetable (once created)."""
        if self._schedule is None:
            return self._terms.resolved(self.clock.travels)
        return self._schedule

    def address(self, role: str) -> str:
        """Address of ``role``."""
        return str(self.parties.address(role))

    def put_json(self, obj: Mapping[str, Any]) -> tuple[str, bytes]:
        """Store canonical JSON; return ``(cid, keccak hash)``."""
        from storage import canonical_json, content_hash

        data = canonical_json(obj)
        return str(self.store.put(data)), bytes(content_hash(data))

    def _sent(self, label: str, result: TxResult) -> str:
        """Remember a mined transaction and its gas under ``label``; return its hash."""
        self.transactions[label] = result.tx_hash
        self.gas[label] = result.gas_used
        return result.tx_hash

    # ---- creation ------------------------------------------------------------------------------
    def create_task(self, spec: Mapping[str, Any], terms: TaskTerms) -> int:
        """Escrow the pool for a one-round, two-participant task; guest and host join.

        The task is permissioned: the sponsor invites the guest and the host (EIP-712, no
        transaction) and each joins with its invitation, locking its stake.

        Parameters
        ----------
        spec : mapping
            The task spec (stored as canonical JSON; its hash goes on chain).
        terms : TaskTerms
            Pool, schedule, stakes and slash share.

        Raises
        ------
        SponsorFundsError, StakeFundsError
            On an existing deployment, when the sponsor holds less than the pool or a staker
            less than its stake.
        """
        self._terms = terms
        self._schedule = terms.resolved(self.clock.travels)
        self._fund(terms)
        spec_cid, spec_hash = self.put_json(spec)
        p = self.parties
        self._approve("sponsor", terms.pool)
        config = terms.config(spec_cid, spec_hash, self.address("coordinator"), self._schedule)
        task_id, result = p.fed_task("sponsor").create_task(config)
        self._sent("create", result)
        self.task_id = int(task_id)
        for role in self.data_roles:
            self._join(role)
        return self.task_id

    def _fund(self, terms: TaskTerms) -> None:
        """Mint what each role needs where the contracts were deployed here, else check it."""
        from chain import DEPLOYER

        p = self.parties
        needs = {role: amount for role, amount in terms.needs().items() if amount}
        if DEPLOYER in p.signers:
            for role, amount in needs.items():
                self._sent(f"mint {role}", p.token(DEPLOYER).mint(self.address(role), amount))
            return
        for role, amount in needs.items():
            held = int(p.token().balance_of(self.address(role)))
            if held < amount:
                error = SponsorFundsError if role == "sponsor" else StakeFundsError
                what = "the pool" if role == "sponsor" else "its stake"
                raise error(
                    f"the {role} holds {held} wei of the reward token; {what} needs {amount}"
                )

    def _approve(self, role: str, amount: int) -> None:
        """``role`` lets FedTask pull ``amount`` (nothing to do for 0)."""
        if amount:
            p = self.parties
            self._sent(f"approve {role}", p.token(role).approve(p.deployment.fed_task, amount))

    def _join(self, role: str) -> None:
        """``role`` joins with the sponsor's invitation, valid until round 1 must open."""
        from chain.commitments import Invitation, sign_invitation
        from kernel.types import TaskId

        p = self.parties
        reader = p.fed_task()
        deadline = reader.task(self.task_id).deadline
        invitation = Invitation(TaskId(self.task_id), p.address(role), deadline)
        signed = sign_invitation(p.accounts["sponsor"], reader.domain(), invitation)
        self._approve(role, self._terms.participant_stake)
        self._sent(f"join {role}", p.fed_task(role).join(self.task_id, signed))

    # ---- round 1 -------------------------------------------------------------------------------
    def open_round(self, psi_manifest: Mapping[str, Any]) -> str:
        """Coordinator: stake if required, open round 1 with the PSI manifest; return its CID.

        Parameters
        ----------
        psi_manifest : mapping
            Commitment, method, sizes (never ids).

        Raises
        ------
        DeadlineMissedError
            Round 1 can no longer open (the join period is over).
        """
        cid, digest = self.put_json(psi_manifest)
        p = self.parties
        task = p.fed_task().task(self.task_id)
        coordinator = p.fed_task("coordinator")
        self.clock.check_before(task.deadline, "open round 1", "join period")
        if task.coordinator_stake and not task.coordinator_staked:
            self._approve("coordinator", task.coordinator_stake)
            self._sent("stake coordinator", coordinator.stake_as_coordinator(self.task_id))
        self._sent("open", coordinator.open_round(self.task_id, 1, cid, digest))
        return cid

    def commit_part(self, role: str, part: PartRecord) -> str:
        """A party commits its model part's hash and CID from its own key; return the tx hash.

        The part's bytes stay in the party's own store: the commitment is what counts.

        Parameters
        ----------
        role : {"guest", "host"}
            The party.
        part : PartRecord
            The saved part.

        Raises
        ------
        DeadlineMissedError
            Direct commitments closed (training outlasted the commit and inclusion periods).
        """
        info = self.parties.fed_task().round(self.task_id, 1)
        step = f"commit the {role}'s part"
        self.clock.check_before(info.reveal_start, step, "commit period")
        digest = bytes.fromhex(part.hash.removeprefix("0x"))
        sender = self.parties.fed_task(role)
        result = sender.commit_update(self.task_id, 1, digest, part.samples, part.cid)
        return self._sent(f"commit {role}", result)

    def plan_rewards(self, contributions: Sequence[float]) -> RewardPlan:
        """The round's rewards: ``contributions`` split within the on-chain cap, the shares.

        Parameters
        ----------
        contributions : sequence of float
            Feature-group Shapley values of ``[guest, host]``.
        """
        reader = self.parties.fed_task()
        participants = [str(a) for a in reader.participants(self.task_id)]
        by_address = dict(zip(map(self.address, self.data_roles), contributions, strict=True))
        cap = int(reader.round_cap(self.task_id, 1))
        ordered = [by_address[a] for a in participants]
        return RewardPlan.build(self.task_id, participants, ordered, cap)

    def finalize(
        self, model_manifest: Mapping[str, Any], evidence: Mapping[str, Any], plan: RewardPlan
    ) -> RewardsRecord:
        """Coordinator: finalise round 1 after its reveal deadline; then settle the task.

        Settling: after the challenge window each party claims by proof, the sponsor
        withdraws the remainder and, after the cooldown, the stakers their stakes.

        Parameters
        ----------
        model_manifest : mapping
            The joint model (parts' CIDs and hashes).
        evidence : mapping
            Shapley utilities, metrics, PSI commitment, the rewards plan.
        plan : RewardPlan
            The rewards (:meth:`plan_rewards`).

        Raises
        ------
        DeadlineMissedError
            The finalize deadline passed.
        InconsistentResultError
            When the tokens paid differ from the reference split, or the shares recorded
            from the ones given.
        """
        model_cid, model_hash = self.put_json(model_manifest)
        evidence_cid, _ = self.put_json(evidence)
        finalize_tx = self._finalize_round(model_cid, model_hash, evidence_cid, plan)
        claims, paid = self._claim(plan)
        remainder, remainder_tx = self._withdraw_remainder()
        self._withdraw_stakes()
        return RewardsRecord(
            model_cid=model_cid,
            model_hash="0x" + model_hash.hex(),
            evidence_cid=evidence_cid,
            scores=plan.by_address(plan.scores),
            budget_wei=plan.budget,
            paid_wei=paid,
            remainder_wei=remainder,
            cap_wei=plan.cap,
            rewards_root=plan.root,
            shares_bps=plan.by_address(plan.shares_bps),
            claims=claims,
            finalize_tx=finalize_tx,
            remainder_tx=remainder_tx,
        )

    def _finalize_round(
        self, model_cid: str, model_hash: bytes, evidence_cid: str, plan: RewardPlan
    ) -> str:
        """Reach the reveal deadline and finalise with the root, budget and shares."""
        from chain.commitments import encode_shares
        from chain.fed_task import Finalization

        reader = self.parties.fed_task()
        info = reader.round(self.task_id, 1)
        self.clock.reach(info.reveal_deadline, "reveal deadline")
        self.clock.check_before(info.finalize_deadline, "finalise round 1", "finalize period")
        finalization = Finalization(
            new_model_cid=model_cid,
            new_model_hash=model_hash,
            evidence_cid=evidence_cid,
            rewards_root=plan.tree.root,
            budget=plan.budget,
            accepted=info.commitments,
            shares=encode_shares(plan.shares_bps),
        )
        coordinator = self.parties.fed_task("coordinator")
        tx = self._sent("finalize", coordinator.finalize_round(self.task_id, 1, finalization))
        recorded = reader.shares(self.task_id)
        if recorded != list(plan.shares_bps):
            raise InconsistentResultError(
                f"shares recorded {recorded} differ from those given {list(plan.shares_bps)}"
            )
        return tx

    # ---- settling ------------------------------------------------------------------------------
    def _claim(self, plan: RewardPlan) -> tuple[dict[str, ClaimRecord], dict[str, int]]:
        """After the challenge window, each party claims by proof; check against the split."""
        reader, token = self.parties.fed_task(), self.parties.token()
        claimable_at, _disputed = reader.round_claimable_at(self.task_id, 1)
        self.clock.reach(claimable_at, "end of the challenge window")
        claims: dict[str, ClaimRecord] = {}
        paid: dict[str, int] = {}
        for role in self.data_roles:
            address = self.address(role)
            before = int(token.balance_of(address))
            if plan.tree.amount_of(address):
                claim = plan.tree.claim_for(address)
                result = self.parties.fed_task(role).claim_rewards(self.task_id, claim)
                proof = tuple("0x" + bytes(h).hex() for h in claim.proof)
                claims[address] = ClaimRecord(
                    int(claim.amount), self._sent(f"claim {role}", result), proof
                )
            paid[address] = int(token.balance_of(address)) - before
        expected = plan.by_address(plan.amounts)
        if paid != expected:
            raise InconsistentResultError(
                f"rewards paid {paid} differ from the reference split {expected}"
            )
        return claims, paid

    def _withdraw_remainder(self) -> tuple[int, str | None]:
        """The sponsor withdraws the escrow the round left unallocated (if any)."""
        p = self.parties
        remainder = int(p.fed_task().task(self.task_id).unallocated)
        if not remainder:
            return 0, None
        sponsor = self.address("sponsor")
        before = int(p.token().balance_of(sponsor))
        tx = self._sent(
            "withdraw remainder", p.fed_task("sponsor").withdraw_remainder(self.task_id)
        )
        received = int(p.token().balance_of(sponsor)) - before
        if received != remainder:
            raise InconsistentResultError(f"the sponsor received {received}, not {remainder}")
        return remainder, tx

    def _withdraw_stakes(self) -> None:
        """After the stake cooldown, every staker withdraws its stake."""
        p = self.parties
        reader = p.fed_task()
        stakers = (*self.data_roles, "coordinator")
        stakes = {r: int(reader.stake_of(self.task_id, self.address(r))) for r in stakers}
        stakes = {r: amount for r, amount in stakes.items() if amount}
        if not stakes:
            return
        task = reader.task(self.task_id)
        claimable_at, _ = reader.round_claimable_at(self.task_id, 1)
        self.clock.reach(
            max(task.ended_at + self.schedule.stake_cooldown, claimable_at), "stake cooldown"
        )
        for role, amount in stakes.items():
            address = self.address(role)
            before = int(p.token().balance_of(address))
            self._sent(f"withdraw stake {role}", p.fed_task(role).withdraw_stake(self.task_id))
            self._withdrawn[address] = int(p.token().balance_of(address)) - before
            if self._withdrawn[address] != amount:
                raise InconsistentResultError(
                    f"the {role} withdrew {self._withdrawn[address]} of its stake {amount}"
                )

    # ---- what the chain recorded ---------------------------------------------------------------
    def stakes(self) -> StakesRecord:
        """The task's stakes and what each staker withdrew."""
        t = self._terms
        return StakesRecord(
            t.participant_stake, t.coordinator_stake, t.slash_bps, dict(self._withdrawn)
        )

    def timeline(self) -> TaskTimeline:
        """The task's schedule, its times on chain, the clock and every transaction sent."""
        reader = self.parties.fed_task()
        return TaskTimeline.of(
            self.schedule,
            reader.task(self.task_id),
            reader.round(self.task_id, 1),
            clock=self.clock.mode,
            waited_seconds=self.clock.waited_seconds,
            transactions=self.transactions,
            gas=self.gas,
        )


__all__ = ["KEY_VARIABLES", "ROLES", "TaskRecorder"]
