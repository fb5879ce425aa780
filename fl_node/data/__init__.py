"""Data loading: each party's local rows, per-feature statistics, and the demo's hospital split."""

from fl_node.data.hospitals import FederatedSplit, LocalDataset, breast_cancer_hospitals
from fl_node.data.io import load_csv, save_csv
from fl_node.data.stats import FeatureStats, feature_stats, pool_stats

__all__ = [
    "FeatureStats",
    "FederatedSplit",
    "LocalDataset",
    "breast_cancer_hospitals",
    "feature_stats",
    "load_csv",
    "pool_stats",
    "save_csv",
]
