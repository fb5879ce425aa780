"""The content keys the service keeps, sealed under its master key.

One row per sold item (a model of the ModelMarket, a downloadable dataset of the
DatasetRegistry) of a deployment: where its sealed envelope is stored (CID), what it must hash
to, and its content key sealed under the master key (:class:`~marketplace_api.content.vault.
KeyVault`). Service state, not an index of the chain (the keys exist nowhere else), so the table
has a metadata of its own, created where missing when the API starts. Times are unix seconds.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer, LargeBinary, MetaData, String, UniqueConstraint
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from marketplace_api.models import NAMING_CONVENTION

ADDRESS_LEN = 42
HASH_LEN = 66
CID_LEN = 128
KIND_LEN = 16
KEY_ID_LEN = 16


class ContentBase(DeclarativeBase):
    """Declarative base of the content-key table (a metadata of its own)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class ContentKey(ContentBase):
    """The sealed content of one item and its content key, sealed under the master key.

    ``content_hash`` is keccak-256 of the plaintext (for a model: the final model hash FedTask
    recorded); ``cid`` names the sealed envelope in the content store (pinned);
    ``sealed_key`` is the content key sealed under the master key ``key_id``.
    """

    __tablename__ = "content_keys"
    __table_args__ = (UniqueConstraint("deployment_id", "kind", "item_id"),)

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    deployment_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(KIND_LEN))
    item_id: Mapped[int] = mapped_column(BigInteger)
    cid: Mapped[str] = mapped_column(String(CID_LEN))
    envelope_size: Mapped[int] = mapped_column(BigInteger)
    size: Mapped[int] = mapped_column(BigInteger)
    content_hash: Mapped[str] = mapped_column(String(HASH_LEN))
    media_type: Mapped[str] = mapped_column(String(100))
    sealed_key: Mapped[bytes] = mapped_column(LargeBinary(256))
    key_id: Mapped[str] = mapped_column(String(KEY_ID_LEN))
    uploaded_by: Mapped[str] = mapped_column(String(ADDRESS_LEN))
    uploaded_at: Mapped[int] = mapped_column(BigInteger)


def create_tables(engine: Engine) -> None:
    """Create the content-key table where it is missing (idempotent).

    Parameters
    ----------
    engine : Engine
        The marketplace database.
    """
    ContentBase.metadata.create_all(engine, checkfirst=True)


__all__ = ["ContentBase", "ContentKey", "create_tables"]
