"""Task design over listings anyone can make: facts checked, outliers left out, all reported."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from fedmarket.demo import dataset_metadata
from fedmarket.design import (
    OUTLIER_DEVIATIONS,
    WEIGHT_CAP,
    pooled_model,
    select_listings,
    stats_from_listings,
)
from fl_node.data import breast_cancer_hospitals, pool_stats
from kernel.errors import InvalidInputError

SCHEMA = [
    {"name": "radius", "dtype": "float"},
    {"name": "texture", "dtype": "float"},
    {"name": "visits", "dtype": "int"},
    {"name": "site", "dtype": "category"},
    {"name": "label", "dtype": "bool"},
]
HONEST = {
    "count": 120,
    "mean": [14.1, 19.3, 3.0],
    "std": [3.5, 4.3, 1.25],
    "min": [6.98, 9.71, 1.0],
    "max": [28.1, 39.28, 9.0],
}
POISON = {  # valid on its face: finite, bounded, min <= mean <= max, count within row_count
    "count": 120,
    "mean": [1e6, -1e6, 5e5],
    "std": [1.0, 1.0, 1.0],
    "min": [0.0, -2e6, 0.0],
    "max": [2e6, 0.0, 1e6],
}


def listing(ident: int, statistics: Any = HONEST, **changes: Any) -> dict[str, Any]:
    return {
        "id": ident,
        "active": True,
        "document_status": "ok",
        "schema": SCHEMA,
        "row_count": 120,
        "statistics": statistics,
        **changes,
    }


def honest(n: int, start: int = 1) -> list[dict[str, Any]]:
    rng = np.random.default_rng(start)
    items = []
    for i in range(n):  # sites differ a little, as real ones do
        shift = rng.normal(0, 0.3, size=3)
        mean = [round(m + s, 3) for m, s in zip(HONEST["mean"], shift, strict=True)]
        items.append(listing(start + i, {**HONEST, "mean": mean}))
    return items


def test_the_issues_poisoned_listing_is_left_out_and_reported():
    listings = [*honest(3), listing(99, POISON)]
    fair = pooled_model(select_listings(honest(3)).stats)
    selection = select_listings(listings)
    assert [u.id for u in selection.used] == [1, 2, 3]
    [left] = selection.excluded
    assert left.id == 99 and left.reason.startswith("outlier: the mean of")
    designed = pooled_model(selection.stats)
    assert designed.feature_mean == fair.feature_mean
    np.testing.assert_allclose(designed.feature_mean, [14.1, 19.3, 3.0], atol=0.5)
    naive, _ = pool_stats(select_listings(listings[3:]).stats)
    assert naive[0] == 1e6  # what pooling it would have designed


def test_a_wide_std_is_an_outlier_too():
    wide = {**HONEST, "std": [3.5, 4.3, 62.5], "min": [6.98, 9.71, -1e3], "max": [28.1, 39.28, 1e3]}
    selection = select_listings([*honest(4), listing(7, wide)])
    assert [e.id for e in selection.excluded] == [7]
    assert "std of 'visits'" in selection.excluded[0].reason


def test_honest_hospitals_are_all_used():
    """No false alarm: the demo's four hospitals (non-IID splits of real data) are all pooled."""
    world_split = breast_cancer_hospitals(4, seed=2024)
    names = world_split.feature_names
    listings = [
        {**dataset_metadata(h, names, "0x" + "11" * 20), "id": i, "active": True,
         "document_status": "ok"}
        for i, h in enumerate(world_split.hospitals, start=1)
    ]  # fmt: skip
    selection = select_listings(listings)
    assert selection.excluded == [] and len(selection.used) == 4
    assert selection.features == names
    mean, std = pool_stats([h.stats() for h in world_split.hospitals])
    assert list(pooled_model(selection.stats).feature_mean) == mean


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"document_status": "invalid", "document_error": "hash differs"},
         "metadata document invalid: hash differs"),
        ({"document_status": "missing"}, "metadata document missing"),
        ({"active": False}, "delisted on-chain"),
        ({"statistics": None}, "publishes no statistics"),
        ({"statistics": {**HONEST, "min": [30.0, 9.71, 1.0]}},
         "inconsistent statistics: column 0: min 30.0 exceeds max 28.1"),
        ({"statistics": {**HONEST, "mean": [50.0, 19.3, 3.0]}},
         "inconsistent statistics: column 0: mean 50.0 outside"),
        ({"statistics": {**HONEST, "std": [30.0, 4.3, 1.25]}},
         "inconsistent statistics: column 0: std 30.0 exceeds"),
        ({"statistics": {**HONEST, "count": 500}},
         "inconsistent statistics: count 500 exceeds row_count 120"),
        ({"statistics": {**HONEST, "mean": [1.0]}}, "malformed statistics"),
        ({"statistics": {**HONEST, "mean": [float("nan"), 1.0, 1.0]}}, "malformed statistics"),
        ({"schema": SCHEMA[:4]}, "no label column 'label' (--label)"),
        ({"schema": [*SCHEMA[:2], {"name": "visits", "dtype": "string"}, *SCHEMA[3:]],
          "statistics": {k: v if k == "count" else v[:2] for k, v in HONEST.items()}},
         "other features than the 3 listings used"),
    ],
)  # fmt: skip
def test_a_listing_whose_facts_fail_is_left_out_with_the_reason(changes, reason):
    selection = select_listings([*honest(3), listing(42, **changes)])
    assert [u.id for u in selection.used] == [1, 2, 3]
    [left] = selection.excluded
    assert left.id == 42 and left.reason.startswith(reason)


def test_statistics_null_never_breaks_design():
    stats, features = stats_from_listings([listing(1), listing(2, None)])
    assert len(stats) == 1 and features == ("radius", "texture", "visits")


def test_a_label_with_statistics_of_its_own_is_not_a_feature():
    schema = [*SCHEMA[:4], {"name": "label", "dtype": "int"}]
    stats = {k: v if k == "count" else [*v, 0.5 if k in ("mean", "std") else k == "max"]
             for k, v in HONEST.items()}  # fmt: skip
    selection = select_listings([listing(1, stats, schema=schema)])
    assert selection.features == ("radius", "texture", "visits")
    assert selection.stats[0].mean == (14.1, 19.3, 3.0)


def test_no_listing_counts_for_more_than_the_cap():
    big = {**HONEST, "count": 10**9}
    selection = select_listings([*honest(3), listing(9, big, row_count=10**9)])
    used = {u.id: u for u in selection.used}
    assert used[9].claimed == 10**9 and used[9].rows == WEIGHT_CAP * 120
    assert selection.stats[-1].count == WEIGHT_CAP * 120


def test_with_two_listings_nothing_is_screened():
    selection = select_listings([listing(1), listing(2, POISON)])
    assert [u.id for u in selection.used] == [1, 2] and selection.excluded == []


def test_nothing_usable_names_the_reasons():
    with pytest.raises(InvalidInputError, match="no usable listing among 2 .*delisted on-chain"):
        select_listings([listing(1, active=False), listing(2, None)])
    with pytest.raises(InvalidInputError, match="lists no matching dataset"):
        select_listings([])


def test_as_many_listings_of_two_feature_sets_is_ambiguous():
    other = [*SCHEMA[:2], {"name": "visits", "dtype": "string"}, *SCHEMA[3:]]
    two = {k: v if k == "count" else v[:2] for k, v in HONEST.items()}
    with pytest.raises(InvalidInputError, match="choose the datasets with --tag"):
        select_listings([listing(1), listing(2, two, schema=other)])


def test_the_threshold_keeps_a_site_a_few_deviations_off():
    sites = honest(5)
    near = listing(6, {**HONEST, "mean": [14.1 + 3.5 * (OUTLIER_DEVIATIONS - 1), 19.3, 3.0]})
    selection = select_listings([*sites, near])
    assert len(selection.used) == 6
