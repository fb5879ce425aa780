"""The master key that seals content keys at rest, and the names content is bound to.

Each item's content key is sealed with :func:`storage.sealing.seal` (AES-256-GCM) under the
service's master key, bound to the item and its envelope's CID, so a sealed key copied to
another row does not open. A key id (a fingerprint of the master key, not the key) is kept
with each sealed key, so a rotated master key is reported as such instead of as tampering.

:class:`ArtifactRef` names an item the same way on both sides: the envelope's purpose (its
associated data) and the wrapped key's context bind them to the chain, the contract, the item
and the buyer, and the buyer recomputes both instead of trusting what the service says.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Final, Literal

from kernel.errors import ConfigurationError
from marketplace_api.content.errors import VaultError
from marketplace_api.core.config import DEVELOPMENT_MASTER_KEY
from storage.errors import InvalidKeyError, SealedDataError
from storage.sealing import KEY_BYTES, open_sealed, seal

ArtifactKind = Literal["model", "dataset"]
"""What is sold: a model (ModelMarket) or a downloadable dataset (DatasetRegistry)."""

_KEY_ID_DOMAIN: Final = b"fedmarket content master key id v1"


@dataclass(frozen=True)
class ArtifactRef:
    """One sold item, as both the service and the buyer name it.

    Attributes
    ----------
    kind : {"model", "dataset"}
        What is sold.
    chain_id : int
        The chain.
    contract : str
        The ModelMarket (models) or DatasetRegistry (datasets) address, checksummed.
    item_id : int
        The listing's id in that contract.
    """

    kind: ArtifactKind
    chain_id: int
    contract: str
    item_id: int

    @property
    def purpose(self) -> str:
        """The associated data of the item's sealed envelope."""
        return f"fedmarket:{self.kind}:{self.chain_id}:{self.contract}:{self.item_id}"

    def key_context(self, recipient: str) -> str:
        """The associated data of the content key wrapped to ``recipient`` (an address)."""
        return f"{self.purpose}:key-for:{recipient}"

    def vault_context(self, cid: str) -> str:
        """The associated data of the content key sealed under the master key."""
        return f"{self.purpose}:vault:{cid}"


class KeyVault:
    """Seals and opens content keys under the service's master key.

    Parameters
    ----------
    master_key : bytes
        32 bytes (``FEDMARKET_API_CONTENT_MASTER_KEY``). Never logged or shown.

    Raises
    ------
    ConfigurationError
        When the key is not 32 bytes.
    """

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != KEY_BYTES:
            raise ConfigurationError(f"KeyVault: a master key is {KEY_BYTES} bytes")
        self._master_key = bytes(master_key)
        self.key_id = hashlib.sha256(_KEY_ID_DOMAIN + self._master_key).hexdigest()[:16]

    def __repr__(self) -> str:
        return f"KeyVault(key_id={self.key_id})"

    @classmethod
    def development(cls) -> KeyVault:
        """A vault under the public development master key (embedded services, tests, demos).

        Anyone can open what it seals: settings refuse this key in production.
        """
        return cls(bytes.fromhex(DEVELOPMENT_MASTER_KEY))

    def seal_key(self, content_key: bytes, *, context: str) -> bytes:
        """Seal a content key under the master key, bound to ``context``.

        Parameters
        ----------
        content_key : bytes
            The item's 32-byte content key.
        context : str
            :meth:`ArtifactRef.vault_context` of the item.
        """
        return seal(content_key, self._master_key, purpose=context)

    def open_key(self, sealed: bytes, *, key_id: str, context: str) -> bytes:
        """Open a content key sealed by :meth:`seal_key`.

        Parameters
        ----------
        sealed : bytes
            The sealed key.
        key_id : str
            The id of the master key it was sealed under.
        context : str
            The context it was sealed with.

        Raises
        ------
        VaultError
            Sealed under another master key, or damaged, or for another item.
        """
        if key_id != self.key_id:
            raise VaultError(
                f"the content key was sealed under master key {key_id}, "
                f"the service holds {self.key_id}"
            )
        try:
            return open_sealed(sealed, self._master_key, purpose=context)
        except (SealedDataError, InvalidKeyError):
            raise VaultError("a stored content key does not open (damaged or moved)") from None


__all__ = ["ArtifactKind", "ArtifactRef", "KeyVault"]
