"""What FedTask checks against data kept off-chain, built and verified exactly as the contract does.

- **EIP-712** (domain "FedMarket FedTask", version "2", the FedTask contract as verifying
  contract): the sponsor's ``Invitation(uint256 taskId,address participant,uint256 deadline)``
  that lets an account join a permissioned task, and the participant's
  ``UpdateCommitment(uint256 taskId,uint32 round,bytes32 updateHash,uint64 samples)`` that it hands
  to the coordinator for the round's batch.
- **Merkle leaves** (OpenZeppelin's double-hashed ABI encodings, :mod:`chain.merkle`): a commitment
  leaf ``keccak256(bytes.concat(keccak256(abi.encode(taskId, round, participant, updateHash,
  samples))))`` anchored by ``commitBatch``, and a rewards leaf over ``(taskId, round, account,
  amount)`` that ``claimRewards`` proves against the round's ``rewardsRoot``.
- **Shares**: the last round's ``bytes shares``, one big-endian ``uint16`` of basis points per
  participant in join order, summing to exactly 10,000.

Typical use: participants :func:`sign_commitment`; the coordinator builds a
:class:`CommitmentBatch` and posts its ``root`` with ``FedTaskClient.commit_batch``, then a
:class:`RewardTree` whose ``root`` and ``budget`` go into the round's ``Finalization``; each
participant claims with ``RewardTree.claim_for(its_address)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi.abi import encode as abi_encode
from eth_account.signers.local import LocalAccount
from eth_utils.address import is_address, to_checksum_address
from eth_utils.crypto import keccak

from chain._typed_data import (
    EIP712_DOMAIN_TYPE,
    SignatureError,
    recover_typed_data,
    sign_typed_data,
    typed_domain,
)
from chain.merkle import MerkleTree
from kernel.errors import IntegrityError, InvalidInputError
from kernel.types import Address, Hash32, Round, TaskId, Wei

DOMAIN_NAME = "FedMarket FedTask"
"""EIP-712 domain name of FedTask's signatures."""

DOMAIN_VERSION = "2"
"""EIP-712 domain version of FedTask's signatures (protocol v2)."""

INVITATION_TYPE = "Invitation(uint256 taskId,address participant,uint256 deadline)"
"""EIP-712 type of a sponsor's invitation to a permissioned task."""

UPDATE_COMMITMENT_TYPE = (
    "UpdateCommitment(uint256 taskId,uint32 round,bytes32 updateHash,uint64 samples)"
)
"""EIP-712 type of a participant's commitment to its update of a round."""

INVITATION_TYPEHASH = Hash32(keccak(text=INVITATION_TYPE))
"""``INVITATION_TYPEHASH`` of the contract."""

UPDATE_COMMITMENT_TYPEHASH = Hash32(keccak(text=UPDATE_COMMITMENT_TYPE))
"""``UPDATE_COMMITMENT_TYPEHASH`` of the contract."""

COMMITMENT_LEAF_TYPES = ("uint256", "uint32", "address", "bytes32", "uint64")
"""ABI types of a commitment leaf: ``(taskId, round, participant, updateHash, samples)``."""

REWARD_LEAF_TYPES = ("uint256", "uint32", "address", "uint256")
"""ABI types of a rewards leaf: ``(taskId, round, account, amount)``."""

BPS = 10_000
"""Basis points in a whole: the shares of a completed task sum to exactly this."""

ZERO_HASH = Hash32(b"\x00" * 32)
"""The zero ``bytes32`` (the rewards root of a round that pays nothing)."""

BATCH_DOCUMENT_VERSION = 1
"""Version of :meth:`CommitmentBatch.to_dict`'s document."""

_DOMAIN_TYPE = "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"


def _address(value: str, what: str) -> Address:
    """``value`` checksummed, or :class:`InvalidInputError` naming ``what``."""
    if not is_address(value):
        raise InvalidInputError(f"{what}: not an address: {value!r}")
    return Address(to_checksum_address(value))


def _hash32(value: bytes, what: str) -> Hash32:
    """``value`` as 32 plain bytes, or :class:`InvalidInputError` naming ``what``."""
    if len(value) != 32:
        raise InvalidInputError(f"{what}: expected 32 bytes, got {len(value)}")
    return Hash32(bytes(value))


@dataclass(frozen=True)
class FedTaskDomain:
    """The EIP-712 domain of one FedTask deployment.

    Attributes
    ----------
    chain_id : int
        The chain's id.
    verifying_contract : Address
        The FedTask contract.
    """

    chain_id: int
    verifying_contract: Address

    @property
    def separator(self) -> Hash32:
        """``DOMAIN_SEPARATOR`` as the contract computes it."""
        encoded = abi_encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [
                keccak(text=_DOMAIN_TYPE),
                keccak(text=DOMAIN_NAME),
                keccak(text=DOMAIN_VERSION),
                self.chain_id,
                self.verifying_contract,
            ],
        )
        return Hash32(keccak(encoded))

    def digest(self, struct_hash: bytes) -> Hash32:
        """The EIP-712 digest ``keccak256(0x1901 || separator || struct_hash)`` that is signed.

        Parameters
        ----------
        struct_hash : bytes
            ``hashStruct`` of the message.
        """
        return Hash32(keccak(b"\x19\x01" + self.separator + struct_hash))

    def typed_data(
        self, primary: str, fields: list[dict[str, str]], message: dict[str, Any]
    ) -> dict[str, Any]:
        """The EIP-712 JSON a wallet signs (``eth_signTypedData_v4``).

        Parameters
        ----------
        primary : str
            The primary type's name.
        fields : list of dict
            Its fields (``{"name": ..., "type": ...}``).
        message : dict
            The values.
        """
        return {
            "types": {"EIP712Domain": EIP712_DOMAIN_TYPE, primary: fields},
            "primaryType": primary,
            "domain": typed_domain(
                DOMAIN_NAME, DOMAIN_VERSION, self.chain_id, self.verifying_contract
            ),
            "message": message,
        }


@dataclass(frozen=True)
class Invitation:
    """The sponsor's invitation of ``participant`` to a permissioned task.

    Attributes
    ----------
    task_id : TaskId
        The task.
    participant : Address
        The invited account (only it can use the invitation).
    deadline : int
        Valid up to and including this timestamp (as EIP-2612 permits).
    """

    task_id: TaskId
    participant: Address
    deadline: int

    _FIELDS = [
        {"name": "taskId", "type": "uint256"},
        {"name": "participant", "type": "address"},
        {"name": "deadline", "type": "uint256"},
    ]

    def struct_hash(self) -> Hash32:
        """``hashStruct(Invitation)``."""
        encoded = abi_encode(
            ["bytes32", "uint256", "address", "uint256"],
            [INVITATION_TYPEHASH, self.task_id, self.participant, self.deadline],
        )
        return Hash32(keccak(encoded))

    def typed_data(self, domain: FedTaskDomain) -> dict[str, Any]:
        """The EIP-712 JSON of this invitation under ``domain``.

        Parameters
        ----------
        domain : FedTaskDomain
            The FedTask deployment.
        """
        message = {
            "taskId": self.task_id,
            "participant": self.participant,
            "deadline": self.deadline,
        }
        return domain.typed_data("Invitation", self._FIELDS, message)


@dataclass(frozen=True)
class SignedInvitation:
    """An :class:`Invitation` with the sponsor's 65-byte signature (what ``join`` takes)."""

    invitation: Invitation
    signature: bytes


def sign_invitation(
    sponsor: LocalAccount, domain: FedTaskDomain, invitation: Invitation
) -> SignedInvitation:
    """The sponsor's EIP-712 signature of ``invitation``.

    Parameters
    ----------
    sponsor : LocalAccount
        The task's sponsor (the contract accepts no one else's signature).
    domain : FedTaskDomain
        The FedTask deployment (``FedTaskClient.domain()``).
    invitation : Invitation
        What to sign.
    """
    return SignedInvitation(invitation, sign_typed_data(sponsor, invitation.typed_data(domain)))


def recover_invitation_signer(domain: FedTaskDomain, signed: SignedInvitation) -> Address:
    """The account that signed an invitation (the sponsor, if it is valid).

    Parameters
    ----------
    domain : FedTaskDomain
        The FedTask deployment.
    signed : SignedInvitation
        The invitation and its signature.

    Raises
    ------
    SignatureError
        The signature is malformed (OpenZeppelin's ECDSA rules: 65 bytes, ``v`` 27 or 28, low
        ``s``), so the contract would not accept it either.
    """
    return recover_typed_data(signed.invitation.typed_data(domain), signed.signature)


def commitment_leaf(
    task_id: int, round: int, participant: str, update_hash: bytes, samples: int
) -> Hash32:
    """The Merkle leaf of a participant's commitment, as ``commitBatch``'s root holds it.

    Parameters
    ----------
    task_id : int
        The task.
    round : int
        The round.
    participant : str
        The participant's address.
    update_hash : bytes
        ``keccak256`` of the update's bytes (32 bytes).
    samples : int
        Training samples behind the update.
    """
    values = [task_id, round, participant, _hash32(update_hash, "commitment_leaf"), samples]
    return Hash32(keccak(keccak(abi_encode(list(COMMITMENT_LEAF_TYPES), values))))


def reward_leaf(task_id: int, round: int, account: str, amount: int) -> Hash32:
    """The Merkle leaf ``claimRewards`` proves: ``(taskId, round, account, amount)``.

    Parameters
    ----------
    task_id : int
        The task.
    round : int
        The round.
    account : str
        The participant paid.
    amount : int
        Its reward in token wei.
    """
    values = [task_id, round, account, amount]
    return Hash32(keccak(keccak(abi_encode(list(REWARD_LEAF_TYPES), values))))


@dataclass(frozen=True)
class UpdateCommitment:
    """A participant's commitment to its update of a round (before the bytes are revealed).

    Attributes
    ----------
    task_id : TaskId
        The task.
    round : Round
        The round.
    update_hash : Hash32
        ``keccak256`` of the update's bytes.
    samples : int
        Training samples behind the update (``uint64``, positive for a direct commit).
    """

    task_id: TaskId
    round: Round
    update_hash: Hash32
    samples: int

    _FIELDS = [
        {"name": "taskId", "type": "uint256"},
        {"name": "round", "type": "uint32"},
        {"name": "updateHash", "type": "bytes32"},
        {"name": "samples", "type": "uint64"},
    ]

    def struct_hash(self) -> Hash32:
        """``hashStruct(UpdateCommitment)``."""
        encoded = abi_encode(
            ["bytes32", "uint256", "uint32", "bytes32", "uint64"],
            [UPDATE_COMMITMENT_TYPEHASH, self.task_id, self.round, self.update_hash, self.samples],
        )
        return Hash32(keccak(encoded))

    def typed_data(self, domain: FedTaskDomain) -> dict[str, Any]:
        """The EIP-712 JSON of this commitment under ``domain``.

        Parameters
        ----------
        domain : FedTaskDomain
            The FedTask deployment.
        """
        message = {
            "taskId": self.task_id,
            "round": self.round,
            "updateHash": self.update_hash,
            "samples": self.samples,
        }
        return domain.typed_data("UpdateCommitment", self._FIELDS, message)

    def leaf(self, participant: str) -> Hash32:
        """The Merkle leaf of this commitment made by ``participant``.

        Parameters
        ----------
        participant : str
            The committing participant's address.
        """
        return commitment_leaf(
            self.task_id, self.round, participant, self.update_hash, self.samples
        )


@dataclass(frozen=True)
class SignedCommitment:
    """A participant's :class:`UpdateCommitment` and its 65-byte EIP-712 signature.

    Attributes
    ----------
    participant : Address
        Who committed (the signer).
    commitment : UpdateCommitment
        What it committed to.
    signature : bytes
        Its signature.
    """

    participant: Address
    commitment: UpdateCommitment
    signature: bytes

    @property
    def leaf(self) -> Hash32:
        """The commitment's Merkle leaf."""
        return self.commitment.leaf(self.participant)


def sign_commitment(
    participant: LocalAccount, domain: FedTaskDomain, commitment: UpdateCommitment
) -> SignedCommitment:
    """The participant's EIP-712 signature of ``commitment``, for the coordinator's batch.

    Parameters
    ----------
    participant : LocalAccount
        The participant's key.
    domain : FedTaskDomain
        The FedTask deployment (``FedTaskClient.domain()``).
    commitment : UpdateCommitment
        What to sign.
    """
    signature = sign_typed_data(participant, commitment.typed_data(domain))
    return SignedCommitment(Address(participant.address), commitment, signature)


def recover_commitment_signer(domain: FedTaskDomain, signed: SignedCommitment) -> Address:
    """The account that signed a commitment (``signed.participant``, if it is genuine).

    Parameters
    ----------
    domain : FedTaskDomain
        The FedTask deployment.
    signed : SignedCommitment
        The commitment and its signature.

    Raises
    ------
    SignatureError
        The signature is malformed (OpenZeppelin's ECDSA rules: 65 bytes, ``v`` 27 or 28, low
        ``s``), so the contract would not accept it either.
    """
    return recover_typed_data(signed.commitment.typed_data(domain), signed.signature)


@dataclass(frozen=True)
class CommitmentBatch:
    """The signed commitments of one round and their Merkle tree: what ``commitBatch`` anchors.

    Build it with :meth:`build`; post ``root`` and ``count`` with ``FedTaskClient.commit_batch``
    and the document of :meth:`to_dict` (every leaf with its signature) under ``batchCid``.

    Attributes
    ----------
    task_id : TaskId
        The task.
    round : Round
        The round.
    commitments : tuple of SignedCommitment
        One per participant, in the order given.
    tree : MerkleTree
        The tree of their leaves.
    """

    task_id: TaskId
    round: Round
    commitments: tuple[SignedCommitment, ...]
    tree: MerkleTree

    @classmethod
    def build(cls, commitments: Sequence[SignedCommitment]) -> CommitmentBatch:
        """The batch of ``commitments`` (at least one, one task and round, one per participant).

        Parameters
        ----------
        commitments : sequence of SignedCommitment
            The participants' signed commitments (signatures are not checked here: see
            :meth:`verify`).

        Raises
        ------
        InvalidInputError
            No commitment, mixed tasks or rounds, or a participant twice.
        """
        if not commitments:
            raise InvalidInputError("CommitmentBatch.build: no commitments")
        first = commitments[0].commitment
        if any(
            (c.commitment.task_id, c.commitment.round) != (first.task_id, first.round)
            for c in commitments
        ):
            raise InvalidInputError("CommitmentBatch.build: commitments of different rounds")
        participants = [c.participant.lower() for c in commitments]
        if len(set(participants)) != len(participants):
            raise InvalidInputError("CommitmentBatch.build: a participant commits twice")
        tree = MerkleTree.build([c.leaf for c in commitments])
        return cls(first.task_id, first.round, tuple(commitments), tree)

    @property
    def root(self) -> Hash32:
        """The Merkle root posted on-chain."""
        return Hash32(self.tree.root)

    @property
    def count(self) -> int:
        """Number of commitments (the ``count`` posted on-chain)."""
        return len(self.commitments)

    def commitment_of(self, participant: str) -> SignedCommitment | None:
        """``participant``'s commitment in the batch, or ``None`` when it was left out.

        Parameters
        ----------
        participant : str
            The participant's address (any case).
        """
        wanted = participant.lower()
        return next((c for c in self.commitments if c.participant.lower() == wanted), None)

    def proof(self, participant: str) -> list[Hash32]:
        """The Merkle proof of ``participant``'s leaf.

        Parameters
        ----------
        participant : str
            The participant's address.

        Raises
        ------
        InvalidInputError
            ``participant`` has no commitment in the batch.
        """
        found = self.commitment_of(participant)
        if found is None:
            raise InvalidInputError(f"CommitmentBatch.proof: {participant} is not in the batch")
        return [Hash32(p) for p in self.tree.proof(found.leaf)]

    def verify(self, domain: FedTaskDomain) -> None:
        """Check that every commitment was signed by its participant (what auditors do).

        Parameters
        ----------
        domain : FedTaskDomain
            The FedTask deployment.

        Raises
        ------
        SignatureError
            A signature is malformed or by someone else.
        """
        for signed in self.commitments:
            signer = recover_commitment_signer(domain, signed)
            if signer.lower() != signed.participant.lower():
                raise SignatureError(
                    f"CommitmentBatch.verify: the commitment of {signed.participant} "
                    f"is signed by {signer}"
                )

    def to_dict(self) -> dict[str, Any]:
        """The batch document (JSON-ready): every leaf with its signature, and the root."""
        return {
            "version": BATCH_DOCUMENT_VERSION,
            "task_id": self.task_id,
            "round": self.round,
            "root": "0x" + self.root.hex(),
            "commitments": [
                {
                    "participant": c.participant,
                    "update_hash": "0x" + c.commitment.update_hash.hex(),
                    "samples": c.commitment.samples,
                    "signature": "0x" + c.signature.hex(),
                }
                for c in self.commitments
            ],
        }

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> CommitmentBatch:
        """Rebuild a batch from its document, checking that its root is the one recomputed.

        Parameters
        ----------
        document : mapping
            What :meth:`to_dict` wrote.

        Raises
        ------
        InvalidInputError
            The document is malformed or of another version.
        IntegrityError
            Its ``root`` differs from the root of its leaves.
        """
        try:
            if int(document["version"]) != BATCH_DOCUMENT_VERSION:
                raise InvalidInputError(f"version {document['version']} is not supported")
            task_id, round_ = TaskId(int(document["task_id"])), Round(int(document["round"]))
            signed = [
                SignedCommitment(
                    _address(str(c["participant"]), "participant"),
                    UpdateCommitment(task_id, round_, _hex32(c["update_hash"]), int(c["samples"])),
                    bytes.fromhex(str(c["signature"]).removeprefix("0x")),
                )
                for c in document["commitments"]
            ]
            root = _hex32(document["root"])
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInputError(
                f"CommitmentBatch.from_dict: malformed document: {exc}"
            ) from None
        batch = cls.build(signed)
        if batch.root != root:
            raise IntegrityError("CommitmentBatch.from_dict: root differs from its leaves' root")
        return batch


def _hex32(value: Any) -> Hash32:
    return _hash32(bytes.fromhex(str(value).removeprefix("0x")), "hex32")


@dataclass(frozen=True)
class Claim:
    """One round's claim of one account: what ``claimRewards`` and ``claimMany`` take.

    Attributes
    ----------
    round : Round
        The round.
    amount : Wei
        The amount in the account's leaf.
    proof : tuple of Hash32
        The Merkle proof of the leaf.
    """

    round: Round
    amount: Wei
    proof: tuple[Hash32, ...]


@dataclass(frozen=True)
class RewardTree:
    """The rewards of one round as a Merkle tree of ``(taskId, round, account, amount)`` leaves.

    Its ``root`` and ``budget`` go into the round's ``Finalization``; each account claims with
    :meth:`claim_for`. A round that pays nothing has no tree: its root is zero, as the contract
    requires of a zero budget.

    Attributes
    ----------
    task_id : TaskId
        The task.
    round : Round
        The round.
    amounts : tuple of (Address, Wei)
        The positive rewards, in the order given.
    tree : MerkleTree or None
        The tree of their leaves (``None`` when nobody is paid).
    """

    task_id: TaskId
    round: Round
    amounts: tuple[tuple[Address, Wei], ...]
    tree: MerkleTree | None

    @classmethod
    def build(cls, task_id: int, round: int, amounts: Mapping[str, int]) -> RewardTree:
        """The tree of ``amounts`` (zero amounts are left out: nothing to claim).

        Parameters
        ----------
        task_id : int
            The task.
        round : int
            The round.
        amounts : mapping of str to int
            ``account -> reward in wei``; each account once (any case).

        Raises
        ------
        InvalidInputError
            A negative amount, a malformed address, or an account twice.
        """
        paid: list[tuple[Address, Wei]] = []
        for account, amount in amounts.items():
            if amount < 0:
                raise InvalidInputError(f"RewardTree.build: negative amount for {account}")
            if amount:
                paid.append((_address(account, "RewardTree.build"), Wei(int(amount))))
        if len({a for a, _ in paid}) != len(paid):
            raise InvalidInputError("RewardTree.build: an account appears twice")
        leaves = [reward_leaf(task_id, round, a, w) for a, w in paid]
        tree = MerkleTree.build(leaves) if leaves else None
        return cls(TaskId(task_id), Round(round), tuple(paid), tree)

    @property
    def root(self) -> Hash32:
        """The ``rewardsRoot`` (zero when nobody is paid)."""
        return Hash32(self.tree.root) if self.tree else ZERO_HASH

    @property
    def budget(self) -> Wei:
        """The sum of the rewards: the round's ``budget``."""
        return Wei(sum(w for _, w in self.amounts))

    def amount_of(self, account: str) -> Wei:
        """``account``'s reward (0 when it has none).

        Parameters
        ----------
        account : str
            The address (any case).
        """
        wanted = account.lower()
        return next((w for a, w in self.amounts if a.lower() == wanted), Wei(0))

    def claim_for(self, account: str) -> Claim:
        """``account``'s :class:`Claim`: its amount and the proof of its leaf.

        Parameters
        ----------
        account : str
            The address.

        Raises
        ------
        InvalidInputError
            ``account`` is not paid in this round.
        """
        amount = self.amount_of(account)
        if self.tree is None or not amount:
            raise InvalidInputError(f"RewardTree.claim_for: {account} has no reward")
        leaf = reward_leaf(self.task_id, self.round, to_checksum_address(account), amount)
        proof = tuple(Hash32(p) for p in self.tree.proof(leaf))
        return Claim(self.round, amount, proof)


def encode_shares(bps: Sequence[int]) -> bytes:
    """The last round's ``bytes shares``: one big-endian ``uint16`` per participant.

    Parameters
    ----------
    bps : sequence of int
        Basis points per participant in join order, summing to exactly 10,000.

    Raises
    ------
    InvalidInputError
        An entry outside 0..10,000, or a sum other than 10,000 (the contract would revert
        ``TaskSharesInvalid``).
    """
    if any(not 0 <= b <= BPS for b in bps):
        raise InvalidInputError("encode_shares: every share must be in 0..10,000 basis points")
    if sum(bps) != BPS:
        raise InvalidInputError(f"encode_shares: shares sum to {sum(bps)}, not {BPS}")
    return b"".join(int(b).to_bytes(2, "big") for b in bps)


def decode_shares(data: bytes) -> list[int]:
    """Basis points per participant from packed ``bytes shares`` (empty bytes: no shares).

    Parameters
    ----------
    data : bytes
        Big-endian ``uint16`` entries, as in ``TaskCompleted`` or ``ChallengeOpened``.

    Raises
    ------
    InvalidInputError
        An odd number of bytes.
    """
    if len(data) % 2:
        raise InvalidInputError(f"decode_shares: {len(data)} bytes is not whole uint16 entries")
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]


@dataclass(frozen=True)
class RoundBallot:
    """A participant's vote in a round's trusted-participant election (checked off-chain only).

    Attributes
    ----------
    task_id : TaskId
        The task.
    round : Round
        The round.
    scores_hash : Hash32
        ``keccak256`` of the canonical JSON of the voter's scores, by update hash.
    """

    task_id: TaskId
    round: Round
    scores_hash: Hash32

    _FIELDS = [
        {"name": "taskId", "type": "uint256"},
        {"name": "round", "type": "uint32"},
        {"name": "scoresHash", "type": "bytes32"},
    ]

    def typed_data(self, domain: FedTaskDomain) -> dict[str, Any]:
        """The EIP-712 JSON of this ballot under ``domain``."""
        message = {"taskId": self.task_id, "round": self.round, "scoresHash": self.scores_hash}
        return domain.typed_data("RoundBallot", self._FIELDS, message)


def sign_ballot(voter: LocalAccount, domain: FedTaskDomain, ballot: RoundBallot) -> bytes:
    """The voter's 65-byte EIP-712 signature of ``ballot``."""
    return sign_typed_data(voter, ballot.typed_data(domain))


def recover_ballot_signer(domain: FedTaskDomain, ballot: RoundBallot, signature: bytes) -> Address:
    """The account that signed ``ballot`` (raises ``SignatureError`` when it is malformed)."""
    return recover_typed_data(ballot.typed_data(domain), signature)


__all__ = [
    "BPS",
    "DOMAIN_NAME",
    "DOMAIN_VERSION",
    "INVITATION_TYPE",
    "INVITATION_TYPEHASH",
    "UPDATE_COMMITMENT_TYPE",
    "UPDATE_COMMITMENT_TYPEHASH",
    "ZERO_HASH",
    "Claim",
    "CommitmentBatch",
    "FedTaskDomain",
    "Invitation",
    "RewardTree",
    "RoundBallot",
    "SignedCommitment",
    "SignedInvitation",
    "UpdateCommitment",
    "commitment_leaf",
    "decode_shares",
    "encode_shares",
    "recover_ballot_signer",
    "recover_commitment_signer",
    "recover_invitation_signer",
    "reward_leaf",
    "sign_ballot",
    "sign_commitment",
    "sign_invitation",
]
