"""Content-addressed storage shared by every part of fedmarket (a floor above the kernel).

Objects are named by their IPFS CID (CIDv1, raw leaves, sha2-256), computed locally exactly as an
IPFS node computes it. The one backend today keeps them in a folder (:class:`LocalCidStore`, the
embedded default); a client of an IPFS daemon is still to come, behind the same
:class:`ContentStore` interface. On-chain anchors are keccak-256 of the stored bytes
(:func:`content_hash`). Imports only the kernel.
"""

from storage.base import (
    DEFAULT_MAX_BYTES,
    ContentStore,
    canonical_json,
    compute_cid,
    content_hash,
    validate_cid,
)
from storage.errors import (
    ContentIntegrityError,
    ContentNotFoundError,
    ContentTooLargeError,
    InvalidCidError,
    StoreError,
    StoreProtocolError,
    StoreUnavailableError,
)
from storage.local import LocalCidStore

__all__ = [
    "DEFAULT_MAX_BYTES",
    "ContentIntegrityError",
    "ContentNotFoundError",
    "ContentTooLargeError",
    "ContentStore",
    "InvalidCidError",
    "LocalCidStore",
    "StoreError",
    "StoreProtocolError",
    "StoreUnavailableError",
    "canonical_json",
    "compute_cid",
    "content_hash",
    "validate_cid",
]
