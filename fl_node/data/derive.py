"""Deriving a schema's values from the parties' statistics, never from pooled rows.

The sponsor designs the task from what the listings publish. A :class:`SchemaPlan` says what
each column is (numeric, categorical, dropped), which cells mean missing and how a missing cell
is imputed; each party computes a :class:`PartySummary` of its own file under that plan
(:func:`summarise`: per numeric column its count, sum and range, and for a column imputed by
its median its quantiles every 5 %; per categorical column and for the label, rows per value);
:func:`derive_schema` combines the summaries into a :class:`~fl_node.data.schema.DataSchema`
whose numbers are:

- means: exact (sums over counts);
- medians: solved from the parties' interpolated distributions (:func:`pooled_quantile`; within
  the published quantiles' three significant digits for one party, and within the quantile
  grid's resolution for several);
- ranges: the parties' published ranges, each rounded outward to three significant digits (a
  party's exact minimum or maximum is one of its rows' values);
- category lists, most-frequent categories and label classes: exact.

Plans and summaries are JSON (``to_dict`` / ``from_dict``, bounded and validated like a schema),
so a party can publish its summary with its listing and the sponsor combine them.

:func:`infer_plan` guesses a plan from one file (a column is numeric when every present cell is
a number), which ``fedmarket data schema`` uses to write a schema from a party's own file.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from fl_node.data._cells import category_values, label_numbers, numeric_cells
from fl_node.data.formats import RawImages, RawTable
from fl_node.data.schema import (
    MAX_CATEGORIES,
    MAX_TEXT,
    CategoricalColumn,
    Column,
    DataSchema,
    DroppedColumn,
    ImageSpec,
    NumericColumn,
    Target,
    TargetKind,
    canonical,
)
from fl_node.data.stats import coarse, coarse_ceil, coarse_floor
from fl_node.data.summary import (
    QUANTILE_LEVELS,
    CategorySummary,
    ColumnPlan,
    NumericSummary,
    PartySummary,
    SchemaPlan,
)
from fl_node.errors import DataError, SpecError

_T = TypeVar("_T")


def numeric_summary(
    values: npt.NDArray[np.float64], missing: int = 0, *, quantiles: bool = True
) -> NumericSummary:
    """Summary of numbers (NaN entries are ignored, ``missing`` counted as given).

    Parameters
    ----------
    values : array of float
        The column's values, NaN where missing.
    missing : int, default 0
        Missing cells, as counted by the column's rules.
    quantiles : bool, default True
        Whether to include the quantiles at :data:`QUANTILE_LEVELS` (a median needs them).
    """
    valid = values[~np.isnan(values)]
    if not valid.size:
        return NumericSummary(0, missing, 0.0, math.nan, math.nan, ())
    low, high = coarse_floor(float(valid.min())), coarse_ceil(float(valid.max()))
    return NumericSummary(
        count=int(valid.size),
        missing=missing,
        total=float(valid.sum()),
        minimum=low,
        maximum=high,
        quantiles=_coarse_quantiles(valid, low, high) if quantiles else (),
    )


def _coarse_quantiles(valid: npt.NDArray[np.float64], low: float, high: float) -> tuple[float, ...]:
    """The quantiles at :data:`QUANTILE_LEVELS`, rounded for publishing, from ``low`` to ``high``.

    The ends are the published (outward) range, the inner levels rounded to
    :data:`~fl_node.data.stats.PUBLISHED_DIGITS` significant digits and kept non-decreasing
    inside it: no quantile is a row's value beyond that precision.
    """
    inner = [min(max(coarse(float(q)), low), high) for q in np.quantile(valid, QUANTILE_LEVELS)]
    inner[0], inner[-1] = low, high
    return tuple(float(v) for v in np.maximum.accumulate(inner))


def category_summary(values: Sequence[str | None], where: str = "column") -> CategorySummary:
    """Rows per value (``None`` is missing); more than :data:`MAX_CATEGORIES` values is refused."""
    counts = Counter(v for v in values if v is not None)
    if len(counts) > MAX_CATEGORIES:
        raise DataError(f"{where}: more than {MAX_CATEGORIES} distinct values")
    long = next((v for v in counts if len(v) > MAX_TEXT), None)
    if long is not None:
        raise DataError(f"{where}: a value of {len(long)} characters (at most {MAX_TEXT})")
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], _order(kv[0])))
    return CategorySummary(tuple(ordered), sum(v is None for v in values))


def summarise(plan: SchemaPlan, table: RawTable) -> PartySummary:
    """One party's statistics of ``table`` under ``plan`` (computed where the rows are)."""
    numeric, categorical = [], []
    for col in plan.features():
        cells = table.column(col.name)
        if col.kind == "numeric":
            read = numeric_cells(cells, col.missing_tokens, col.missing_values)
            if read.bad:
                line, cell = table.lines[read.bad[0]], cells[read.bad[0]]
                raise DataError(
                    f"{table.source}, line {line}, column {col.name}: {cell!r} is not a number"
                )
            summary = numeric_summary(
                read.values, int(read.missing.sum()), quantiles=col.rule() == "median"
            )
            numeric.append((col.name, summary))
        else:
            values = category_values(cells, col.missing_tokens).values
            categorical.append((col.name, category_summary(values, f"{table.source}: {col.name}")))
    cells = table.column(plan.target.column)
    label: CategorySummary | NumericSummary
    if plan.target.kind == "regression":
        read = label_numbers(plan.target, cells)
        label = numeric_summary(read.values, int(read.missing.sum()), quantiles=False)
    else:
        values = category_values(cells, plan.target.missing_tokens).values
        label = category_summary(values, f"{table.source}: label")
    return PartySummary(table.rows, tuple(numeric), tuple(categorical), label)


def pooled_quantile(parts: Sequence[NumericSummary], level: float) -> float:
    """The ``level`` quantile of the union, solved from each part's published quantiles.

    Each part's distribution function is the piecewise-linear one through its quantiles, with a
    jump where quantiles tie (a value many rows share); the pooled one is their count-weighted
    mix, inverted where it crosses ``level`` (at the jump's value when it crosses inside one).
    Exact for one part at the published levels; for several, as close as their grids allow.
    """
    used = [p for p in parts if p.count and len(p.quantiles) == len(QUANTILE_LEVELS)]
    if not used:
        raise DataError("pooled_quantile: no part has values")
    grid = np.unique(np.concatenate([np.asarray(p.quantiles) for p in used]))
    total = float(sum(p.count for p in used))
    below = np.zeros_like(grid)  # F(v-) at each grid value
    upto = np.zeros_like(grid)  # F(v)
    for part in used:
        left, right = _part_cdf(part.quantiles, grid)
        below += part.count * left / total
        upto += part.count * right / total
    xs = np.repeat(grid, 2)
    fs = np.maximum.accumulate(np.column_stack([below, upto]).ravel())
    k = int(np.searchsorted(fs, level - 1e-12, side="left"))
    if k == 0:
        return float(xs[0])
    if k >= xs.size:
        return float(xs[-1])
    if xs[k] == xs[k - 1] or fs[k] <= fs[k - 1]:
        return float(xs[k])
    share = (level - fs[k - 1]) / (fs[k] - fs[k - 1])
    return float(xs[k - 1] + share * (xs[k] - xs[k - 1]))


def _part_cdf(
    quantiles: Sequence[float], grid: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """A part's distribution function on ``grid``: its left limits and its values."""
    qs = np.asarray(quantiles, dtype=np.float64)
    levels = np.asarray(QUANTILE_LEVELS)
    left = np.empty_like(grid)
    right = np.empty_like(grid)
    for i, g in enumerate(grid):
        left[i] = _interpolate(qs, levels, g, int(np.searchsorted(qs, g, side="left")) - 1)
        right[i] = _interpolate(qs, levels, g, int(np.searchsorted(qs, g, side="right")) - 1)
    return left, right


def _interpolate(
    qs: npt.NDArray[np.float64], levels: npt.NDArray[np.float64], g: float, j: int
) -> float:
    """The level at ``g`` on the segment that starts at quantile ``j`` (-1: before the first)."""
    if j < 0:
        return 0.0
    if j >= qs.size - 1:
        return 1.0
    if qs[j] == g:
        return float(levels[j])
    step = (g - qs[j]) / (qs[j + 1] - qs[j])
    return float(levels[j] + step * (levels[j + 1] - levels[j]))


def _numeric_column(plan: ColumnPlan, parts: Sequence[NumericSummary]) -> NumericColumn:
    used = [p for p in parts if p.count]
    if not used:
        raise DataError(f"column {plan.name}: no party has a value (drop it)")
    low, high = min(p.minimum for p in used), max(p.maximum for p in used)
    rule = plan.rule()
    if rule == "mean":
        fill = sum(p.total for p in used) / sum(p.count for p in used)
    elif rule == "median":
        fill = pooled_quantile(used, 0.5)
    elif isinstance(plan.constant, int | float):
        fill = float(plan.constant)
    else:
        raise SpecError(f"column {plan.name}: a constant fill needs a number")
    return NumericColumn(
        name=plan.name,
        minimum=min(low, fill),
        maximum=max(high, fill),
        fill=fill,
        impute=rule,
        missing_tokens=plan.missing_tokens,
        missing_values=plan.missing_values,
        max_missing=plan.max_missing,
    )


def _order(value: str) -> tuple[int, float, str]:
    try:
        return (0, float(value), value)
    except ValueError:
        return (1, 0.0, value)


def _categorical_column(plan: ColumnPlan, parts: Sequence[CategorySummary]) -> CategoricalColumn:
    counts: Counter[str] = Counter()
    for part in parts:
        counts.update(dict(part.counts))
    declared = [canonical(c) for c in plan.categories]
    categories = list(dict.fromkeys([*declared, *sorted(counts, key=_order)]))
    if plan.rule() == "most-frequent":
        if not counts:
            raise DataError(f"column {plan.name}: no party has a value (drop it)")
        fill = min(counts, key=lambda k: (-counts[k], _order(k)))
    else:
        fill = canonical(str(plan.constant))
        categories = list(dict.fromkeys([*categories, fill]))
    if len(categories) > MAX_CATEGORIES:
        raise DataError(f"column {plan.name}: more than {MAX_CATEGORIES} categories")
    return CategoricalColumn(
        name=plan.name,
        categories=tuple(categories),
        fill=fill,
        impute=plan.rule(),
        missing_tokens=plan.missing_tokens,
        max_missing=plan.max_missing,
    )


def _target(target: Target, labels: Sequence[CategorySummary | NumericSummary]) -> Target:
    if target.kind == "regression":
        return target
    if target.kind == "binary" and target.negative:
        return target
    if target.kind == "multiclass" and target.classes:
        return target
    seen = {v for part in labels if isinstance(part, CategorySummary) for v, _ in part.counts}
    values = sorted(seen, key=_order)
    if target.kind == "multiclass":
        return replace(target, classes=tuple(values))
    if target.positive:
        positive = {canonical(v) for v in target.positive}
        return replace(target, negative=tuple(v for v in values if v not in positive))
    if len(values) != 2:
        raise DataError(
            f"label {target.column}: {len(values)} values ({', '.join(values[:5])}); "
            "declare which are positive"
        )
    return replace(target, negative=(values[0],), positive=(values[1],))


def derive_schema(plan: SchemaPlan, summaries: Sequence[PartySummary]) -> DataSchema:
    """The schema whose fills, ranges, categories and classes come from the parties' summaries.

    Parameters
    ----------
    plan : SchemaPlan
        The kinds, missing rules and imputation rules.
    summaries : sequence of PartySummary
        One per party, from :func:`summarise` under the same plan.
    """
    if not summaries:
        raise DataError("derive_schema: need at least one party's summary")
    columns: list[Column] = []
    for col in plan.columns:
        if col.kind == "numeric":
            parts = [_lookup(s.numeric, col.name) for s in summaries]
            columns.append(_numeric_column(col, parts))
        elif col.kind == "categorical":
            cats = [_lookup(s.categorical, col.name) for s in summaries]
            columns.append(_categorical_column(col, cats))
        else:
            columns.append(DroppedColumn(col.name))
    return DataSchema(
        name=plan.name,
        target=_target(plan.target, [s.label for s in summaries]),
        columns=tuple(columns),
        missing_limit=plan.missing_limit,
        notes=plan.notes,
    )


def _lookup(pairs: tuple[tuple[str, _T], ...], name: str) -> _T:
    found = dict(pairs)
    if name not in found:
        raise DataError(f"a party's summary has no column {name!r}")
    return found[name]


def _is_numeric(cells: Sequence[str], tokens: Sequence[str], values: Sequence[float]) -> bool:
    return not numeric_cells(cells, tokens, values).bad


def infer_plan(
    table: RawTable,
    *,
    label: str,
    kind: TargetKind,
    name: str = "dataset",
    categorical: Sequence[str] = (),
    drop: Sequence[str] = (),
    missing_tokens: Sequence[str] = (),
    missing_values: Mapping[str, Sequence[float]] | None = None,
    numeric_impute: str = "mean",
    positive: Sequence[str] = (),
) -> SchemaPlan:
    """A plan guessed from one file: numeric where every present cell is a number.

    Parameters
    ----------
    table : RawTable
        The party's file.
    label : str
        The label column.
    kind : {"binary", "multiclass", "regression"}
        The target's kind.
    name : str, default "dataset"
        The schema's name.
    categorical : sequence of str, default ()
        Columns to treat as categories even when they hold numbers.
    drop : sequence of str, default ()
        Columns to ignore.
    missing_tokens : sequence of str, default ()
        Cells that mean missing in every column (``"?"``).
    missing_values : mapping or None, default None
        Column -> numbers that mean missing there (``{"chol": [0]}``).
    numeric_impute : {"mean", "median"}, default "mean"
        The rule for numeric columns.
    positive : sequence of str, default ()
        For a binary target, the label values that mean 1 (the others mean 0); when empty, a
        label with two values takes the larger as positive.
    """
    named = (label, *categorical, *drop, *(missing_values or {}))
    unknown = [c for c in named if c not in table.columns]
    if unknown:
        listed = ", ".join(table.columns)
        raise DataError(f"{table.source}: no column {unknown[0]!r} (columns: {listed})")
    tokens = tuple(missing_tokens)
    plans = []
    for col in table.columns:
        values = tuple((missing_values or {}).get(col, ()))
        if col == label or col in drop:
            plans.append(ColumnPlan(col, "drop"))
        elif col in categorical or not _is_numeric(table.column(col), tokens, values):
            plans.append(ColumnPlan(col, "categorical", missing_tokens=tokens))
        else:
            plans.append(ColumnPlan(col, "numeric", numeric_impute, None, tokens, values))
    target = Target(label, kind, positive=tuple(positive), missing_tokens=tokens)
    return SchemaPlan(name, tuple(plans), target)


def merge_plans(plans: Sequence[SchemaPlan]) -> SchemaPlan:
    """One plan for several parties' files: a column is categorical where any file's is.

    Parameters
    ----------
    plans : sequence of SchemaPlan
        :func:`infer_plan` of each file, with the same columns.
    """
    if not plans:
        raise DataError("merge_plans: no plan")
    first = plans[0]
    kinds = [{c.name: c for c in p.columns} for p in plans]
    columns = []
    for col in first.columns:
        if any(col.name not in k for k in kinds):
            raise DataError(f"merge_plans: column {col.name!r} is not in every file")
        if any(k[col.name].kind == "categorical" for k in kinds):
            col = replace(col, kind="categorical", impute="", missing_values=())
        columns.append(col)
    return replace(first, columns=tuple(columns))


def infer_schema(table: RawTable, **options: object) -> DataSchema:
    """:func:`derive_schema` of :func:`infer_plan`'s plan from this one file's summary."""
    plan = infer_plan(table, **options)  # type: ignore[arg-type]
    return derive_schema(plan, [summarise(plan, table)])


def image_schema(
    images: RawImages, *, name: str = "images", kind: TargetKind = "multiclass"
) -> DataSchema:
    """A schema for ``images``: their shape, their labels as classes, 0..255 or 0..1 pixels."""
    n, c, h, w = images.x.shape
    classes = tuple(sorted(set(images.labels), key=_order))
    if len(classes) > MAX_CATEGORIES:
        raise DataError(f"{images.source}: more than {MAX_CATEGORIES} classes")
    pixel_max = 255.0 if n and float(np.max(images.x)) > 1.0 else 1.0
    target = Target("label", kind, classes=classes)
    if kind == "binary":
        if len(classes) != 2:
            raise DataError(f"{images.source}: a binary target needs 2 classes, not {len(classes)}")
        target = Target("label", kind, positive=(classes[1],), negative=(classes[0],))
    return DataSchema(name=name, target=target, image=ImageSpec(int(c), int(h), int(w), pixel_max))
