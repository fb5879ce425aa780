"""Task design against the API: every listing under a tag read, the poisoned one left out.

The listings are made on-chain directly by their owners (their documents in the store), as
anyone can, and reach the API through its index; the design reads them with the HTTP client.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from fedmarket.design import pooled_model, read_listings, select_listings
from marketplace_api import MarketplaceClient
from marketplace_api.listing import metadata_document
from marketplace_api.schemas import DatasetBase
from tests.integration.marketplace_api.market_world import ChainWorld, dataset_metadata

pytestmark = pytest.mark.slow

POISON = {  # the attack: valid on its face, it moved the design to [1e6, -1e6, 5e5]
    "count": 120,
    "mean": [1e6, -1e6, 5e5],
    "std": [1.0, 1.0, 1.0],
    "min": [0.0, -2e6, 0.0],
    "max": [2e6, 0.0, 1e6],
}


def list_directly(world: ChainWorld, meta: dict[str, Any]) -> int:
    """List ``meta`` on-chain as its owner would without the API; the dataset id."""
    owner = world.funded()
    doc = metadata_document(DatasetBase.model_validate({**meta, "owner": owner.address}))
    world.store.put(doc.data)
    dataset_id, _ = world.registry(owner).list_dataset(bytes(doc.hash), str(doc.cid))
    return dataset_id


def test_design_reads_every_page_of_a_tag_and_leaves_the_poisoned_listing_out(
    solo_api: TestClient, solo_world: ChainWorld
) -> None:
    honest = [
        list_directly(solo_world, dataset_metadata("0x" + "00" * 20, tags=["cohort"]))
        for _ in range(55)  # more than the API's default page of 50
    ]
    list_directly(solo_world, dataset_metadata("0x" + "00" * 20, tags=["other"]))
    poisoned = list_directly(
        solo_world, dataset_metadata("0x" + "00" * 20, tags=["cohort"], statistics=POISON)
    )
    with MarketplaceClient("", http=solo_api) as client:
        assert client.datasets_page(tag="cohort")["limit"] == 50
        listings = read_listings(client, "cohort")
        assert read_listings(client, "cohort", page_size=20) == listings  # three pages
    assert sorted(x["id"] for x in listings) == sorted([*honest, poisoned])
    selection = select_listings(listings)
    assert sorted(u.id for u in selection.used) == sorted(honest)
    [left] = selection.excluded
    assert left.id == poisoned and left.reason.startswith("outlier: the mean of")
    designed = pooled_model(selection.stats)
    np.testing.assert_allclose(designed.feature_mean, [14.1, 19.3, 3.0], rtol=1e-12)
