"""Authenticated mask keys: each party signs its X25519 public key with its on-chain key.

Without this, the coordinator, which relays the public keys, could hand each party a key of
its own and unmask both. A party signs ``key_statement(role, key, context)`` (EIP-191
``personal_sign``) with the Ethereum key it joined the task with; the other party recovers the
signer and accepts the key only if it is the address the chain lists in that role.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from fl_node.transfer.errors import TransferProtocolError

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

STATEMENT_TAG = b"fedmarket-ftl-mask-key-v1"


def key_statement(role: str, key: bytes, context: bytes) -> bytes:
    """What a party signs: tag, its role, the task context and its X25519 public key."""
    return b"|".join([STATEMENT_TAG, role.encode(), context.hex().encode(), key.hex().encode()])


class EthKeyAuthenticator:
    """Signs with one party's Ethereum key; verifies against the task's role addresses.

    Parameters
    ----------
    account : LocalAccount
        This party's key (the one it joined the task with).
    addresses : mapping of str to str
        Role (``"target"``, ``"source"``) -> the address the chain lists for it.
    """

    def __init__(self, account: LocalAccount, addresses: Mapping[str, str]) -> None:
        self._account = account
        self.addresses = {role: address.lower() for role, address in addresses.items()}

    def sign(self, statement: bytes) -> bytes:
        """The 65-byte EIP-191 signature of ``statement``."""
        from eth_account.messages import encode_defunct

        return bytes(self._account.sign_message(encode_defunct(primitive=statement)).signature)

    def verify(self, statement: bytes, signature: bytes, role: str) -> None:
        """Accept ``signature`` only from the address of ``role``.

        Raises
        ------
        TransferProtocolError
            The signature is malformed or from anyone else.
        """
        from eth_account import Account
        from eth_account.messages import encode_defunct

        expected = self.addresses.get(role)
        try:
            signer = Account.recover_message(
                encode_defunct(primitive=statement), signature=signature
            )
        except Exception as exc:  # eth_account raises several unrelated types on bad bytes
            raise TransferProtocolError(f"verify: malformed signature of the {role}'s key") from exc
        if expected is None or signer.lower() != expected:
            raise TransferProtocolError(
                f"verify: the {role}'s mask key is not signed by the {role}"
            )


__all__ = ["STATEMENT_TAG", "EthKeyAuthenticator", "key_statement"]
