"""Sign-In with Ethereum: nonces, verified messages, and the sessions they open.

The flow (EIP-4361):

1. ``issue_challenge``: a fresh nonce, stored with its expiry, and what the message must name
   (domain, URI, chain id);
2. the wallet signs the message (EIP-191); ``sign_in`` parses it (``siwe``), checks the domain,
   the URI's origin, the chain id, the issue time and the expiry, verifies the signature
   (``SiweMessage.verify``), recovers the signer's public key (:mod:`storage.sealing`), then
   consumes the nonce (one conditional ``UPDATE``: a nonce signs in once, whatever the
   concurrency) and opens a session;
3. the session is an opaque 256-bit bearer token; only its SHA-256 is stored, with the address,
   the public key (content keys are wrapped to it) and the expiry: the session's lifetime,
   never beyond the message's own expiration time;
4. ``authenticate`` maps a bearer token to its :class:`SignedInUser`; ``sign_out`` deletes it.

The signature is checked before the nonce is consumed, so nobody can burn another's nonce by
posting a forged message for it. Nothing here logs a token.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final
from urllib.parse import urlsplit

from eth_keys.exceptions import BadSignature
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from kernel.types import Address
from marketplace_api.auth.errors import SignInRefusedError, UnauthorizedError
from marketplace_api.auth.messages import (
    STATEMENT,
    SiweMessage,
    VerificationError,
    new_nonce,
    parse_message,
    unix_time,
)
from marketplace_api.auth.tables import SignInNonce, SignInSession
from marketplace_api.errors import FieldError
from storage.errors import InvalidKeyError, SignerMismatchError
from storage.sealing import recover_public_key

log = logging.getLogger(__name__)

TOKEN_PREFIX: Final = "fms_"
"""Session tokens start with this, so secret scanners and logs can recognise one."""

CLOCK_SKEW: Final = 60
"""Seconds a message's issue time may lie ahead of the service's clock."""

Clock = Callable[[], float]


@dataclass(frozen=True)
class Origin:
    """What a sign-in message must name: the service's host and its origin.

    Attributes
    ----------
    scheme : str
        ``http`` or ``https``.
    domain : str
        ``host[:port]``: the message's domain.
    uri : str
        ``scheme://host[:port]``: the message's URI must lie on it.
    """

    scheme: str
    domain: str
    uri: str

    @classmethod
    def of(cls, url: str) -> Origin:
        """The origin of ``url`` (``scheme://host[:port]``, path ignored).

        Parameters
        ----------
        url : str
            The service's public URL, or the URL a request reached it by.
        """
        parts = urlsplit(url)
        return cls(scheme=parts.scheme, domain=parts.netloc, uri=f"{parts.scheme}://{parts.netloc}")

    def owns(self, uri: str) -> bool:
        """Whether ``uri`` lies on this origin (same scheme, host and port)."""
        parts = urlsplit(uri)
        return (parts.scheme, parts.netloc) == (self.scheme, self.domain)


@dataclass(frozen=True)
class Challenge:
    """A nonce and what the message signed with it must say.

    Attributes
    ----------
    nonce : str
        Single use; expires at ``expires_at``.
    issued_at, expires_at : int
        Unix seconds: when the nonce was issued and when it stops being usable.
    session_expires_at : int
        The Expiration Time to write in the message: the session ends then (at the latest).
    domain, uri : str
        The message's domain and URI.
    chain_id : int
        The chain the session is for.
    statement : str
        A statement to show the signer.
    """

    nonce: str
    issued_at: int
    expires_at: int
    session_expires_at: int
    domain: str
    uri: str
    chain_id: int
    statement: str = STATEMENT


@dataclass(frozen=True)
class SignedInUser:
    """Who a valid session belongs to.

    Attributes
    ----------
    address : Address
        The signer's checksummed address.
    public_key : bytes
        The signer's compressed secp256k1 public key (33 bytes), from the sign-in signature.
    expires_at : int
        When the session ends (unix seconds).
    token_hash : str
        SHA-256 of the bearer token, hex (identifies the session; not the token).
    """

    address: Address
    public_key: bytes
    expires_at: int
    token_hash: str = field(repr=False)


@dataclass(frozen=True)
class IssuedSession:
    """A session just opened, with its bearer token (shown once, never stored).

    Attributes
    ----------
    token : str
        The bearer token.
    user : SignedInUser
        Whom it signs in.
    """

    token: str = field(repr=False)
    user: SignedInUser


def token_digest(token: str) -> str:
    """SHA-256 of a bearer token, hex: how sessions are stored and looked up.

    A token carries 256 random bits, so a fast hash is enough: nothing is left to brute-force.

    Parameters
    ----------
    token : str
        The bearer token.
    """
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass
class SignInPolicy:
    """How long nonces and sessions live, and where the service is.

    Parameters
    ----------
    public_url : str or None, default None
        The service's public origin; ``None`` (development only) takes each request's own.
    nonce_ttl : int, default 300
        Seconds a nonce stays usable.
    session_ttl : int, default 3600
        Seconds a session lasts (never beyond the message's expiration time).
    clock : callable, default time.time
        Unix time now (tests move it).
    """

    public_url: str | None = None
    nonce_ttl: int = 300
    session_ttl: int = 3600
    clock: Clock = time.time

    def origin(self, request_url: str) -> Origin:
        """The origin messages must name: the public URL, else the request's (development)."""
        return Origin.of(self.public_url or request_url)

    def now(self) -> int:
        """The clock's time in whole seconds."""
        return int(self.clock())


class SignInService:
    """Issues nonces, verifies sign-in messages, opens and closes sessions.

    Stateless itself: every method works in the database session it is given, and the caller
    commits.

    Parameters
    ----------
    policy : SignInPolicy or None, default None
        Lifetimes, public URL and clock (``SignInPolicy()`` when ``None``).
    """

    def __init__(self, policy: SignInPolicy | None = None) -> None:
        self.policy = policy or SignInPolicy()

    def issue_challenge(
        self, db: Session, *, deployment_id: int, chain_id: int, origin: Origin
    ) -> Challenge:
        """Store a fresh nonce and return the challenge to sign.

        Expired nonces and sessions are purged on the way, so the tables stay small.

        Parameters
        ----------
        db : Session
            The database session (the caller commits).
        deployment_id : int
            The deployment the sign-in is for.
        chain_id : int
            Its chain.
        origin : Origin
            What the message must name.
        """
        now = self.policy.now()
        db.execute(delete(SignInNonce).where(SignInNonce.expires_at < now))
        db.execute(delete(SignInSession).where(SignInSession.expires_at < now))
        nonce = SignInNonce(
            nonce=new_nonce(),
            deployment_id=deployment_id,
            issued_at=now,
            expires_at=now + self.policy.nonce_ttl,
        )
        db.add(nonce)
        db.flush()
        return Challenge(
            nonce=nonce.nonce,
            issued_at=now,
            expires_at=nonce.expires_at,
            session_expires_at=now + self.policy.session_ttl,
            domain=origin.domain,
            uri=origin.uri,
            chain_id=chain_id,
        )

    def sign_in(
        self,
        db: Session,
        *,
        message: str,
        signature: str,
        deployment_id: int,
        chain_id: int,
        origin: Origin,
    ) -> IssuedSession:
        """Verify a signed sign-in message and open a session for its signer.

        Parameters
        ----------
        db : Session
            The database session (the caller commits).
        message : str
            The EIP-4361 message exactly as signed.
        signature : str
            The EIP-191 signature, ``0x`` + 130 hex digits.
        deployment_id : int
            The deployment the nonce must have been issued for.
        chain_id : int
            The chain id the message must name.
        origin : Origin
            The domain and URI origin the message must name.

        Raises
        ------
        FieldError
            The message is not a canonical EIP-4361 message (422).
        SignInRefusedError
            Wrong domain, URI, scheme or chain; expired or not yet valid; a signature by
            another account; a nonce unknown, expired or used (401).
        """
        parsed = parse_message(message)
        now = self.policy.now()
        self._check_fields(parsed, chain_id=chain_id, origin=origin, now=now)
        public_key = self._verify_signature(parsed, message, signature, origin, now)
        self._consume_nonce(db, parsed.nonce, deployment_id, now)
        expires_at = now + self.policy.session_ttl
        if parsed.expiration_time is not None:
            expires_at = min(expires_at, unix_time(parsed.expiration_time))
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        row = SignInSession(
            token_hash=token_digest(token),
            deployment_id=deployment_id,
            address=parsed.address,
            public_key=public_key.hex(),
            nonce=parsed.nonce,
            issued_at=now,
            expires_at=expires_at,
        )
        db.add(row)
        db.flush()
        log.info("sign_in: session for %s until %s", parsed.address, expires_at)
        return IssuedSession(token=token, user=_user(row))

    @staticmethod
    def _check_fields(message: SiweMessage, *, chain_id: int, origin: Origin, now: int) -> None:
        """Refuse a message for another service or chain, or issued in the future."""
        if message.domain != origin.domain:
            raise SignInRefusedError(
                f"the message signs in to {message.domain!r}; this service is {origin.domain!r}"
            )
        if message.scheme is not None and message.scheme != origin.scheme:
            raise SignInRefusedError(f"the message's scheme is not {origin.scheme}")
        if not origin.owns(message.uri):
            raise SignInRefusedError(f"the message's URI is not on {origin.uri}")
        if message.chain_id != chain_id:
            raise SignInRefusedError(
                f"the message is for chain {message.chain_id}; this service is on chain {chain_id}"
            )
        if unix_time(message.issued_at) > now + CLOCK_SKEW:
            raise SignInRefusedError("the message is issued in the future")

    @staticmethod
    def _verify_signature(
        message: SiweMessage, text: str, signature: str, origin: Origin, now: int
    ) -> bytes:
        """Verify with siwe (dates, domain, signer), then recover the signer's public key."""
        try:
            message.verify(
                signature,
                domain=origin.domain,
                timestamp=datetime.fromtimestamp(now, tz=UTC),
            )
        except VerificationError as exc:
            reason = _REASONS.get(type(exc).__name__, "the message does not verify")
            raise SignInRefusedError(f"sign-in refused: {reason}") from None
        except (BadSignature, ValueError):  # no key recovers from it (e.g. r = s = 0)
            raise FieldError(("body", "signature"), "not a valid signature") from None
        try:
            signed = bytes.fromhex(signature.removeprefix("0x"))
            return recover_public_key(text, signed, expected_address=message.address)
        except (ValueError, InvalidKeyError):
            raise FieldError(("body", "signature"), "not a valid signature") from None
        except SignerMismatchError:
            raise SignInRefusedError(f"the signature is not by {message.address}") from None

    @staticmethod
    def _consume_nonce(db: Session, nonce: str, deployment_id: int, now: int) -> None:
        """Mark ``nonce`` used, atomically; refuse one unknown, expired or already used."""
        used = db.execute(
            update(SignInNonce)
            .where(
                SignInNonce.nonce == nonce,
                SignInNonce.deployment_id == deployment_id,
                SignInNonce.used_at.is_(None),
                SignInNonce.expires_at > now,
            )
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        if used.rowcount != 1:  # type: ignore[attr-defined]
            raise SignInRefusedError(
                "the nonce is unknown, expired or already used: ask for a new one"
            )

    def authenticate(self, db: Session, token: str, *, deployment_id: int) -> SignedInUser:
        """The user a bearer token signs in.

        Parameters
        ----------
        db : Session
            The database session.
        token : str
            The bearer token.
        deployment_id : int
            The deployment the session must be for.

        Raises
        ------
        UnauthorizedError
            The token is unknown, expired, signed out or for another deployment.
        """
        row = db.get(SignInSession, token_digest(token))
        if row is None or row.deployment_id != deployment_id:
            raise UnauthorizedError("the session is unknown or signed out: sign in again")
        if row.expires_at <= self.policy.now():
            raise UnauthorizedError("the session expired: sign in again")
        return _user(row)

    def sign_out(self, db: Session, user: SignedInUser) -> None:
        """End ``user``'s session (the token stops working at once).

        Parameters
        ----------
        db : Session
            The database session (the caller commits).
        user : SignedInUser
            The session's user, as :meth:`authenticate` returned it.
        """
        db.execute(delete(SignInSession).where(SignInSession.token_hash == user.token_hash))
        log.info("sign_out: session of %s ended", user.address)

    def sessions_of(self, db: Session, address: str) -> int:
        """How many unexpired sessions ``address`` has (for tests and operators)."""
        rows = db.scalars(
            select(SignInSession.token_hash).where(
                SignInSession.address == address, SignInSession.expires_at > self.policy.now()
            )
        )
        return len(list(rows))


_REASONS: Final = {
    "ExpiredMessage": "the message expired",
    "NotYetValidMessage": "the message is not valid yet",
    "DomainMismatch": "the message is for another domain",
    "NonceMismatch": "the message's nonce does not match",
    "InvalidSignature": "the signature is not by the message's address",
    "SchemeMismatch": "the message is for another scheme",
}
"""Why siwe refused a message, by its exception's name."""


def _user(row: SignInSession) -> SignedInUser:
    return SignedInUser(
        address=Address(row.address),
        public_key=bytes.fromhex(row.public_key),
        expires_at=row.expires_at,
        token_hash=row.token_hash,
    )


__all__ = [
    "CLOCK_SKEW",
    "TOKEN_PREFIX",
    "Challenge",
    "IssuedSession",
    "Origin",
    "SignInPolicy",
    "SignInService",
    "SignedInUser",
    "token_digest",
]
