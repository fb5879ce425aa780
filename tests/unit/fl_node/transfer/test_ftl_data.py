"""The two domains from X-Wines-shaped files, the split, the pooled problem, the PSI alignment."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fl_node.transfer import (
    TransferInputError,
    align,
    load_domains,
    pooled_problem,
    split_target,
    target_problem,
)

WINES = "WineID,WineName,Type\n1,a,Red\n2,b,White\n3,c,Sparkling\n4,d,Red\n"
RATINGS = (
    "RatingID,UserID,WineID,Vintage,Rating,Date\n"
    "1,10,1,2000,4.0,x\n2,10,2,2000,3.5,x\n3,11,3,2000,5.0,x\n4,12,4,2000,2.0,x\n"
    "5,12,2,2000,4.5,x\n6,13,1,2000,1.0,x\n7,11,2,2000,3.0,x\n"
)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "XWines_Slim_1K_wines.csv").write_text(WINES)
    (tmp_path / "XWines_Slim_150K_ratings.csv").write_text(RATINGS)
    return tmp_path


def test_domains_split_by_wine_type(folder: Path) -> None:
    target, source = load_domains(folder)
    assert target.user_ids.tolist() == [10, 11, 12] and source.user_ids.tolist() == [10, 12, 13]
    assert target.item_ids.tolist() == [2, 3] and source.item_ids.tolist() == [1, 4]
    triples = {
        (int(target.user_ids[u]), int(target.item_ids[i]), float(v))
        for u, i, v in zip(
            target.ratings.users, target.ratings.items, target.ratings.values, strict=True
        )
    }
    assert triples == {(10, 2, 3.5), (11, 3, 5.0), (12, 2, 4.5), (11, 2, 3.0)}
    assert len(source.ratings) == 3


def test_split_is_a_seeded_partition() -> None:
    from fl_node.transfer import Ratings

    n = 1_000
    r = Ratings(np.arange(n), np.zeros(n, dtype=np.int64), np.arange(n, dtype=np.float64))
    a, b = split_target(r, 1), split_target(r, 1)
    parts = [a.train.values, a.valid.values, a.test.values]
    assert sorted(np.concatenate(parts).tolist()) == list(range(n))
    assert [len(p) for p in parts] == [700, 100, 200]
    assert np.array_equal(a.test.values, b.test.values)
    assert not np.array_equal(a.test.values, split_target(r, 2).test.values)
    with pytest.raises(TransferInputError):
        split_target(r, 0, valid=0.6, test=0.5)


def test_pooled_problem_merges_shared_users_only(folder: Path) -> None:
    target, source = load_domains(folder)
    split = split_target(target.ratings, 0, valid=0.25, test=0.25)
    pooled = pooled_problem(target, split, source)
    assert pooled.n_users == 4 and pooled.n_items == 4  # users 10..13; 2 + 2 wines
    union = [10, 11, 12, 13]
    by_user: dict[int, int] = {}
    for u in pooled.train.users:
        by_user[union[u]] = by_user.get(union[u], 0) + 1
    train_t = {int(target.user_ids[u]) for u in split.train.users}
    assert set(by_user) == train_t | {10, 12, 13}
    np.testing.assert_allclose(
        pooled.train.values[: len(split.train)], split.train.values - pooled.mu
    )
    alone = target_problem(target, split)
    assert alone.n_users == 3 and alone.mu == pooled.mu


def test_psi_alignment_finds_the_intersection() -> None:
    a = np.array([5, 9, 2, 40, 7], dtype=np.int64)
    b = np.array([7, 100, 5, 3], dtype=np.int64)
    got = align(a, b, workers=1)
    assert got.shared_ids.tolist() == [5, 7]
    manifest = got.manifest(3)
    assert manifest["intersection_size"] == 2 and manifest["guest_size"] == 5
    assert len(manifest["commitment"]) == 66 and "ids" not in manifest
