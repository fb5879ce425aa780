"""EIP-4361 (Sign-In with Ethereum) messages through the ``siwe`` library, on both sides.

The service parses and verifies what a wallet signed (:func:`parse_message`); a client builds and
signs the message for a challenge the service issued (:func:`build_message`,
:func:`sign_challenge`). Only messages in the library's canonical form are accepted: the text
signed must be exactly what ``SiweMessage.prepare_message`` writes for the fields parsed, so
the fields checked are the fields signed.

Messages are parsed with the library's regular-expression parser: its ABNF parser takes time
quadratic in the message's length (0.46 s for a 2.6 kB statement, 19.6 s for 16 kB, memory
exhausted at 64 kB with siwe 4.4.0 and abnf 2.8.3) and would let one anonymous request hold a
core. :data:`MAX_MESSAGE_CHARS` bounds the text before either runs.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from pydantic import ValidationError

with warnings.catch_warnings():
    # abnf warns about siwe's grammar redefining RFC 5234's core rules, once, at import
    warnings.simplefilter("ignore")
    from siwe import SiweMessage, VerificationError, generate_nonce  # type: ignore[import-untyped]

from marketplace_api.errors import FieldError

MAX_MESSAGE_CHARS: Final = 2048
"""Longest sign-in message accepted (a typical one is about 400 characters)."""

STATEMENT: Final = "Sign in to the fedmarket marketplace."
"""The statement the service proposes; any statement without a line break is accepted."""

_MESSAGE_LOC: Final = ("body", "message")


def new_nonce() -> str:
    """A fresh nonce (``siwe.generate_nonce``: 11 alphanumerics from the OS's CSPRNG)."""
    return str(generate_nonce())


def unix_time(text: str) -> int:
    """An ISO 8601 time of a SIWE message as unix seconds (rounded down).

    Parameters
    ----------
    text : str
        E.g. ``2026-01-01T00:00:00.000Z``.
    """
    return int(datetime.fromisoformat(text).timestamp())


def iso8601(timestamp: int | float) -> str:
    """A unix time as the ISO 8601 UTC string SIWE messages carry (milliseconds, ``Z``).

    Parameters
    ----------
    timestamp : int or float
        Unix seconds.
    """
    moment = datetime.fromtimestamp(timestamp, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_message(text: str) -> SiweMessage:
    """Parse a signed sign-in message, refusing any text that is not in canonical form.

    Parameters
    ----------
    text : str
        The message exactly as it was signed.

    Raises
    ------
    FieldError
        At ``body.message``: too long, not an EIP-4361 message, or not in the canonical form.
    """
    if len(text) > MAX_MESSAGE_CHARS:
        raise FieldError(_MESSAGE_LOC, f"longer than {MAX_MESSAGE_CHARS} characters")
    try:
        message = SiweMessage.from_message(text, abnf=False)
    except (ValueError, ValidationError):
        raise FieldError(_MESSAGE_LOC, "not an EIP-4361 sign-in message") from None
    if message.prepare_message() != text:
        raise FieldError(
            _MESSAGE_LOC, "not in canonical EIP-4361 form (as siwe's prepare_message writes it)"
        )
    return message


def build_message(challenge: Mapping[str, Any], address: str, *, now: float) -> str:
    """The EIP-4361 message answering ``challenge`` for ``address``, ready to sign.

    Parameters
    ----------
    challenge : Mapping
        What ``GET /auth/nonce`` answered: ``domain``, ``uri``, ``chain_id``, ``nonce``,
        ``statement`` and ``session_expires_at`` (unix seconds, the message's Expiration Time:
        the session ends then at the latest).
    address : str
        The signing account (checksummed).
    now : float
        Unix time written as the message's issue time.

    Raises
    ------
    FieldError
        When the challenge does not make a valid message.
    """
    try:
        message = SiweMessage(
            domain=str(challenge["domain"]),
            address=address,
            statement=challenge.get("statement") or None,
            uri=str(challenge["uri"]),
            version="1",
            chain_id=int(challenge["chain_id"]),
            nonce=str(challenge["nonce"]),
            issued_at=iso8601(now),
            expiration_time=iso8601(int(challenge["session_expires_at"])),
        )
    except (KeyError, TypeError, ValueError, ValidationError) as exc:
        raise FieldError(("challenge",), f"cannot build a sign-in message: {exc}") from None
    return str(message.prepare_message())


def sign_challenge(
    account: LocalAccount, challenge: Mapping[str, Any], *, now: float
) -> dict[str, str]:
    """Build the message for ``challenge`` and sign it (EIP-191) with ``account``.

    The key never leaves the process; only the message and the signature are returned.

    Parameters
    ----------
    account : LocalAccount
        The signing account.
    challenge : Mapping
        What ``GET /auth/nonce`` answered.
    now : float
        Unix time written as the message's issue time.

    Returns
    -------
    dict
        ``{"message": ..., "signature": "0x..."}``, the body of ``POST /auth/verify``.
    """
    text = build_message(challenge, account.address, now=now)
    signed = account.sign_message(encode_defunct(text=text))
    return {"message": text, "signature": "0x" + bytes(signed.signature).hex()}


__all__ = [
    "MAX_MESSAGE_CHARS",
    "STATEMENT",
    "SiweMessage",
    "VerificationError",
    "build_message",
    "iso8601",
    "new_nonce",
    "parse_message",
    "sign_challenge",
    "unix_time",
]
