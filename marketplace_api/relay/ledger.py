"""The gas ledger: what the relayer spent for each owner, in the database every worker shares.

Table ``relay_gas_charges`` (migration ``0005_relay_gas``): one row per relayed transaction, first
as a *reservation* of the estimate (``tx_hash`` null) made before relaying, then *settled* with
the receipt's ``gasUsed`` and the transaction hash, or deleted when nothing was sent. Reserving
first and checking after (:func:`reserve` commits, then the guard sums the window) means two
workers racing for the same owner can both be refused, never both let through past the budget.
A reservation left behind by a crash keeps counting its estimate until it leaves the window.
Rows older than the window are pruned.

The table is declared on :class:`marketplace_api.models.Base`, so the migrations' models (which
import the whole package, this module included) know it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, delete, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from marketplace_api.models import ADDRESS_LEN, HASH_LEN, Base, DatasetListing
from marketplace_api.relay.budget import Charge

ACTION_LEN = 32


class GasCharge(Base):
    """Gas the relayer spent (or reserved) for one owner's transaction.

    ``charged_at`` is unix seconds of the guard's clock; ``gas`` the estimate until settled, then
    the receipt's ``gasUsed``; ``action`` what was relayed (``list_dataset``...).
    """

    __tablename__ = "relay_gas_charges"
    __table_args__ = (
        Index("ix_relay_gas_charges_owner_window", "deployment_id", "owner", "charged_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deployment_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("deployments.id", ondelete="CASCADE")
    )
    owner: Mapped[str] = mapped_column(String(ADDRESS_LEN))
    action: Mapped[str] = mapped_column(String(ACTION_LEN))
    charged_at: Mapped[int] = mapped_column(BigInteger, index=True)
    gas: Mapped[int] = mapped_column(BigInteger)
    tx_hash: Mapped[str | None] = mapped_column(String(HASH_LEN), nullable=True)


def charges(
    session: Session, deployment_id: int, owner: str, since: int, *, exclude: int | None = None
) -> list[Charge]:
    """``owner``'s charges made after ``since`` (unix seconds), settled or reserved.

    Parameters
    ----------
    session : Session
        The open session.
    deployment_id : int
        The deployment.
    owner : str
        The owner (checksummed).
    since : int
        Unix seconds; charges made at or before it are left out.
    exclude : int or None, default None
        A charge to leave out (the reservation being checked).
    """
    stmt = select(GasCharge.charged_at, GasCharge.gas).where(
        GasCharge.deployment_id == deployment_id,
        GasCharge.owner == owner,
        GasCharge.charged_at > since,
    )
    if exclude is not None:
        stmt = stmt.where(GasCharge.id != exclude)
    rows = session.execute(stmt).all()
    return [Charge(at=int(at), gas=int(gas)) for at, gas in rows]


def reserve(
    session: Session, deployment_id: int, owner: str, *, action: str, at: int, gas: int
) -> int:
    """Record a reservation of ``gas`` for ``owner`` (not committed); its id."""
    row = GasCharge(deployment_id=deployment_id, owner=owner, action=action, charged_at=at, gas=gas)
    session.add(row)
    session.flush()
    return row.id


def settle(session: Session, charge_id: int, *, gas: int, tx_hash: str) -> None:
    """Turn a reservation into the charge of the mined transaction (not committed)."""
    row = session.get(GasCharge, charge_id)
    if row is not None:
        row.gas = gas
        row.tx_hash = tx_hash


def release(session: Session, charge_id: int) -> None:
    """Drop a reservation whose transaction was never sent (not committed)."""
    session.execute(delete(GasCharge).where(GasCharge.id == charge_id))


def prune(session: Session, before: int) -> int:
    """Delete every charge made at or before ``before`` (no longer in any window); how many."""
    result = session.execute(delete(GasCharge).where(GasCharge.charged_at <= before))
    return int(getattr(result, "rowcount", 0) or 0)


def spent_total(session: Session, deployment_id: int, since: int) -> int:
    """Gas charged to anyone after ``since`` (for reports and tests)."""
    total = session.scalar(
        select(func.coalesce(func.sum(GasCharge.gas), 0)).where(
            GasCharge.deployment_id == deployment_id, GasCharge.charged_at > since
        )
    )
    return int(total or 0)


def established(
    session: Session, deployment_id: int, owner: str, *, listed_before: int, listings: int
) -> bool:
    """Whether the index holds ``listings`` of ``owner``'s listings from before ``listed_before``.

    Only active listings whose metadata document was readable and named the owner count.
    """
    cutoff = datetime.fromtimestamp(listed_before, UTC)
    count = session.scalar(
        select(func.count())
        .select_from(DatasetListing)
        .where(
            DatasetListing.deployment_id == deployment_id,
            DatasetListing.owner == owner,
            DatasetListing.active.is_(True),
            DatasetListing.document_status == "ok",
            DatasetListing.created_at <= cutoff,
        )
    )
    return int(count or 0) >= listings


__all__ = [
    "GasCharge",
    "charges",
    "established",
    "prune",
    "release",
    "reserve",
    "settle",
    "spent_total",
]
