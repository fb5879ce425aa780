"""The buyer's side of a paid download: unwrap the key, open the envelope, check the bytes.

Nothing the service says is taken on trust: the envelope must be the CID granted, the key is
unwrapped and the envelope opened with associated data the buyer computes itself
(:class:`~marketplace_api.content.vault.ArtifactRef` from the chain id, the contract, the item
and its own address), and the plaintext must hash to what the chain recorded (for a model, the
final model hash FedTask holds). The private key never leaves the process.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marketplace_api.content.errors import GrantMismatchError
from marketplace_api.content.vault import ArtifactRef
from storage import compute_cid, content_hash
from storage.sealing import open_sealed, unwrap_key


def _field(grant: Mapping[str, Any], name: str) -> Any:
    try:
        return grant[name]
    except KeyError:
        raise GrantMismatchError(f"the grant has no {name}") from None


def check_grant(grant: Mapping[str, Any], expected: ArtifactRef, recipient: str) -> None:
    """Raise :class:`GrantMismatchError` unless ``grant`` is for this item and this buyer.

    Parameters
    ----------
    grant : Mapping
        ``GET /{models,datasets}/{id}/content``'s answer.
    expected : ArtifactRef
        The item, named from the buyer's own knowledge of the chain.
    recipient : str
        The buyer's address.
    """
    named = (
        _field(grant, "kind"),
        _field(grant, "chain_id"),
        _field(grant, "contract"),
        _field(grant, "id"),
        _field(grant, "recipient"),
    )
    wanted = (expected.kind, expected.chain_id, expected.contract, expected.item_id, recipient)
    if named != wanted:
        raise GrantMismatchError(f"the grant is for {named}, not for {wanted}")


def open_grant(
    grant: Mapping[str, Any],
    envelope: bytes,
    private_key: bytes,
    *,
    expected: ArtifactRef,
    recipient: str,
    expected_hash: bytes,
) -> bytes:
    """The plaintext of a paid item, checked against the hash recorded on-chain.

    Parameters
    ----------
    grant : Mapping
        The service's grant (CID and wrapped key).
    envelope : bytes
        The sealed envelope (from the service or straight from IPFS).
    private_key : bytes
        The buyer's 32-byte secp256k1 key (the account that signed in).
    expected : ArtifactRef
        The item, named from the buyer's own knowledge of the chain.
    recipient : str
        The buyer's address.
    expected_hash : bytes
        keccak-256 the plaintext must have (read from the chain).

    Raises
    ------
    GrantMismatchError
        The grant is for another item or buyer, the envelope is not the CID granted, or the
        plaintext does not hash to ``expected_hash``.
    SealedDataError
        The key does not unwrap with ``private_key`` or the envelope does not open.
    """
    check_grant(grant, expected, recipient)
    if compute_cid(envelope) != _field(grant, "cid"):
        raise GrantMismatchError("the envelope is not the CID granted")
    wrapped_hex = str(_field(grant, "wrapped_key"))
    try:
        wrapped = bytes.fromhex(wrapped_hex.removeprefix("0x"))
    except ValueError:
        raise GrantMismatchError("the wrapped key is not hex") from None
    key = unwrap_key(wrapped, private_key, context=expected.key_context(recipient))
    plaintext = open_sealed(envelope, key, purpose=expected.purpose)
    actual = content_hash(plaintext)
    if actual != bytes(expected_hash):
        raise GrantMismatchError(
            f"the content hashes to 0x{actual.hex()}, not to 0x{bytes(expected_hash).hex()} "
            "recorded on-chain"
        )
    return plaintext


__all__ = ["check_grant", "open_grant"]
