"""Content-addressed storage shared by every part of fedmarket (a floor above the kernel).

Objects are named by their IPFS CID (CIDv1, raw leaves, sha2-256), computed locally exactly as an
IPFS node computes it. Two backends implement the :class:`ContentStore` interface:
:class:`LocalCidStore` (the embedded default, a folder) and :class:`IpfsStore` (an IPFS daemon
through its RPC API, whose answers are checked against the local computation). Stores pin what
must be kept. On-chain anchors are keccak-256 of the stored bytes (:func:`content_hash`).
Artifacts sold encrypted are sealed with :mod:`storage.sealing`. Imports only the kernel.
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
from storage.ipfs import IpfsClient, IpfsStore, RetryPolicy
from storage.local import LocalCidStore

__all__ = [
    "DEFAULT_MAX_BYTES",
    "ContentIntegrityError",
    "ContentNotFoundError",
    "ContentTooLargeError",
    "ContentStore",
    "InvalidCidError",
    "IpfsClient",
    "IpfsStore",
    "LocalCidStore",
    "RetryPolicy",
    "StoreError",
    "StoreProtocolError",
    "StoreUnavailableError",
    "canonical_json",
    "compute_cid",
    "content_hash",
    "validate_cid",
]
