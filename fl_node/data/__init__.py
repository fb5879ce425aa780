"""Data: each party's local rows, the task's data schema, checks, encoding and splits.

- :mod:`~fl_node.data.schema`: the task's :class:`DataSchema` (a table's columns or images, and
  the target), JSON and validated; :mod:`~fl_node.data.schemas` ships ready ones;
- :mod:`~fl_node.data.formats`: reading CSV, NPZ, image folders and MNIST IDX files raw;
- :mod:`~fl_node.data.check`: a party's file against the schema, before training;
- :mod:`~fl_node.data.preprocess`: encoding by the schema's carried rules;
- :mod:`~fl_node.data.derive`: the schema's values from the parties' statistics, which
  :mod:`~fl_node.data.summary` holds as JSON (plans and party summaries);
- :mod:`~fl_node.data.split`: seeded IID, label-Dirichlet and quantity-skewed splits;
- the demo's breast-cancer hospitals, per-feature statistics and the demo's CSV files.
"""

from fl_node.data.check import CheckReport, ColumnCheck, LabelCheck, check
from fl_node.data.derive import (
    derive_schema,
    image_schema,
    infer_plan,
    infer_schema,
    merge_plans,
    pooled_quantile,
    summarise,
)
from fl_node.data.formats import (
    RawImages,
    RawTable,
    concat_raw,
    probe_image_shape,
    read_csv,
    read_idx,
    read_image_folder,
    read_raw,
)
from fl_node.data.hospitals import FederatedSplit, LocalDataset, breast_cancer_hospitals
from fl_node.data.io import load_csv, save_csv
from fl_node.data.partition import PartFile, partition, partition_by_source, write_parts
from fl_node.data.preprocess import encode, load_party
from fl_node.data.schema import (
    CategoricalColumn,
    DataSchema,
    DroppedColumn,
    ImageSpec,
    NumericColumn,
    Target,
)
from fl_node.data.schemas import load_schema
from fl_node.data.split import split_dirichlet, split_holdout, split_iid, split_quantity_skew
from fl_node.data.stats import FeatureStats, feature_stats, pool_stats
from fl_node.data.summary import ColumnPlan, PartySummary, SchemaPlan

__all__ = [
    "CategoricalColumn",
    "CheckReport",
    "ColumnCheck",
    "ColumnPlan",
    "DataSchema",
    "DroppedColumn",
    "FeatureStats",
    "FederatedSplit",
    "ImageSpec",
    "LabelCheck",
    "LocalDataset",
    "NumericColumn",
    "PartFile",
    "PartySummary",
    "RawImages",
    "RawTable",
    "SchemaPlan",
    "Target",
    "breast_cancer_hospitals",
    "check",
    "concat_raw",
    "derive_schema",
    "encode",
    "feature_stats",
    "image_schema",
    "infer_plan",
    "infer_schema",
    "load_csv",
    "load_party",
    "load_schema",
    "merge_plans",
    "partition",
    "partition_by_source",
    "pool_stats",
    "pooled_quantile",
    "probe_image_shape",
    "read_csv",
    "read_idx",
    "read_image_folder",
    "read_raw",
    "save_csv",
    "split_dirichlet",
    "split_holdout",
    "split_iid",
    "split_quantity_skew",
    "summarise",
    "write_parts",
]
