"""Paid content: models and downloadable datasets sold sealed, keys wrapped to their buyers.

Each item is sealed (AES-256-GCM) under its own content key and stored in the content store
(IPFS when configured), pinned; the service keeps the content key sealed under its master key.
A licensed buyer (``hasLicence`` on-chain) gets the key wrapped (ECIES) to the public key it
signed in with and decrypts locally.

Public surface::

    ContentService, Upload              # the server side (routes call it)
    KeyVault, ArtifactRef               # master-key sealing; how items are named in AAD
    open_grant, check_grant             # the buyer's side
    browser_key_message, browser_key_context   # the browser path (P-256 key the wallet signed)
    open_store                          # the store the settings name
    open_access_log                     # its access log, when the settings name a folder
    ContentGrant, ContentPublic, ModelDetail, ProceedsPublic   # wire shapes
    BrowserKeyRequest, BrowserKeyMessage, BrowserContentGrant
    create_tables                       # the content-key table, created at start-up
"""

from marketplace_api.content.browser import (
    BROWSER_WRAP,
    MAX_EXPIRY_S,
    browser_key_context,
    browser_key_message,
)
from marketplace_api.content.buyer import check_grant, open_grant
from marketplace_api.content.errors import (
    ContentNotUploadedError,
    GrantMismatchError,
    NoLicenceError,
    VaultError,
)
from marketplace_api.content.schemas import (
    BrowserContentGrant,
    BrowserKeyMessage,
    BrowserKeyRequest,
    ContentGrant,
    ContentPublic,
    ContentSummary,
    LicencePublic,
    ModelDetail,
    ProceedsPublic,
)
from marketplace_api.content.service import MEDIA_TYPES, ContentService, Upload
from marketplace_api.content.stores import open_access_log, open_store
from marketplace_api.content.tables import create_tables
from marketplace_api.content.vault import ArtifactKind, ArtifactRef, KeyVault

__all__ = [
    "BROWSER_WRAP",
    "MAX_EXPIRY_S",
    "MEDIA_TYPES",
    "ArtifactKind",
    "ArtifactRef",
    "BrowserContentGrant",
    "BrowserKeyMessage",
    "BrowserKeyRequest",
    "ContentGrant",
    "ContentNotUploadedError",
    "ContentPublic",
    "ContentService",
    "ContentSummary",
    "GrantMismatchError",
    "KeyVault",
    "LicencePublic",
    "ModelDetail",
    "NoLicenceError",
    "ProceedsPublic",
    "Upload",
    "VaultError",
    "browser_key_context",
    "browser_key_message",
    "check_grant",
    "create_tables",
    "open_grant",
    "open_access_log",
    "open_store",
]
