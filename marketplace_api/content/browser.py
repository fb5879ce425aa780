"""The browser delivery path: a WebCrypto P-256 key the account's wallet signed for.

A browser wallet (EIP-1193) cannot do ECDH with the account's secp256k1 key, so a page cannot
unwrap the ECIES grant. Instead the page makes a non-extractable P-256 key pair, asks the wallet
to ``personal_sign`` :func:`browser_key_message` (the only place that text is defined), and the
service wraps the content key to that P-256 key (:func:`storage.sealing.wrap_key_p256`).

A stolen session token alone gets nothing: the key is wrapped only to a browser key the
account itself signed for, for this item, on this chain and contract, for at most an hour.

Checks (each a 4xx naming the field at fault): the point is on P-256 (422 ``public_key``), the
expiry is in the future and at most :data:`MAX_EXPIRY_S` ahead (422 ``expires``), the signature
is well formed (422 ``signature``) and recovers to the signed-in account (403).
"""

from __future__ import annotations

import logging
from typing import Final

from marketplace_api.content.vault import ArtifactRef
from marketplace_api.errors import FieldError, ForbiddenError
from storage.errors import InvalidKeyError, SignerMismatchError
from storage.sealing import check_p256_public_key, recover_public_key

log = logging.getLogger(__name__)

BROWSER_WRAP: Final = "p256-browser-v1"
"""The ``wrap`` marker of a grant wrapped with :func:`storage.sealing.wrap_key_p256`."""

MAX_EXPIRY_S: Final = 3600
"""The furthest ahead a signed browser key may expire (seconds)."""

DEFAULT_EXPIRY_S: Final = 600
"""The expiry proposed when the page asks for a message without one (seconds ahead)."""

Loc = tuple[str, ...]


def browser_key_message(account: str, ref: ArtifactRef, public_key: bytes, expires: int) -> str:
    """The text the account signs to let ``public_key`` receive ``ref``'s content key.

    Parameters
    ----------
    account : str
        The signed-in account, checksummed.
    ref : ArtifactRef
        The item (kind, chain, contract, id).
    public_key : bytes
        The browser's 65-byte uncompressed P-256 point.
    expires : int
        Unix seconds after which the authorisation is refused.
    """
    return (
        "fedmarket browser key\n"
        f"Account: {account}\n"
        f"Item: {ref.kind} {ref.item_id} on chain {ref.chain_id} at {ref.contract}\n"
        f"Key: 0x{public_key.hex()}\n"
        f"Expires: {expires}"
    )


def browser_key_context(ref: ArtifactRef, recipient: str) -> str:
    """The associated data of a browser wrap: never equal to an ECIES grant's context."""
    return ref.key_context(recipient) + ":browser"


def parse_public_key(value: str, loc: Loc) -> bytes:
    """The 65 bytes of a ``0x04...`` P-256 point; 422 at ``loc`` when it is not one."""
    try:
        return check_p256_public_key(bytes.fromhex(value.removeprefix("0x")))
    except (ValueError, InvalidKeyError) as exc:
        raise FieldError(loc, f"not a P-256 public key: {exc}", type="invalid_public_key") from None


def check_expires(expires: int, now: float, loc: Loc) -> None:
    """Refuse (422 at ``loc``) an expiry in the past or more than an hour ahead."""
    if expires <= now:
        raise FieldError(loc, f"expires {expires} is not in the future", type="expired")
    if expires > now + MAX_EXPIRY_S:
        raise FieldError(
            loc,
            f"expires {expires} is more than {MAX_EXPIRY_S} s ahead: sign a shorter-lived key",
            type="too_far_ahead",
        )


def check_browser_signature(message: str, signature: str, account: str) -> None:
    """Refuse a signature that is malformed (422) or not ``account``'s over ``message`` (403).

    Parameters
    ----------
    message : str
        :func:`browser_key_message` for the request.
    signature : str
        ``0x`` hex, 65 bytes.
    account : str
        The signed-in account.

    Raises
    ------
    FieldError
        The signature is malformed (422, ``("body", "signature")``).
    ForbiddenError
        It recovers to another account, or was made for another key, item or expiry (403).
    """
    try:
        raw = bytes.fromhex(signature.removeprefix("0x"))
        recover_public_key(message, raw, expected_address=account)
    except SignerMismatchError:  # before ValueError: kernel errors are built-ins' subclasses
        log.info("browser_grant: a signature not by %s for this key and item", account)
        raise ForbiddenError(
            f"the signature is not {account}'s over this key, item and expiry: sign the text "
            "GET .../content/browser-message answers"
        ) from None
    except (ValueError, InvalidKeyError) as exc:
        raise FieldError(("body", "signature"), f"malformed signature: {exc}") from None


__all__ = [
    "BROWSER_WRAP",
    "DEFAULT_EXPIRY_S",
    "MAX_EXPIRY_S",
    "browser_key_context",
    "browser_key_message",
    "check_browser_signature",
    "check_expires",
    "parse_public_key",
]
