"""Ready schemas shipped with the package: the UCI heart-disease hospitals and MNIST.

``heart_disease.json`` reads the raw UCI files (``processed.*.data``, no header) with nothing
cleaned by hand: ``?`` is missing everywhere, ``trestbps == 0`` and ``chol == 0`` are missing,
``cp``, ``restecg``, ``slope`` and ``thal`` are categories, ``ca`` is dropped (two thirds of it
is missing), the label is ``num > 0``. Its fill values and ranges are derived by
:func:`fl_node.data.derive.derive_schema` from the four hospitals' summaries under
:func:`heart_disease_plan` (a test checks that the file is exactly that derivation).
"""

from __future__ import annotations

import json
from importlib import resources

from fl_node.data.schema import DataSchema, Target
from fl_node.data.summary import ColumnPlan, SchemaPlan
from fl_node.errors import DataError

READY = {"heart-disease": "heart_disease.json", "mnist": "mnist.json"}
"""Ready schema name -> its file in this package."""

HEART_COLUMNS = (
    "age", "sex", "cp", "trestbps", "chol", "fbs", "restecg",
    "thalach", "exang", "oldpeak", "slope", "ca", "thal", "num",
)  # fmt: skip
"""The UCI files' 14 columns, in order (the files have no header)."""

_HEART_SPARSE = ("trestbps", "chol", "fbs", "thalach", "exang", "oldpeak", "slope", "thal")
_HEART_NOTES = (
    "UCI Heart Disease (Cleveland, Hungarian, Switzerland, VA), the raw processed.*.data files "
    "(no header). '?' means missing everywhere; trestbps == 0 and chol == 0 mean missing. ca is "
    "dropped (two thirds missing). slope and thal are sparse at some hospitals: a missing cell is "
    "its own category 'missing'. Numeric and 0/1 columns take the pooled median. The columns known "
    "to be sparse at some hospitals (" + ", ".join(_HEART_SPARSE) + ") may exceed the 5 % missing "
    "limit (max_missing 1.0). Fill values and ranges derived by fl_node.data.derive from the four "
    "hospitals' summaries, no pooled rows. Label: num 0 = no disease, 1-4 = disease."
)


def _heart_column(name: str) -> ColumnPlan:
    limit = 1.0 if name in _HEART_SPARSE else None
    if name in ("num", "ca"):
        return ColumnPlan(name, "drop")
    if name in ("slope", "thal"):
        return ColumnPlan(name, "categorical", "constant", "missing", ("?",), (), limit)
    if name in ("cp", "restecg"):
        return ColumnPlan(name, "categorical", missing_tokens=("?",), max_missing=limit)
    zero = (0.0,) if name in ("trestbps", "chol") else ()
    return ColumnPlan(name, "numeric", "median", None, ("?",), zero, limit)


def heart_disease_plan() -> SchemaPlan:
    """The plan the ready heart-disease schema is derived under."""
    target = Target(
        "num", "binary", positive=("1", "2", "3", "4"), negative=("0",),
        class_names=("no disease", "disease"),
    )  # fmt: skip
    columns = tuple(_heart_column(c) for c in HEART_COLUMNS)
    return SchemaPlan("heart-disease", columns, target, notes=_HEART_NOTES)


def load_schema(name: str) -> DataSchema:
    """A ready schema by name (:data:`READY`).

    Parameters
    ----------
    name : str
        ``"heart-disease"`` or ``"mnist"``.
    """
    if name not in READY:
        raise DataError(f"no ready schema {name!r} (ready: {', '.join(READY)})")
    text = resources.files(__name__).joinpath(READY[name]).read_text(encoding="utf-8")
    return DataSchema.from_dict(json.loads(text))
