"""What the anchoring adds to Flower's messages, as typed records with their ConfigRecord form.

The server's train instructions carry a :class:`RoundAnchor` (the task, the round, the hash of the
global model the round opened with on-chain, the EIP-712 domain the client signs under, the
tensors an update carries); each client's reply carries a :class:`SignedUpdate` (its signed
commitment, the update's CID and the update's bytes in fedmarket's own encoding). Both travel as
one :class:`~flwr.app.ConfigRecord` under :data:`ANCHOR_KEY`, beside the app's own records.
"""

from __future__ import annotations

from dataclasses import dataclass

from flwr.app import ConfigRecord

from chain.commitments import FedTaskDomain, SignedCommitment, UpdateCommitment
from fl_node.errors import UpdateRejectedError
from fl_node.mailbox import CommitmentEnvelope
from kernel.types import Address, Cid, Hash32, Round, TaskId

ANCHOR_KEY = "fedmarket"
"""Name of the ConfigRecord the anchoring adds to train instructions and replies."""


def _field(record: ConfigRecord, key: str, kind: type) -> object:
    """``record[key]`` when it holds a ``kind``; else ``UpdateRejectedError("malformed")``."""
    value = record.get(key)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise UpdateRejectedError("malformed", f"anchor field {key!r} is not a {kind.__name__}")
    return value


def _int(record: ConfigRecord, key: str) -> int:
    """An int field."""
    value = _field(record, key, int)
    assert isinstance(value, int)
    return value


def _str(record: ConfigRecord, key: str) -> str:
    """A str field."""
    return str(_field(record, key, str))


def _bytes(record: ConfigRecord, key: str) -> bytes:
    """A bytes field."""
    value = _field(record, key, bytes)
    assert isinstance(value, bytes)
    return value


@dataclass(frozen=True)
class RoundAnchor:
    """What a client needs to build and sign its update of an anchored round.

    Attributes
    ----------
    task_id : int
        The FedTask task.
    round : int
        The on-chain round (Flower's server round).
    base_model_hash : str
        0x-hex keccak-256 of the global model's bytes the round opened with.
    chain_id : int
        The chain's id (EIP-712 domain).
    verifying_contract : str
        The FedTask contract (EIP-712 domain).
    strategy : str
        The task's strategy name, written in the update's metadata.
    trainable : tuple of str
        The model's trainable tensors: an update carries their deltas, never the buffers.
    """

    task_id: int
    round: int
    base_model_hash: str
    chain_id: int
    verifying_contract: str
    strategy: str
    trainable: tuple[str, ...]

    @property
    def domain(self) -> FedTaskDomain:
        """The EIP-712 domain of the task's contract."""
        return FedTaskDomain(self.chain_id, Address(self.verifying_contract))

    def to_record(self) -> ConfigRecord:
        """The anchor as a ConfigRecord."""
        return ConfigRecord(
            {
                "task-id": self.task_id,
                "round": self.round,
                "base-model-hash": self.base_model_hash,
                "chain-id": self.chain_id,
                "verifying-contract": self.verifying_contract,
                "strategy": self.strategy,
                "trainable": list(self.trainable),
            }
        )

    @classmethod
    def from_record(cls, record: ConfigRecord) -> RoundAnchor:
        """Parse :meth:`to_record`'s output."""
        trainable = record.get("trainable")
        if not isinstance(trainable, list) or not all(isinstance(t, str) for t in trainable):
            raise UpdateRejectedError("malformed", "anchor field 'trainable' is not a list of str")
        return cls(
            task_id=_int(record, "task-id"),
            round=_int(record, "round"),
            base_model_hash=_str(record, "base-model-hash"),
            chain_id=_int(record, "chain-id"),
            verifying_contract=_str(record, "verifying-contract"),
            strategy=_str(record, "strategy"),
            trainable=tuple(str(t) for t in trainable),
        )


@dataclass(frozen=True)
class SignedUpdate:
    """A client's anchored update: its signed commitment, the CID of its bytes, and the bytes.

    Attributes
    ----------
    signed : SignedCommitment
        The participant's EIP-712 commitment (task, round, update hash, samples) and signature.
    cid : Cid
        The CID of ``blob``, as the participant declares it.
    blob : bytes
        The update in fedmarket's encoding (:func:`fl_node.serialization.encode_update`).
    """

    signed: SignedCommitment
    cid: Cid
    blob: bytes

    @property
    def envelope(self) -> CommitmentEnvelope:
        """The commitment as a mailbox envelope (for the coordinator's batch)."""
        return CommitmentEnvelope(self.signed, self.cid)

    def to_record(self) -> ConfigRecord:
        """The update as a ConfigRecord."""
        c = self.signed.commitment
        return ConfigRecord(
            {
                "participant": str(self.signed.participant),
                "task-id": int(c.task_id),
                "round": int(c.round),
                "update-hash": bytes(c.update_hash),
                "samples": int(c.samples),
                "signature": bytes(self.signed.signature),
                "cid": str(self.cid),
                "update": self.blob,
            }
        )

    @classmethod
    def from_record(cls, record: ConfigRecord) -> SignedUpdate:
        """Parse :meth:`to_record`'s output (``UpdateRejectedError("malformed")`` otherwise)."""
        commitment = UpdateCommitment(
            TaskId(_int(record, "task-id")),
            Round(_int(record, "round")),
            Hash32(_bytes(record, "update-hash")),
            _int(record, "samples"),
        )
        signed = SignedCommitment(
            Address(_str(record, "participant")),
            commitment,
            _bytes(record, "signature"),
        )
        return cls(
            signed,
            Cid(_str(record, "cid")),
            _bytes(record, "update"),
        )


__all__ = ["ANCHOR_KEY", "RoundAnchor", "SignedUpdate"]
