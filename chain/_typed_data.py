"""EIP-712 typed data: domains, signing, and recovery with the contracts' own rules.

The contracts recover signers with OpenZeppelin's ``ECDSA.tryRecover``, which takes a 65-byte
``r || s || v`` signature with ``v`` in {27, 28} and ``s`` in the lower half of the curve order, and
reports anything else as malformed. :func:`recover_typed_data` applies the same rules, so a
signature it accepts is one the contract accepts, and a relayer can check a signature before
spending gas on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_keys.exceptions import BadSignature
from eth_utils.exceptions import ValidationError

from chain.errors import ChainError
from kernel.errors import InvalidInputError
from kernel.types import Address

EIP712_DOMAIN_TYPE: list[dict[str, str]] = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]
"""The ``EIP712Domain`` fields every fedmarket contract uses (no salt)."""

SECP256K1_HALF_ORDER = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0
"""The largest ``s`` OpenZeppelin's ECDSA accepts (EIP-2: no malleable signatures)."""


class SignatureError(ChainError, InvalidInputError):
    """A signature is malformed, or was not made by whom, or for what, it should have been."""


def typed_domain(name: str, version: str, chain_id: int, verifying_contract: str) -> dict[str, Any]:
    """An EIP-712 domain as ``encode_typed_data`` expects it.

    Parameters
    ----------
    name : str
        The domain's name, e.g. ``"FedMarket DatasetRegistry"``.
    version : str
        The domain's version, e.g. ``"2"``.
    chain_id : int
        The chain the contract lives on.
    verifying_contract : str
        The contract that verifies the signature.
    """
    return {
        "name": name,
        "version": version,
        "chainId": chain_id,
        "verifyingContract": verifying_contract,
    }


def sign_typed_data(account: LocalAccount, full_message: Mapping[str, Any]) -> bytes:
    """``account``'s 65-byte ``r || s || v`` signature of an EIP-712 message.

    Parameters
    ----------
    account : LocalAccount
        The signer's key.
    full_message : Mapping
        ``types``, ``primaryType``, ``domain`` and ``message``.
    """
    signable = encode_typed_data(full_message=dict(full_message))
    return bytes(account.sign_message(signable).signature)


def recover_typed_data(full_message: Mapping[str, Any], signature: bytes) -> Address:
    """The address that signed an EIP-712 message, under the contracts' rules.

    Parameters
    ----------
    full_message : Mapping
        ``types``, ``primaryType``, ``domain`` and ``message``.
    signature : bytes
        The 65-byte ``r || s || v`` signature.

    Raises
    ------
    SignatureError
        When the signature is not 65 bytes, ``v`` is not 27 or 28, ``s`` is in the upper half of
        the curve order, or no key recovers from it (the contract reports each as signer 0).
    """
    if len(signature) != 65:
        raise SignatureError(f"signature: {len(signature)} bytes, expected 65")
    if signature[64] not in (27, 28):
        raise SignatureError(f"signature: v is {signature[64]}, expected 27 or 28")
    if int.from_bytes(signature[32:64], "big") > SECP256K1_HALF_ORDER:
        raise SignatureError("signature: s is in the upper half of the curve order")
    signable = encode_typed_data(full_message=dict(full_message))
    try:
        return Address(Account.recover_message(signable, signature=signature))
    except (BadSignature, ValidationError, ValueError) as exc:
        raise SignatureError(f"signature: no key recovers from it ({exc})") from None
