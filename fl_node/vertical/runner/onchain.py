"""On-chain record of a vertical-FL task: escrow, PSI commitment, model parts, rewards.

The same FedTask contract as a horizontal task, one round, on the same deployment and signers
(:func:`chain.provision`):

1. a sponsor escrows the pool for a task whose spec (JSON in the content store) describes the
   vertical training; the guest and the host join as participants (each from its own key);
2. the coordinator opens round 1 with the CID/hash of a *PSI manifest*: the salted
   intersection commitment (never the ids), the PSI method and the set sizes;
3. each party anchors (``submitUpdate`` from its own key) the keccak hash and CID of its model
   part; the bytes stay in that party's own store;
4. the coordinator finalises the round with the joint model manifest (the two parts' CIDs and
   hashes, no weights), an evidence JSON (feature-group Shapley utilities, metrics, PSI
   commitment) and one score per participant from feature-group Shapley; the contract splits
   the budget by score and the parties claim.

Contracts are deployed fresh (from the chain's faucet) or attached from a deployment file on
any JSON-RPC chain; each role brings its own funded key or, on a chain with a faucet, gets a
fresh funded one. :attr:`TaskRecorder.gas_used` sums the gas of the task's transactions.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fl_node.vertical.runner._errors import InconsistentResultError, SponsorFundsError
from fl_node.vertical.runner.jobs import PartRecord

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

    from chain import ChainBackend, Deployment, Parties
    from storage import LocalCidStore

log = logging.getLogger(__name__)

TOKEN = 10**18
"""Wei per whole reward token."""
ROLES = ("sponsor", "coordinator", "guest", "host")
"""The on-chain roles of a vertical task, each signing with its own key."""
KEY_VARIABLES = {
    "sponsor": "FEDMARKET_SPONSOR_KEY",
    "coordinator": "FEDMARKET_COORDINATOR_KEY",
    "guest": "FEDMARKET_GUEST_KEY",
    "host": "FEDMARKET_HOST_KEY",
}
"""Environment variable holding each role's hex private key (``fedmarket vfl``)."""


@dataclass(frozen=True)
class RewardsRecord:
    """The finalised round: stored documents, scores and what each party was paid.

    Attributes
    ----------
    model_cid, model_hash, evidence_cid : str
        The joint model manifest (CID and 0x keccak) and the evidence document.
    scores : dict of str to int
        Participant address -> score given to the contract.
    budget_wei : int
        The round's budget.
    paid_wei : dict of str to int
        Participant address -> tokens it holds after claiming.
    remainder_wei : int
        Escrow left in the task.
    """

    model_cid: str
    model_hash: str
    evidence_cid: str
    scores: dict[str, int]
    budget_wei: int
    paid_wei: dict[str, int]
    remainder_wei: int


class TaskRecorder:
    """The parties of one vertical task on a FedTask deployment, and the public store.

    Parameters
    ----------
    parties : Parties
        A signer per role of :data:`ROLES` (and the deployer, when deployed here).
    store : LocalCidStore
        The public content store (specs, manifests, evidence).
    """

    def __init__(self, parties: Parties, store: LocalCidStore) -> None:
        self.parties = parties
        self.store = store
        self.task_id = 0
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

        Raises
        ------
        FundingError
            A role has no key and the chain has no faucet.
        """
        from chain import provision
        from storage import LocalCidStore

        parties = provision(backend, ROLES, deployment=deployment, keys=keys)
        return cls(parties, LocalCidStore(store_dir))

    @property
    def gas_used(self) -> int:
        """Gas of every transaction sent since provisioning (deployment and funding excluded)."""
        return sum(s.gas_used - self._gas_start[a] for a, s in self._signers.items())

    def address(self, role: str) -> str:
        """Address of ``role``."""
        return str(self.parties.address(role))

    def put_json(self, obj: Mapping[str, Any]) -> tuple[str, bytes]:
        """Store canonical JSON; return ``(cid, keccak hash)``."""
        from storage import canonical_json, content_hash

        data = canonical_json(obj)
        return str(self.store.put(data)), bytes(content_hash(data))

    def create_task(self, spec: Mapping[str, Any], *, pool: int) -> int:
        """Escrow ``pool`` for a one-round, two-participant task; guest and host join.

        Parameters
        ----------
        spec : mapping
            The task spec (stored as canonical JSON; its hash goes on chain).
        pool : int
            Reward pool in wei.

        Raises
        ------
        SponsorFundsError
            On an existing deployment, when the sponsor holds fewer tokens than the pool.
        """
        self._fund_sponsor(pool)
        spec_cid, spec_hash = self.put_json(spec)
        p = self.parties
        p.token("sponsor").approve(p.deployment.fed_task, pool)
        task_id, _tx = p.fed_task("sponsor").create_task(
            spec_cid=spec_cid,
            spec_hash=spec_hash,
            coordinator=p.address("coordinator"),
            pool=pool,
            total_rounds=1,
            max_participants=2,
        )
        self.task_id = int(task_id)
        for role in ("guest", "host"):
            p.fed_task(role).join(self.task_id)
        return self.task_id

    def _fund_sponsor(self, pool: int) -> None:
        """Mint the pool to the sponsor where the contracts were deployed here, else check it."""
        from chain import DEPLOYER

        p = self.parties
        if DEPLOYER in p.signers:
            p.token(DEPLOYER).mint(self.address("sponsor"), pool)
            return
        held = int(p.token().balance_of(self.address("sponsor")))
        if held < pool:
            raise SponsorFundsError(
                f"the sponsor holds {held} wei of the reward token; the pool needs {pool}"
            )

    def open_round(self, psi_manifest: Mapping[str, Any]) -> str:
        """Coordinator: open round 1 with the PSI manifest; return its CID.

        Parameters
        ----------
        psi_manifest : mapping
            Commitment, method, sizes (never ids).
        """
        cid, digest = self.put_json(psi_manifest)
        self.parties.fed_task("coordinator").open_round(self.task_id, 1, cid, digest)
        return cid

    def anchor_part(self, role: str, part: PartRecord) -> str:
        """A party anchors its model part's hash and CID from its own key; return the tx hash.

        Parameters
        ----------
        role : {"guest", "host"}
            The party.
        part : PartRecord
            The saved part.
        """
        tx = self.parties.fed_task(role).submit_update(
            self.task_id, 1, bytes.fromhex(part.hash[2:]), part.cid, part.samples
        )
        return tx.tx_hash

    def finalize(
        self,
        model_manifest: Mapping[str, Any],
        evidence: Mapping[str, Any],
        contributions: Sequence[float],
    ) -> RewardsRecord:
        """Coordinator: finalise round 1 and let the contract pay by score; parties claim.

        Parameters
        ----------
        model_manifest : mapping
            The joint model (parts' CIDs and hashes).
        evidence : mapping
            Shapley utilities, metrics, PSI commitment.
        contributions : sequence of float
            Feature-group Shapley values of ``[guest, host]``.

        Raises
        ------
        InconsistentResultError
            When the tokens paid differ from the reference split of the budget.
        """
        from incentives.rewards import allocate_round

        model_cid, model_hash = self.put_json(model_manifest)
        evidence_cid, _ = self.put_json(evidence)
        reader = self.parties.fed_task()
        participants = [str(a) for a in reader.participants(self.task_id)]
        order = {self.address("guest"): 0, self.address("host"): 1}
        escrow = int(reader.task(self.task_id).escrow)
        plan = allocate_round([contributions[order[a]] for a in participants], escrow, 1)
        self.parties.fed_task("coordinator").finalize_round(
            self.task_id,
            1,
            model_cid=model_cid,
            model_hash=model_hash,
            evidence_cid=evidence_cid,
            scores=plan.scores,
            budget=plan.budget,
        )
        paid = self._claim()
        expected = dict(zip(participants, plan.amounts, strict=True))
        if any(paid[a] != expected[a] for a in participants):
            raise InconsistentResultError(
                f"rewards paid {paid} differ from the reference split {expected}"
            )
        return RewardsRecord(
            model_cid=model_cid,
            model_hash="0x" + model_hash.hex(),
            evidence_cid=evidence_cid,
            scores=dict(zip(participants, plan.scores, strict=True)),
            budget_wei=plan.budget,
            paid_wei=paid,
            remainder_wei=int(reader.task(self.task_id).escrow),
        )

    def _claim(self) -> dict[str, int]:
        """Guest and host claim what they are owed; return the tokens each one received."""
        reader, token = self.parties.fed_task(), self.parties.token()
        paid: dict[str, int] = {}
        for role in ("guest", "host"):
            address = self.address(role)
            before = int(token.balance_of(address))
            if int(reader.owed(address)):
                self.parties.fed_task(role).claim_rewards()
            paid[address] = int(token.balance_of(address)) - before
        return paid


__all__ = ["KEY_VARIABLES", "ROLES", "TOKEN", "RewardsRecord", "TaskRecorder"]
