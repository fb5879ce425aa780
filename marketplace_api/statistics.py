"""A listing's published statistics, typed and checked, and the quality checks the API derives.

:class:`FeatureStatistics` is the ``statistics`` of a listing's metadata document: one value per
numeric column (``float`` and ``int``, in schema order) of ``mean``, ``std``, ``min`` and ``max``,
the number of rows summarised (``count``) and, optionally, the values ``missing`` per column and
the ``columns`` named. Every value is finite and at most :data:`MAX_MAGNITUDE` in magnitude, every
column has ``min <= mean <= max`` and ``0 <= std <= max - min``: a document cannot carry
statistics no dataset has. The schema-dependent checks (column count and names, counts within
``row_count``) are :func:`schema_faults`, called by the listing's schema.

:func:`quality_report` is what the sponsor contract asks of a listing, computed by the API from
the statistics and the schema, never taken from the owner: missing values at most
:data:`MISSING_LIMIT` per column, and values outside a column's declared range flagged.

The optional fields are left out of the JSON form when absent (:func:`is_none`), so
documents signed before they existed keep their bytes, hash and CID.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Protocol

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from kernel.errors import InvalidInputError

MAX_MAGNITUDE = 1e15
"""The largest magnitude a published statistic may have."""
MAX_STAT_COLUMNS = 4096
MISSING_LIMIT = 0.05
"""Largest share of missing values per column the sponsor contract accepts."""
NUMERIC = frozenset({"float", "int"})
"""Schema dtypes the statistics describe."""
_INT64_MAX = 2**63 - 1
_SLACK = 1e-9
"""Relative rounding slack of the order checks (a constant column's mean may miss by an ulp)."""

Stat = Annotated[float, Field(allow_inf_nan=False, ge=-MAX_MAGNITUDE, le=MAX_MAGNITUDE)]
"""One published statistic: finite and bounded."""
Spread = Annotated[float, Field(allow_inf_nan=False, ge=0.0, le=MAX_MAGNITUDE)]
"""A standard deviation: finite, non-negative, bounded."""
ColumnName = Annotated[str, StringConstraints(min_length=1, max_length=200)]


def is_none(value: object) -> bool:
    """``exclude_if`` of the optional fields: absent from the JSON form when ``None``."""
    return value is None


def _close_below(low: float, high: float) -> bool:
    """``low <= high`` up to rounding."""
    return low <= high + _SLACK * max(1.0, abs(low), abs(high))


class FeatureStatistics(BaseModel):
    """Statistics of a dataset's numeric columns, in schema order (``FeatureStats.to_dict``).

    Attributes
    ----------
    count : int
        Rows summarised (at most the listing's ``row_count``).
    mean, std, min, max : list of float
        One value per numeric column.
    missing : list of int or None, default None
        Values missing per numeric column, among the ``count`` rows.
    columns : list of str or None, default None
        The numeric columns' names; when given, the schema's numeric columns in order.
    """

    model_config = ConfigDict(extra="forbid")

    count: int = Field(ge=1, le=_INT64_MAX)
    mean: list[Stat] = Field(min_length=1, max_length=MAX_STAT_COLUMNS)
    std: list[Spread] = Field(min_length=1, max_length=MAX_STAT_COLUMNS)
    min: list[Stat] = Field(min_length=1, max_length=MAX_STAT_COLUMNS)
    max: list[Stat] = Field(min_length=1, max_length=MAX_STAT_COLUMNS)
    missing: list[Annotated[int, Field(ge=0, le=_INT64_MAX)]] | None = Field(
        default=None, max_length=MAX_STAT_COLUMNS, exclude_if=is_none
    )
    columns: list[ColumnName] | None = Field(
        default=None, max_length=MAX_STAT_COLUMNS, exclude_if=is_none
    )

    @model_validator(mode="after")
    def _consistent(self) -> FeatureStatistics:
        width = len(self.mean)
        sizes = [len(self.std), len(self.min), len(self.max)]
        sizes += [len(v) for v in (self.missing, self.columns) if v is not None]
        if any(size != width for size in sizes):
            raise InvalidInputError("statistics must give one value per column in every field")
        for i, (mean, std, low, high) in enumerate(
            zip(self.mean, self.std, self.min, self.max, strict=True)
        ):
            if low > high:
                raise InvalidInputError(f"column {i}: min {low} exceeds max {high}")
            if not (_close_below(low, mean) and _close_below(mean, high)):
                raise InvalidInputError(f"column {i}: mean {mean} lies outside [{low}, {high}]")
            if not _close_below(std, high - low):
                raise InvalidInputError(f"column {i}: std {std} exceeds the range max - min")
        if self.missing is not None and any(m > self.count for m in self.missing):
            raise InvalidInputError("statistics: missing values exceed count")
        return self


class NumericColumn(Protocol):
    """What the checks read of a schema column."""

    @property
    def name(self) -> str:
        """The column's name."""

    @property
    def dtype(self) -> str:
        """Its type (``float``, ``int``, ``bool``...)."""

    @property
    def minimum(self) -> float | None:
        """The smallest valid value, when declared."""

    @property
    def maximum(self) -> float | None:
        """The largest valid value, when declared."""


def numeric_columns(columns: Sequence[NumericColumn]) -> list[NumericColumn]:
    """The columns the statistics describe: ``float`` and ``int`` ones, in schema order."""
    return [c for c in columns if c.dtype in NUMERIC]


def schema_faults(
    stats: FeatureStatistics, columns: Sequence[NumericColumn], row_count: int | None
) -> str | None:
    """Why ``stats`` cannot describe a dataset of ``columns`` and ``row_count`` rows, or ``None``.

    Parameters
    ----------
    stats : FeatureStatistics
        The statistics.
    columns : sequence of column specs
        The schema.
    row_count : int or None
        The listing's row count (``None``: unknown, not checked).
    """
    numeric = [c.name for c in numeric_columns(columns)]
    if len(stats.mean) != len(numeric):
        return (
            f"statistics cover {len(stats.mean)} columns but the schema has {len(numeric)} "
            "numeric (float or int) columns"
        )
    if stats.columns is not None and list(stats.columns) != numeric:
        return f"statistics name the columns {stats.columns}, the schema's numeric ones {numeric}"
    if row_count is not None and stats.count > row_count:
        return "statistics count exceeds row_count"
    return None


class QualityChecks(BaseModel):
    """The sponsor contract's checks of a listing, computed by the API from its statistics.

    Attributes
    ----------
    missing_limit : float
        The largest share of missing values accepted per column.
    missing_rates : dict of str to float or None
        Missing values over rows summarised, per numeric column; ``None`` when the statistics do
        not count missing values.
    over_missing_limit : list of str
        Columns whose missing rate exceeds ``missing_limit``.
    out_of_range : list of str
        Columns whose published minimum or maximum leaves the range the schema declares.
    passed : bool or None
        Every check passed; ``None`` when there are no statistics to check.
    """

    missing_limit: float = MISSING_LIMIT
    missing_rates: dict[str, float] | None = None
    over_missing_limit: list[str] = Field(default_factory=list)
    out_of_range: list[str] = Field(default_factory=list)
    passed: bool | None = None


def quality_report(document: Mapping[str, Any] | None) -> dict[str, Any]:
    """The sponsor contract's checks of a listing, from its validated metadata document.

    Works on the document's JSON form (as the index holds it, already validated), without
    building models, so pages of listings stay cheap; :class:`QualityChecks` is its shape.

    Parameters
    ----------
    document : mapping or None
        The metadata document (``schema`` and ``statistics`` are read); ``None`` or one without
        statistics gives the report of nothing checked (``passed`` null).
    """
    stats = (document or {}).get("statistics")
    if not stats:
        return QualityChecks().model_dump()
    numeric = [c for c in (document or {}).get("schema") or [] if c.get("dtype") in NUMERIC]
    missing = stats.get("missing")
    rates: dict[str, float] | None = None
    if missing is not None:
        count = stats["count"]
        rates = {c["name"]: m / count for c, m in zip(numeric, missing, strict=False)}
    over = [name for name, rate in (rates or {}).items() if rate > MISSING_LIMIT]
    outside = [
        c["name"]
        for c, low, high in zip(numeric, stats["min"], stats["max"], strict=False)
        if (c.get("min") is not None and low < c["min"])
        or (c.get("max") is not None and high > c["max"])
    ]
    return {
        "missing_limit": MISSING_LIMIT,
        "missing_rates": rates,
        "over_missing_limit": over,
        "out_of_range": outside,
        "passed": not over and not outside,
    }


__all__ = [
    "is_none",
    "MAX_MAGNITUDE",
    "MISSING_LIMIT",
    "FeatureStatistics",
    "QualityChecks",
    "numeric_columns",
    "quality_report",
    "schema_faults",
]
