"""Dataset listings, model listings and licences rebuilt from the registry's and market's events.

Pure functions over one item's events in chain order (see
:class:`~marketplace_api.indexer._tasks.LoggedEvent`): what ``getListing`` and ``getModel`` would
answer, without the chain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from marketplace_api.indexer._tasks import LoggedEvent

ACCESS_MODE_NAMES = {0: "federated_only", 1: "downloadable"}
"""``AccessMode`` values as the index stores them."""


@dataclass
class DatasetProjection:
    """A DatasetRegistry listing as its events made it."""

    dataset_id: int
    owner: str
    metadata_hash: str
    metadata_cid: str
    access_mode: str
    price: int
    active: bool
    block: int
    tx_hash: str
    listed_at: int
    sales: int = 0


def _mode(value: object) -> str:
    return ACCESS_MODE_NAMES.get(int(str(value)), f"mode_{value}")


def reduce_dataset(events: Sequence[LoggedEvent]) -> DatasetProjection | None:
    """Replay one listing's registry events; ``None`` when it has no ``DatasetListed``.

    Parameters
    ----------
    events : sequence of LoggedEvent
        The listing's events (``DatasetListed``, ``ListingUpdated``, ``DatasetDelisted``,
        ``DatasetRelisted``, ``DatasetBought``), in chain order.
    """
    listing: DatasetProjection | None = None
    for e in events:
        a = e.args
        if e.name == "DatasetListed":
            listing = DatasetProjection(
                dataset_id=int(a["datasetId"]),
                owner=a["owner"],
                metadata_hash=a["metadataHash"],
                metadata_cid=a["metadataCid"],
                access_mode=_mode(a["accessMode"]),
                price=int(a["price"]),
                active=True,
                block=e.block,
                tx_hash=e.tx_hash,
                listed_at=e.timestamp,
            )
        elif listing is None:
            continue
        elif e.name == "ListingUpdated":
            listing.access_mode, listing.price = _mode(a["accessMode"]), int(a["price"])
        elif e.name in ("DatasetDelisted", "DatasetRelisted"):
            listing.active = e.name == "DatasetRelisted"
        elif e.name == "DatasetBought":
            listing.sales += 1
    return listing


@dataclass
class ModelProjection:
    """A ModelMarket listing as its events made it."""

    model_id: int
    task_id: int
    lister: str
    price: int
    sponsor_bps: int
    card_cid: str
    card_hash: str
    active: bool
    block: int
    tx_hash: str
    listed_at: int
    proceeds: int = 0
    claimed: int = 0
    sales: int = 0


def reduce_model(events: Sequence[LoggedEvent]) -> ModelProjection | None:
    """Replay one model listing's market events; ``None`` when it has no ``ModelListed``.

    Parameters
    ----------
    events : sequence of LoggedEvent
        The listing's events (``ModelListed``, ``ModelPriceChanged``, ``ModelActiveChanged``,
        ``ModelBought``, ``ProceedsClaimed``), in chain order.
    """
    model: ModelProjection | None = None
    for e in events:
        a = e.args
        if e.name == "ModelListed":
            model = ModelProjection(
                model_id=int(a["modelId"]),
                task_id=int(a["taskId"]),
                lister=a["lister"],
                price=int(a["price"]),
                sponsor_bps=int(a["sponsorBps"]),
                card_cid=a["cardCid"],
                card_hash=a["cardHash"],
                active=True,
                block=e.block,
                tx_hash=e.tx_hash,
                listed_at=e.timestamp,
            )
        elif model is None:
            continue
        elif e.name == "ModelPriceChanged":
            model.price = int(a["price"])
        elif e.name == "ModelActiveChanged":
            model.active = bool(a["active"])
        elif e.name == "ModelBought":
            model.proceeds += int(a["contributorsAmount"])
            model.sales += 1
        elif e.name == "ProceedsClaimed":
            model.claimed += int(a["amount"])
    return model


@dataclass(frozen=True)
class LicenceRow:
    """A licence bought (a row of ``licences``)."""

    kind: str
    item_id: int
    buyer: str
    paid: int
    fee: int
    block: int
    tx_hash: str
    bought_at: int


_BOUGHT = {"DatasetBought": ("dataset", "datasetId"), "ModelBought": ("model", "modelId")}


def licences_of(events: Sequence[LoggedEvent]) -> list[LicenceRow]:
    """The licences sold in ``events`` (``DatasetBought`` and ``ModelBought``), one per buyer.

    Parameters
    ----------
    events : sequence of LoggedEvent
        Events of one item, in chain order.
    """
    found: dict[tuple[str, int, str], LicenceRow] = {}
    for e in events:
        if e.name not in _BOUGHT:
            continue
        kind, key = _BOUGHT[e.name]
        row = LicenceRow(
            kind=kind,
            item_id=int(e.args[key]),
            buyer=e.args["buyer"],
            paid=int(e.args["paid"]),
            fee=int(e.args["fee"]),
            block=e.block,
            tx_hash=e.tx_hash,
            bought_at=e.timestamp,
        )
        found.setdefault((row.kind, row.item_id, row.buyer), row)
    return list(found.values())


__all__ = [
    "ACCESS_MODE_NAMES",
    "DatasetProjection",
    "LicenceRow",
    "ModelProjection",
    "licences_of",
    "reduce_dataset",
    "reduce_model",
]
