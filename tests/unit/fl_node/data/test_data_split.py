"""Seeded splits: partitions of the rows, sizes, determinism, the Dirichlet concentration's effect.

Checked against a plain reference implementation and statistics over many seeds.
"""

from __future__ import annotations

import numpy as np
import pytest

from fl_node.data import (
    load_schema,
    split_dirichlet,
    split_holdout,
    split_iid,
    split_quantity_skew,
)
from fl_node.data.formats import RawImages
from fl_node.data.partition import partition, partition_by_source
from fl_node.errors import DataError


def _assert_partition(parts, n):
    joined = np.concatenate(parts)
    assert sorted(joined.tolist()) == list(range(n))  # every row once
    assert all(np.all(np.diff(p) > 0) for p in parts if len(p) > 1)  # sorted, no repeats


@pytest.mark.parametrize(("n", "parties"), [(10, 3), (100, 10), (7, 7), (1000, 1)])
def test_iid_is_a_partition_of_near_equal_sizes(n, parties):
    parts = split_iid(n, parties, seed=3)
    _assert_partition(parts, n)
    sizes = [len(p) for p in parts]
    assert max(sizes) - min(sizes) <= 1
    assert [p.tolist() for p in split_iid(n, parties, seed=3)] == [p.tolist() for p in parts]


def _reference_dirichlet(labels, parties, alpha, seed):
    """The same draws, written the plain way: per class, shuffle, draw shares, cut, deal."""
    rng = np.random.default_rng(seed)
    owner = {}
    for cls in sorted(set(labels.tolist())):
        members = rng.permutation([i for i, v in enumerate(labels) if v == cls])
        shares = rng.dirichlet([alpha] * parties)
        bounds = [int(sum(shares[: k + 1]) * len(members)) for k in range(parties - 1)]
        bounds = [0, *bounds, len(members)]
        for k in range(parties):
            for i in members[bounds[k] : bounds[k + 1]]:
                owner[int(i)] = k
    return [sorted(i for i, k in owner.items() if k == p) for p in range(parties)]


def test_dirichlet_matches_the_plain_reference_and_is_a_partition():
    labels = np.random.default_rng(0).integers(0, 5, size=400)
    parts = split_dirichlet(labels, 6, alpha=0.5, seed=11)
    _assert_partition(parts, 400)
    assert [p.tolist() for p in parts] == _reference_dirichlet(labels, 6, 0.5, 11)
    again = split_dirichlet(labels, 6, alpha=0.5, seed=11)
    assert [p.tolist() for p in again] == [p.tolist() for p in parts]
    other = split_dirichlet(labels, 6, alpha=0.5, seed=12)
    assert [p.tolist() for p in other] != [p.tolist() for p in parts]


def _label_skew(labels, parts, classes):
    """Mean total-variation distance between each party's label mix and the global one."""
    overall = np.bincount(labels, minlength=classes) / len(labels)
    distances = []
    for part in parts:
        if len(part):
            mix = np.bincount(labels[part], minlength=classes) / len(part)
            distances.append(0.5 * np.abs(mix - overall).sum())
    return float(np.mean(distances))


def test_a_smaller_alpha_gives_more_label_skew_over_many_seeds():
    labels = np.repeat(np.arange(10), 200)
    skew = {
        alpha: np.mean(
            [_label_skew(labels, split_dirichlet(labels, 10, alpha, s), 10) for s in range(20)]
        )  # fmt: skip
        for alpha in (0.1, 0.5, 100.0)
    }
    assert skew[0.1] > skew[0.5] > skew[100.0]
    assert skew[100.0] < 0.05  # close to IID
    assert skew[0.1] > 0.6  # each party holds few classes


def test_each_partys_expected_share_of_a_class_is_one_over_the_parties():
    labels = np.repeat(np.arange(2), 100)
    shares = np.zeros(4)
    seeds = 400
    for s in range(seeds):
        for k, part in enumerate(split_dirichlet(labels, 4, 1.0, s)):
            shares[k] += np.sum(labels[part] == 0) / 100
    # Dirichlet(1,1,1,1) shares have mean 1/4 and sd ~0.19: the mean of 400 is within 0.03
    np.testing.assert_allclose(shares / seeds, 0.25, atol=0.03)


def test_quantity_skew_is_a_partition_whose_size_spread_grows_as_alpha_shrinks():
    def spread(alpha):
        sizes = [np.std([len(p) for p in split_quantity_skew(1000, 8, alpha, s)])
                 for s in range(20)]  # fmt: skip
        return float(np.mean(sizes))

    _assert_partition(split_quantity_skew(1000, 8, 0.5, seed=1), 1000)
    assert spread(0.3) > spread(3.0) > spread(300.0)
    parts = split_quantity_skew(100, 5, 0.3, seed=2, min_rows=5)
    assert min(len(p) for p in parts) >= 5


def test_min_rows_and_bad_arguments_are_refused():
    labels = np.zeros(10, dtype=np.int64)
    with pytest.raises(DataError, match="cannot give"):
        split_dirichlet(labels, 5, 0.5, 0, min_rows=3)
    with pytest.raises(DataError, match="alpha"):
        split_dirichlet(labels, 2, float("nan"), 0)
    with pytest.raises(DataError, match="parties"):
        split_iid(10, 0, 0)
    with pytest.raises(DataError, match="cannot be dealt"):
        split_iid(3, 5, 0)
    with pytest.raises(DataError, match="class indices"):
        split_dirichlet(np.array([0.5, 1.5]), 2, 1.0, 0)


def test_holdout_is_stratified_and_disjoint():
    labels = np.array([0] * 70 + [1] * 30)
    rest, validation, test = split_holdout(
        100, test_fraction=0.2, validation_fraction=0.1, seed=5, labels=labels
    )
    _assert_partition([rest, validation, test], 100)
    assert np.bincount(labels[test]).tolist() == [14, 6]
    assert np.bincount(labels[validation]).tolist() == [7, 3]
    with pytest.raises(DataError, match="fractions"):
        split_holdout(10, test_fraction=0.6, validation_fraction=0.5, seed=0)


def test_partition_deals_images_and_holds_out_validation_and_test():
    schema = load_schema("mnist")
    labels = tuple(str(i % 10) for i in range(500))
    raw = RawImages("toy", np.zeros((500, 1, 28, 28), dtype=np.uint8), labels)
    parts = partition(schema, raw, parties=5, mode="dirichlet", alpha=0.5, seed=0)
    assert list(parts) == [f"party-0{k}" for k in range(1, 6)] + ["validation", "test"]
    _assert_partition(list(parts.values()), 500)
    assert len(parts["test"]) == 100 and len(parts["validation"]) == 50
    with pytest.raises(DataError, match="mode"):
        partition(schema, raw, parties=5, mode="random")  # type: ignore[arg-type]


def test_partition_by_source_keeps_each_hospital_one_party(heart_schema, heart_tables):
    tables = list(heart_tables.values())
    parts = partition_by_source(heart_schema, tables, seed=0)
    _assert_partition(list(parts.values()), 920)
    assert parts["party-01"].max() < 303 <= parts["party-02"].min()
    assert len(parts["test"]) == sum(round(0.2 * n) for n in (164, 139, 188, 106, 8, 115, 51, 149))
