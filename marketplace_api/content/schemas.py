"""Wire shapes of paid content and of contributors' sale proceeds.

- :class:`ContentPublic`: what an upload recorded (the sealed envelope's CID, sizes, hash);
- :class:`ContentGrant`: what a licensed buyer gets: the envelope's CID and the content key
  wrapped (ECIES) to the public key that signed in, with the associated data both are bound to;
- :class:`BrowserKeyRequest`, :class:`BrowserKeyMessage`, :class:`BrowserContentGrant`: the
  browser path, where the key is wrapped (P-256) to a WebCrypto key the account's wallet signed
  for, since a browser wallet cannot do ECDH with the account key;
- :class:`ModelDetail`: a model listing with each contributor's proceeds (entitled, claimed,
  claimable) and whether its content can be bought.

Amounts are decimal strings (``Wei``), hashes and keys ``0x`` hex, times unix seconds.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from marketplace_api.schemas import AddressStr, Hash32Hex, ModelPublic, Wei


class ContentSummary(BaseModel):
    """Where an item's sealed content is, and what its plaintext hashes to."""

    kind: Literal["model", "dataset"]
    id: int = Field(description="The listing's id (ModelMarket or DatasetRegistry).")
    cid: str = Field(description="CID of the sealed envelope in the content store (pinned).")
    envelope_bytes: int = Field(description="Size of the sealed envelope.")
    size: int = Field(description="Size of the plaintext.")
    content_hash: Hash32Hex = Field(description="keccak-256 of the plaintext.")
    media_type: str


class ContentPublic(ContentSummary):
    """An upload as recorded: the sealed envelope, who uploaded it, and when."""

    chain_id: int
    contract: AddressStr = Field(description="The ModelMarket or DatasetRegistry.")
    uploaded_by: AddressStr
    uploaded_at: int = Field(description="Unix seconds.")


class LicencePublic(BaseModel):
    """The on-chain licence that allowed a download."""

    block: int = Field(description="Block of the purchase.")
    price_paid_wei: Wei


class ContentGrant(ContentSummary):
    """A licensed buyer's key to an item: the envelope's CID and the wrapped content key.

    The buyer recomputes ``purpose`` and ``key_context`` from the chain id, the contract, the
    item id and its own address rather than trusting these copies, unwraps ``wrapped_key``
    with its private key (``storage.sealing.unwrap_key``), opens the envelope
    (``storage.sealing.open_sealed``) and checks the plaintext against the hash on-chain.
    """

    model_config = ConfigDict(json_schema_extra={"description": "Never cached (no-store)."})

    chain_id: int
    contract: AddressStr
    recipient: AddressStr = Field(description="The signed-in buyer.")
    public_key: str = Field(description="The compressed public key the key is wrapped to (hex).")
    purpose: str = Field(description="Associated data of the sealed envelope.")
    key_context: str = Field(description="Associated data of the wrapped key.")
    wrapped_key: str = Field(description="The content key, ECIES-wrapped to public_key (0x hex).")
    licence: LicencePublic


P256Hex = Annotated[
    str,
    StringConstraints(pattern=r"^0x[0-9a-fA-F]{130}$"),
    Field(description="A 65-byte uncompressed P-256 point (0x04 || x || y), as WebCrypto "
          "exports it (raw), in 0x hex.", examples=["0x04" + "ab" * 64]),
]  # fmt: skip
SignatureHex = Annotated[
    str,
    StringConstraints(pattern=r"^0x[0-9a-fA-F]{130}$"),
    Field(description="65-byte EIP-191 personal_sign signature (r || s || v), 0x hex."),
]


class BrowserKeyRequest(BaseModel):
    """A browser's WebCrypto public key, signed for by the signed-in account's wallet."""

    model_config = ConfigDict(extra="forbid")

    public_key: P256Hex
    expires: int = Field(
        ge=0, le=2**63 - 1, description="Unix seconds: in the future, at most an hour ahead."
    )
    signature: SignatureHex = Field(
        description="personal_sign, by the signed-in account, of the text "
        "GET .../content/browser-message answers for this key and expiry."
    )


class BrowserKeyMessage(BaseModel):
    """The exact text the account signs (personal_sign) to let one browser key receive the key."""

    message: str = Field(description="Sign exactly this text, UTF-8, with personal_sign.")
    account: AddressStr = Field(description="The signed-in account that must sign it.")
    public_key: str = Field(description="The browser's P-256 public key (lower-case 0x hex).")
    expires: int = Field(description="Unix seconds; send the same value with the signature.")


class BrowserContentGrant(ContentGrant):
    """A licensed buyer's content key wrapped (P-256) to the browser key its wallet signed for.

    ``wrapped_key`` is the 130-byte FMBK v1 wrap of ``storage.sealing.wrap_key_p256``; its
    context is ``key_context`` (``ArtifactRef.key_context(recipient) + ":browser"``), which the
    page recomputes rather than trusting this copy.
    """

    wrap: Literal["p256-browser-v1"] = Field(description="How wrapped_key is wrapped.")
    public_key: str = Field(description="The browser's P-256 public key the key is wrapped to.")
    wrapped_key: str = Field(description="The content key, wrapped to public_key (0x hex).")
    expires: int = Field(description="Until when the wallet's authorisation of the key ran.")


class ProceedsPublic(BaseModel):
    """A contributor's part of a model's sales so far, as the ModelMarket keeps it."""

    address: AddressStr
    share_bps: int = Field(ge=0, le=10_000)
    entitled_wei: Wei = Field(description="proceeds x share / 10,000: earned so far.")
    claimed_wei: Wei
    claimable_wei: Wei = Field(description="What claimProceeds would pay now.")


class ModelDetail(ModelPublic):
    """One model listing with its contributors' proceeds and its content, if uploaded."""

    proceeds: list[ProceedsPublic] = Field(description="Per contributor, in join order.")
    content: ContentSummary | None = Field(
        description="The sealed content licensed buyers download; null until uploaded."
    )


__all__ = [
    "BrowserContentGrant",
    "BrowserKeyMessage",
    "BrowserKeyRequest",
    "ContentGrant",
    "ContentPublic",
    "ContentSummary",
    "LicencePublic",
    "ModelDetail",
    "ProceedsPublic",
]
