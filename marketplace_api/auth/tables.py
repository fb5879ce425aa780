"""The sign-in state the service keeps: nonces it issued and sessions it opened.

This is service state, not an index of the chain (nothing here can be rebuilt from events), so
it has a metadata of its own: :func:`create_tables` creates the tables where missing when the
API starts. Times are unix seconds (integers), so a clock can be injected and no database hands
back naive datetimes. A session's token is never stored: only its SHA-256.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer, MetaData, String
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from marketplace_api.models import NAMING_CONVENTION

ADDRESS_LEN = 42
NONCE_LEN = 64
DIGEST_LEN = 64
PUBLIC_KEY_LEN = 66


class AuthBase(DeclarativeBase):
    """Declarative base of the sign-in tables (a metadata of their own)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class SignInNonce(AuthBase):
    """A nonce issued for one sign-in message: usable once, until it expires."""

    __tablename__ = "auth_nonces"

    nonce: Mapped[str] = mapped_column(String(NONCE_LEN), primary_key=True)
    deployment_id: Mapped[int] = mapped_column(Integer)
    issued_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger, index=True)
    used_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class SignInSession(AuthBase):
    """A session opened by a verified sign-in message.

    ``public_key`` is the signer's secp256k1 key (compressed, hex), recovered from the sign-in
    signature: content keys are wrapped to it.
    """

    __tablename__ = "auth_sessions"

    token_hash: Mapped[str] = mapped_column(String(DIGEST_LEN), primary_key=True)
    deployment_id: Mapped[int] = mapped_column(Integer)
    address: Mapped[str] = mapped_column(String(ADDRESS_LEN), index=True)
    public_key: Mapped[str] = mapped_column(String(PUBLIC_KEY_LEN))
    nonce: Mapped[str] = mapped_column(String(NONCE_LEN))
    issued_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger, index=True)


def create_tables(engine: Engine) -> None:
    """Create the sign-in tables where they are missing (idempotent).

    Parameters
    ----------
    engine : Engine
        The marketplace database.
    """
    AuthBase.metadata.create_all(engine, checkfirst=True)


__all__ = ["AuthBase", "SignInNonce", "SignInSession", "create_tables"]
