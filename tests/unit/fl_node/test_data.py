"""The hospital split, statistics pooling and per-party CSV files."""

import numpy as np
import pytest

from fl_node.data import (
    LocalDataset,
    breast_cancer_hospitals,
    feature_stats,
    load_csv,
    pool_stats,
    save_csv,
)
from fl_node.data.stats import FeatureStats
from fl_node.errors import DataError


def test_split_is_deterministic_disjoint_and_non_iid():
    a, b = breast_cancer_hospitals(seed=5), breast_cancer_hospitals(seed=5)
    assert all(np.array_equal(x.x, y.x) for x, y in zip(a.hospitals, b.hospitals, strict=True))
    parts = [*a.hospitals, a.validation, a.test]
    rows = [tuple(r) for p in parts for r in p.x.tolist()]
    assert sum(p.rows for p in parts) == 569
    assert len(set(rows)) == len(rows)  # no row in two places (the data has no duplicates)
    rates = [h.positive_rate() for h in a.hospitals]
    assert max(rates) - min(rates) > 0.2  # label skew
    assert min(h.rows for h in a.hospitals) >= 25
    assert breast_cancer_hospitals(seed=6).hospitals[0].rows != a.hospitals[
        0
    ].rows or not np.array_equal(breast_cancer_hospitals(seed=6).hospitals[0].x, a.hospitals[0].x)


def test_pooled_statistics_equal_those_of_the_union():
    split = breast_cancer_hospitals()
    mean, std = pool_stats([h.stats() for h in split.hospitals])
    union = np.concatenate([h.x for h in split.hospitals]).astype(np.float64)
    assert np.allclose(mean, union.mean(axis=0), rtol=1e-9)
    assert np.allclose(std, union.std(axis=0), rtol=1e-6)


def test_feature_stats_validation():
    stats = feature_stats(np.array([[1.0, 2.0], [3.0, 2.0]], dtype=np.float32))
    assert FeatureStats.from_dict(stats.to_dict()) == stats
    bad = stats.to_dict() | {"std": [1.0]}
    with pytest.raises(DataError):
        FeatureStats.from_dict(bad)
    with pytest.raises(DataError):
        FeatureStats.from_dict(stats.to_dict() | {"mean": [float("nan"), 0.0]})
    assert pool_stats([stats])[1][1] == 1.0  # zero std replaced so scaling is safe


def test_csv_round_trip_and_validation(tmp_path):
    data = LocalDataset(
        "h", np.array([[0.5, 1.5], [2.0, -1.0]], np.float32), np.array([1, 0], np.float32)
    )
    path = save_csv(data, ["a", "b"], tmp_path / "h.csv")
    loaded = load_csv(path, feature_names=["a", "b"])
    assert np.array_equal(loaded.x, data.x) and np.array_equal(loaded.y, data.y)
    with pytest.raises(DataError):
        load_csv(path, feature_names=["a", "c"])
    with pytest.raises(DataError):
        load_csv(tmp_path / "missing.csv")
    (tmp_path / "bad.csv").write_text("a,b,label\n1,x,0\n")
    with pytest.raises(DataError):
        load_csv(tmp_path / "bad.csv")
    (tmp_path / "lbl.csv").write_text("a,b,label\n1,2,3\n")
    with pytest.raises(DataError):
        load_csv(tmp_path / "lbl.csv")
