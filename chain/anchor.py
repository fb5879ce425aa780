"""On-chain anchors of 32-byte roots, without a contract: a tagged transaction to oneself.

An anchor is a zero-value transaction from the signer to its own address whose calldata is a
versioned tag, ``b"FMAN" || version (1 byte) || kind (32 bytes) || root (32 bytes)``. Sending
to an account runs no code, so any chain takes it, and the chain keeps the calldata, the sender
and the block's timestamp for good: anyone holding the root, the transaction hash and an RPC
endpoint can check that this sender committed to this root no later than that block
(:func:`verify_anchor`). The *kind* says what the root is (``anchor_kind("access-log")``,
``anchor_kind("deletion")``), so a root anchored for one purpose is not taken for another.

An anchor proves existence and authorship at a time, not uniqueness: the same sender may anchor
other roots of the same kind later; what a root commits to is for the caller to check.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from eth_utils.address import is_address, to_checksum_address
from web3.exceptions import TransactionNotFound

from chain.backends import ChainBackend
from chain.errors import AnchorMismatchError, AnchorNotFoundError
from chain.signer import Signer
from kernel.alerts import raise_alert
from kernel.errors import InvalidInputError
from kernel.types import Address

log = logging.getLogger(__name__)

ANCHOR_MAGIC = b"FMAN"
"""The first four bytes of every anchor's calldata."""
ANCHOR_VERSION = 1
"""The calldata layout's version (one byte after the magic)."""
ANCHOR_CALLDATA_BYTES = len(ANCHOR_MAGIC) + 1 + 32 + 32


@dataclass(frozen=True)
class AnchorRecord:
    """Where a root was anchored: enough to find the transaction again and check it.

    Attributes
    ----------
    tx_hash : str
        ``0x``-prefixed transaction hash.
    block : int
        The block it was mined in.
    sender : Address
        Checksummed address that sent (hence signed) it.
    kind : bytes
        32 bytes saying what the root is (see :func:`anchor_kind`).
    root : bytes
        The 32-byte root anchored.
    chain_id : int
        The chain it was mined on.
    """

    tx_hash: str
    block: int
    sender: Address
    kind: bytes
    root: bytes
    chain_id: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (bytes as ``0x`` hex)."""
        return {
            "tx_hash": self.tx_hash,
            "block": self.block,
            "sender": self.sender,
            "kind": "0x" + self.kind.hex(),
            "root": "0x" + self.root.hex(),
            "chain_id": self.chain_id,
        }

    @classmethod
    def from_dict(cls, data: Any) -> AnchorRecord:
        """Parse :meth:`to_dict`'s form.

        Raises
        ------
        InvalidInputError
            A field is missing or malformed.
        """
        try:
            record = cls(
                tx_hash=str(data["tx_hash"]),
                block=int(data["block"]),
                sender=Address(to_checksum_address(str(data["sender"]))),
                kind=bytes.fromhex(str(data["kind"]).removeprefix("0x")),
                root=bytes.fromhex(str(data["root"]).removeprefix("0x")),
                chain_id=int(data["chain_id"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInputError(f"anchor record: malformed ({exc})") from None
        _check_word("kind", record.kind)
        _check_word("root", record.root)
        return record


def _check_word(name: str, value: bytes) -> None:
    if len(value) != 32:
        raise InvalidInputError(f"anchor: {name} must be 32 bytes, not {len(value)}")


def anchor_kind(name: str) -> bytes:
    """The 32-byte kind for ``name``: its ASCII bytes, zero-padded (readable on an explorer).

    Parameters
    ----------
    name : str
        At most 32 ASCII characters, e.g. ``"access-log"``.
    """
    raw = name.encode("ascii", errors="replace")
    if not name or len(raw) > 32 or not name.isascii():
        raise InvalidInputError(f"anchor kind {name!r}: 1 to 32 ASCII characters")
    return raw.ljust(32, b"\0")


def encode_anchor(kind: bytes, root: bytes) -> bytes:
    """The calldata that anchors ``root`` under ``kind``.

    Parameters
    ----------
    kind : bytes
        32 bytes.
    root : bytes
        32 bytes.
    """
    _check_word("kind", kind)
    _check_word("root", root)
    return ANCHOR_MAGIC + bytes([ANCHOR_VERSION]) + kind + root


def decode_anchor(calldata: bytes) -> tuple[bytes, bytes]:
    """``(kind, root)`` from an anchor's calldata.

    Raises
    ------
    AnchorMismatchError
        The calldata is not a version-1 anchor.
    """
    if len(calldata) != ANCHOR_CALLDATA_BYTES or not calldata.startswith(ANCHOR_MAGIC):
        raise AnchorMismatchError("anchor: the transaction's calldata is not an anchor tag")
    if calldata[4] != ANCHOR_VERSION:
        raise AnchorMismatchError(f"anchor: unsupported anchor version {calldata[4]}")
    return calldata[5:37], calldata[37:69]


def anchor(signer: Signer, kind: bytes, root: bytes) -> AnchorRecord:
    """Anchor ``root`` on-chain from ``signer``'s account and wait for it to be mined.

    Parameters
    ----------
    signer : Signer
        Whose account sends (and pays the gas of) the zero-value transaction to itself.
    kind : bytes
        32 bytes saying what the root is (:func:`anchor_kind`).
    root : bytes
        The 32-byte root.

    Raises
    ------
    InvalidInputError
        ``kind`` or ``root`` is not 32 bytes.
    FundingError
        The account cannot pay the gas.
    """
    calldata = encode_anchor(kind, root)
    result = signer.send_value(signer.address, 0, data=calldata, label="anchor")
    log.info("anchor: root %s anchored in block %d", root.hex(), result.block_number)
    return AnchorRecord(
        tx_hash=result.tx_hash,
        block=result.block_number,
        sender=Address(signer.address),
        kind=kind,
        root=root,
        chain_id=signer.backend.chain_id,
    )


def verify_anchor(backend: ChainBackend, record: AnchorRecord) -> int:
    """Re-read the anchor's transaction and check it; return its block's timestamp.

    Checks that the transaction is on ``backend``'s chain, mined and successful in
    ``record.block``, sent by ``record.sender`` to itself with no value, and that its calldata
    anchors ``record.root`` under ``record.kind``. A mismatch fires a breach alert
    (``integrity_failure``, :mod:`kernel.alerts`).

    Parameters
    ----------
    backend : ChainBackend
        The chain to read.
    record : AnchorRecord
        What the anchor is claimed to be.

    Raises
    ------
    AnchorNotFoundError
        No such transaction on this chain, or it is not mined.
    AnchorMismatchError
        The transaction differs from the record (another chain, sender, block, root or kind).
    """
    try:
        _check_anchor_tx(backend, record)
        block = backend.w3.eth.get_block(record.block)
    except AnchorMismatchError as exc:
        raise_alert("integrity_failure", str(exc), source=__name__)
        raise
    return int(block["timestamp"])


def _check_anchor_tx(backend: ChainBackend, record: AnchorRecord) -> None:
    if backend.chain_id != record.chain_id:
        raise AnchorMismatchError(
            f"anchor: recorded on chain {record.chain_id}, this chain is {backend.chain_id}"
        )
    w3 = backend.w3
    try:
        tx = w3.eth.get_transaction(record.tx_hash)  # type: ignore[arg-type]
        receipt = w3.eth.get_transaction_receipt(record.tx_hash)  # type: ignore[arg-type]
    except TransactionNotFound:
        raise AnchorNotFoundError(f"anchor: no mined transaction {record.tx_hash}") from None
    sender = str(tx["from"])
    to = tx.get("to")
    if not is_address(sender) or to is None or to_checksum_address(str(to)) != sender:
        raise AnchorMismatchError(f"anchor: {record.tx_hash} is not a transaction to oneself")
    if str(to_checksum_address(sender)) != str(record.sender):
        raise AnchorMismatchError(f"anchor: sent by {sender}, not by {record.sender}")
    if int(receipt["status"]) != 1 or int(tx.get("value", 0)) != 0:
        raise AnchorMismatchError(f"anchor: {record.tx_hash} failed or carried value")
    if int(receipt["blockNumber"]) != record.block:
        raise AnchorMismatchError(
            f"anchor: mined in block {int(receipt['blockNumber'])}, not {record.block}"
        )
    kind, root = decode_anchor(bytes(tx["input"]))
    if (kind, root) != (record.kind, record.root):
        raise AnchorMismatchError(
            f"anchor: {record.tx_hash} anchors root {root.hex()} of kind {kind.hex()}, "
            f"not {record.root.hex()} of kind {record.kind.hex()}"
        )


__all__ = [
    "ANCHOR_MAGIC",
    "ANCHOR_VERSION",
    "AnchorRecord",
    "anchor",
    "anchor_kind",
    "decode_anchor",
    "encode_anchor",
    "verify_anchor",
]
