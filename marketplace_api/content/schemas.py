"""Wire shapes of paid content and of contributors' sale proceeds.

- :class:`ContentPublic`: what an upload recorded (the sealed envelope's CID, sizes, hash);
- :class:`ContentGrant`: what a licensed buyer gets: the envelope's CID and the content key
  wrapped (ECIES) to the public key that signed in, with the associated data both are bound to;
- :class:`ModelDetail`: a model listing with each contributor's proceeds (entitled, claimed,
  claimable) and whether its content can be bought.

Amounts are decimal strings (``Wei``), hashes and keys ``0x`` hex, times unix seconds.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

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
    "ContentGrant",
    "ContentPublic",
    "ContentSummary",
    "LicencePublic",
    "ModelDetail",
    "ProceedsPublic",
]
