"""On-chain record of a vertical-FL task: escrow, PSI commitment, model parts, rewards.

The same FedTask contract as a horizontal task, one round:

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

Every transaction's gas is summed in :attr:`VflChain.gas_used`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chain import ChainBackend, Deployment, FedTaskClient, RewardTokenClient, Signer, TxResult
    from storage import LocalCidStore

log = logging.getLogger(__name__)

TOKEN = 10**18
GAS_FUNDING_WEI = 10 * 10**18
ROLES = ("sponsor", "coordinator", "guest", "host")


@dataclass
class VflChain:
    """Every on-chain party of a vertical task and the public content store.

    Attributes
    ----------
    backend : ChainBackend
        The chain.
    deployment : Deployment
        Contract addresses.
    signers : dict
        ``role -> Signer`` (sponsor, coordinator, guest, host), each its own fresh key.
    store : LocalCidStore
        The public content store (specs, manifests, evidence).
    task_id : int
        The task (0 before :func:`create_task`).
    pool : int
        Escrowed wei.
    gas_used : int
        Gas of every transaction sent through this object.
    """

    backend: ChainBackend
    deployment: Deployment
    signers: dict[str, Signer]
    store: LocalCidStore
    task_id: int = 0
    pool: int = 0
    gas_used: int = 0
    transactions: list[dict[str, Any]] = field(default_factory=list)

    def fed_task(self, role: str | None = None) -> FedTaskClient:
        """The FedTask client, read-only or sending as ``role``.

        Parameters
        ----------
        role : str or None
            A role of :attr:`signers`.
        """
        return self.deployment.fed_task_client(self.backend, self.signers[role] if role else None)

    def token(self, role: str | None = None) -> RewardTokenClient:
        """The reward token client, read-only or sending as ``role``.

        Parameters
        ----------
        role : str or None
            A role of :attr:`signers`.
        """
        return self.deployment.token_client(self.backend, self.signers[role] if role else None)

    def address(self, role: str) -> str:
        """Address of ``role``.

        Parameters
        ----------
        role : str
            A role.
        """
        return str(self.signers[role].address)

    def track(self, what: str, role: str, tx: TxResult) -> TxResult:
        """Record a transaction's gas.

        Parameters
        ----------
        what : str
            Label.
        role : str
            Sender.
        tx : TxResult
            The mined transaction.
        """
        self.gas_used += int(tx.gas_used)
        self.transactions.append(
            {"what": what, "from": role, "tx": tx.tx_hash, "gas": int(tx.gas_used)}
        )
        return tx


def setup_chain(store_dir: Path, rpc_url: str | None = None) -> VflChain:
    """Deploy the contracts and create and fund the four parties, each with a fresh key.

    Parameters
    ----------
    store_dir : Path
        Folder of the public content store.
    rpc_url : str or None
        JSON-RPC URL; a fresh in-process chain when ``None``.
    """
    from chain import connect, deploy, fund, new_account, signer_for
    from storage import LocalCidStore

    backend = connect(rpc_url)
    faucet = backend.faucet_account()
    if faucet is None:
        raise ValueError("the chain has no faucet to fund the parties")
    deployer = signer_for(backend, faucet)
    deployment = deploy(deployer)
    signers: dict[str, Signer] = {"deployer": deployer}
    for role in ROLES:
        account = new_account()
        fund(backend, account.address, GAS_FUNDING_WEI)
        signers[role] = signer_for(backend, account)
    return VflChain(backend, deployment, signers, LocalCidStore(store_dir))


def create_task(chain: VflChain, spec: dict[str, Any], *, pool: int) -> int:
    """Mint and escrow ``pool`` for a one-round, two-participant task; guest and host join.

    Parameters
    ----------
    chain : VflChain
        The parties.
    spec : dict
        The task spec (stored as canonical JSON; its hash goes on chain).
    pool : int
        Reward pool in wei.

    Returns
    -------
    int
        The task id.
    """
    from storage import canonical_json, content_hash

    chain.track("mint", "deployer", chain.token("deployer").mint(chain.address("sponsor"), pool))
    spec_bytes = canonical_json(spec)
    spec_cid = chain.store.put(spec_bytes)
    chain.track(
        "approve", "sponsor", chain.token("sponsor").approve(chain.deployment.fed_task, pool)
    )
    task_id, tx = chain.fed_task("sponsor").create_task(
        spec_cid=spec_cid,
        spec_hash=content_hash(spec_bytes),
        coordinator=chain.address("coordinator"),
        pool=pool,
        total_rounds=1,
        max_participants=2,
    )
    chain.track("createTask", "sponsor", tx)
    chain.task_id, chain.pool = int(task_id), pool
    for role in ("guest", "host"):
        chain.track("joinTask", role, chain.fed_task(role).join(chain.task_id))
    return chain.task_id


def put_json(chain: VflChain, obj: dict[str, Any]) -> tuple[str, bytes]:
    """Store canonical JSON; return ``(cid, keccak hash)``.

    Parameters
    ----------
    chain : VflChain
        Holds the store.
    obj : dict
        The document.
    """
    from storage import canonical_json, content_hash

    data = canonical_json(obj)
    return str(chain.store.put(data)), bytes(content_hash(data))


def open_round(chain: VflChain, psi_manifest: dict[str, Any]) -> dict[str, str]:
    """Coordinator: open round 1 with the PSI manifest.

    Parameters
    ----------
    chain : VflChain
        The parties.
    psi_manifest : dict
        Commitment, method, sizes (never ids).
    """
    cid, digest = put_json(chain, psi_manifest)
    chain.track(
        "openRound",
        "coordinator",
        chain.fed_task("coordinator").open_round(chain.task_id, 1, cid, digest),
    )
    return {"cid": cid, "hash": "0x" + digest.hex()}


def anchor_part(chain: VflChain, role: str, part: dict[str, Any]) -> str:
    """A party anchors its model part's hash and CID (from its own key).

    Parameters
    ----------
    chain : VflChain
        The parties.
    role : {"guest", "host"}
        The party.
    part : dict
        ``cid``, ``hash`` (0x hex), ``samples``.

    Returns
    -------
    str
        The transaction hash.
    """
    tx = chain.fed_task(role).submit_update(
        chain.task_id, 1, bytes.fromhex(part["hash"][2:]), part["cid"], int(part["samples"])
    )
    chain.track("submitUpdate", role, tx)
    return tx.tx_hash


def finalize(
    chain: VflChain,
    model_manifest: dict[str, Any],
    evidence: dict[str, Any],
    contributions: list[float],
) -> dict[str, Any]:
    """Coordinator: finalise round 1 and let the contract pay by score; parties claim.

    Parameters
    ----------
    chain : VflChain
        The parties.
    model_manifest : dict
        The joint model (parts' CIDs and hashes).
    evidence : dict
        Shapley utilities, metrics, PSI commitment.
    contributions : list of float
        Feature-group Shapley values of ``[guest, host]`` (join order).

    Returns
    -------
    dict
        CIDs, scores, predicted and paid amounts, remainder.
    """
    from incentives.rewards import allocate_round

    model_cid, model_hash = put_json(chain, model_manifest)
    evidence_cid, _ = put_json(chain, evidence)
    reader = chain.fed_task()
    participants = [str(a) for a in reader.participants(chain.task_id)]
    order = {chain.address("guest"): 0, chain.address("host"): 1}
    by_join = [contributions[order[a]] for a in participants]
    escrow = int(reader.task(chain.task_id).escrow)
    plan = allocate_round(by_join, escrow, 1)
    chain.track(
        "finalizeRound",
        "coordinator",
        chain.fed_task("coordinator").finalize_round(
            chain.task_id,
            1,
            model_cid=model_cid,
            model_hash=model_hash,
            evidence_cid=evidence_cid,
            scores=plan.scores,
            budget=plan.budget,
        ),
    )
    paid: dict[str, int] = {}
    for role in ("guest", "host"):
        address = chain.address(role)
        if int(reader.owed(address)):
            chain.track("claimRewards", role, chain.fed_task(role).claim_rewards())
        paid[address] = int(chain.token().balance_of(address))
    remainder = int(reader.task(chain.task_id).escrow)
    expected = dict(zip(participants, plan.amounts, strict=True))
    if any(paid[a] != expected[a] for a in participants):
        raise RuntimeError(f"rewards paid {paid} differ from the reference split {expected}")
    return {
        "model_cid": model_cid,
        "model_hash": "0x" + model_hash.hex(),
        "evidence_cid": evidence_cid,
        "scores": dict(zip(participants, plan.scores, strict=True)),
        "budget_wei": plan.budget,
        "paid_wei": paid,
        "remainder_wei": remainder,
    }
