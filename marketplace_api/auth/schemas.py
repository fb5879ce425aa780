"""Wire shapes of Sign-In with Ethereum: the challenge, the signed message, the session."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from marketplace_api.auth.messages import MAX_MESSAGE_CHARS
from marketplace_api.schemas import AddressStr, SignatureHex


class ChallengePublic(BaseModel):
    """What to sign: an EIP-4361 message naming these, with this nonce, before ``expires_at``."""

    nonce: str = Field(description="Single use; valid until expires_at.")
    issued_at: int = Field(description="Unix seconds.")
    expires_at: int = Field(description="Unix seconds: the nonce must be used before.")
    session_expires_at: int = Field(
        description="Unix seconds: the Expiration Time to sign (the session ends then, at latest)."
    )
    domain: str = Field(description="The message's domain (host[:port] of this service).")
    uri: str = Field(description="The message's URI (an URL on this service).")
    chain_id: int = Field(description="The message's Chain ID.")
    version: Literal["1"] = "1"
    statement: str = Field(description="A statement to show the signer (any is accepted).")
    message: str | None = Field(
        default=None,
        description="With ?address=: the EIP-4361 message to sign, built from the fields above "
        "(a wallet page signs it as it is instead of formatting its own).",
    )


class SignInRequest(BaseModel):
    """A signed EIP-4361 message."""

    model_config = ConfigDict(extra="forbid")

    message: str = Field(
        min_length=1,
        max_length=MAX_MESSAGE_CHARS,
        description="The EIP-4361 message exactly as signed (canonical form).",
    )
    signature: SignatureHex = Field(description="EIP-191 (personal_sign) signature of message.")


class SessionPublic(BaseModel):
    """A session: who is signed in, with which key, until when."""

    address: AddressStr
    public_key: str = Field(description="Compressed secp256k1 public key (0x hex): content keys "
                            "are wrapped to it.")  # fmt: skip
    expires_at: int = Field(description="Unix seconds.")


class SessionIssued(SessionPublic):
    """A new session and its bearer token (shown once; the service keeps only its hash)."""

    token: str = Field(description="Send as Authorization: Bearer <token>.")
    token_type: Literal["bearer"] = "bearer"


__all__ = ["ChallengePublic", "SessionIssued", "SessionPublic", "SignInRequest"]
