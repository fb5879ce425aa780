"""Checking a party's raw data against the task's schema before it trains.

:func:`check` reads nothing itself and changes nothing: it counts, per column, missing cells
(against the sponsor contract's limit, 5 % unless the schema says otherwise for a column), values
outside the declared range, text where a number belongs and categories the schema does not
declare; for the label, the balance of classes and the values it cannot map. Each fault is one
readable line naming the column and the first file line where it occurs; the report is ``ok``
when there is none.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass

import numpy as np

from fl_node.data._cells import category_cells, column_cells, label_indices, label_numbers
from fl_node.data.formats import RawData, RawImages, RawTable
from fl_node.data.schema import CategoricalColumn, DataSchema, NumericColumn, canonical

SHOWN = 5
"""Unknown values quoted in a line, at most."""


@dataclass(frozen=True)
class ColumnCheck:
    """One feature column's counts: missing (and its limit), out of range, unreadable, unknown."""

    name: str
    kind: str
    missing: int
    missing_fraction: float
    limit: float
    out_of_range: int = 0
    not_numeric: int = 0
    unknown: tuple[str, ...] = ()
    unknown_count: int = 0
    first_line: int | None = None
    minimum: float | None = None
    maximum: float | None = None

    @property
    def ok(self) -> bool:
        """Whether nothing is wrong with the column."""
        faults = self.out_of_range + self.not_numeric + self.unknown_count
        return self.missing_fraction <= self.limit and not faults

    def problems(self) -> list[str]:
        """One line per fault."""
        at = f" (first at line {self.first_line})" if self.first_line else ""
        lines = []
        if self.missing_fraction > self.limit:
            lines.append(
                f"column {self.name}: {self.missing_fraction:.1%} missing "
                f"({self.missing} cells; limit {self.limit:.1%})"
            )
        if self.not_numeric:
            lines.append(f"column {self.name}: {self.not_numeric} cells are not numbers{at}")
        if self.out_of_range:
            lines.append(
                f"column {self.name}: {self.out_of_range} values outside "
                f"[{self.minimum:g}, {self.maximum:g}]{at}"
            )
        if self.unknown_count:
            shown = ", ".join(repr(u) for u in self.unknown)
            lines.append(
                f"column {self.name}: {self.unknown_count} cells of undeclared categories "
                f"({shown}){at}"
            )
        return lines


@dataclass(frozen=True)
class LabelCheck:
    """The label's balance (class value, rows) and the rows it cannot use."""

    kind: str
    counts: tuple[tuple[str, int], ...]
    missing: int
    unknown: tuple[str, ...] = ()
    unknown_count: int = 0
    out_of_range: int = 0
    first_line: int | None = None
    low: float | None = None
    high: float | None = None

    def problems(self) -> list[str]:
        """One line per fault."""
        at = f" (first at line {self.first_line})" if self.first_line else ""
        lines = []
        if self.missing:
            lines.append(f"label: {self.missing} rows have no label{at}")
        if self.unknown_count:
            shown = ", ".join(repr(u) for u in self.unknown)
            lines.append(f"label: {self.unknown_count} rows with undeclared values ({shown}){at}")
        if self.out_of_range:
            lines.append(f"label: {self.out_of_range} values outside its range{at}")
        return lines

    def balance(self) -> str:
        """The classes' shares on one line (the range of a regression target)."""
        if self.kind == "regression":
            return "no values" if self.low is None else f"values from {self.low:g} to {self.high:g}"
        total = sum(n for _, n in self.counts) or 1
        return ", ".join(f"{name}: {n} ({n / total:.1%})" for name, n in self.counts)


@dataclass(frozen=True)
class CheckReport:
    """The check of one file: rows, per-column counts, the label, and every fault found."""

    source: str
    rows: int
    columns: tuple[ColumnCheck, ...]
    label: LabelCheck
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """Whether the file may train under the schema."""
        return not self.problems

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form: the verdict, counts per column and the label's balance."""
        return {
            "source": self.source,
            "ok": self.ok,
            "rows": self.rows,
            "problems": list(self.problems),
            "columns": [asdict(c) for c in self.columns],
            "label": {**asdict(self.label), "counts": dict(self.label.counts)},
        }

    def lines(self) -> list[str]:
        """A readable report: a summary, the label balance, then one line per fault."""
        verdict = "ok" if self.ok else f"{len(self.problems)} problem(s)"
        out = [
            f"{self.source}: {self.rows} rows, {verdict}",
            f"label ({self.label.kind}): {self.label.balance()}",
        ]
        for col in self.columns:
            if col.missing:
                out.append(
                    f"  {col.name}: {col.missing_fraction:.1%} missing (limit {col.limit:.0%})"
                )
        out.extend(f"problem: {p}" for p in self.problems)
        return out


def _line(table: RawTable, positions: list[int] | np.ndarray) -> int | None:
    return table.lines[int(positions[0])] if len(positions) else None


def _check_numeric(schema: DataSchema, col: NumericColumn, table: RawTable) -> ColumnCheck:
    read = column_cells(col, table.column(col.name))
    with np.errstate(invalid="ignore"):
        outside = np.flatnonzero((read.values < col.minimum) | (read.values > col.maximum))
    faults = sorted([*read.bad, *outside.tolist()])
    missing = int(read.missing.sum())
    return ColumnCheck(
        name=col.name,
        kind="numeric",
        missing=missing,
        missing_fraction=missing / max(1, table.rows),
        limit=schema.limit_of(col),
        out_of_range=len(outside),
        not_numeric=len(read.bad),
        first_line=_line(table, faults),
        minimum=col.minimum,
        maximum=col.maximum,
    )


def _check_categorical(schema: DataSchema, col: CategoricalColumn, table: RawTable) -> ColumnCheck:
    read = category_cells(col, table.column(col.name))
    declared = {canonical(c) for c in col.categories}
    bad = [i for i, v in enumerate(read.values) if v is not None and v not in declared]
    unknown = tuple(dict.fromkeys(str(read.values[i]) for i in bad))
    return ColumnCheck(
        name=col.name,
        kind="categorical",
        missing=read.missing,
        missing_fraction=read.missing / max(1, table.rows),
        limit=schema.limit_of(col),
        unknown=unknown[:SHOWN],
        unknown_count=len(bad),
        first_line=_line(table, bad),
    )


def _check_classes(
    schema: DataSchema, raw_labels: tuple[str, ...], lines: tuple[int, ...]
) -> LabelCheck:
    index = label_indices(schema.target, raw_labels)
    names = schema.class_names
    counts = np.bincount(index[index >= 0], minlength=schema.n_classes)
    faults = np.flatnonzero(index < 0)
    unknown = Counter(canonical(raw_labels[i]) for i in np.flatnonzero(index == -2))
    return LabelCheck(
        kind=schema.target_kind,
        counts=tuple((names[k], int(counts[k])) for k in range(schema.n_classes)),
        missing=int((index == -1).sum()),
        unknown=tuple(u for u, _ in unknown.most_common(SHOWN)),
        unknown_count=sum(unknown.values()),
        first_line=lines[int(faults[0])] if len(faults) else None,
    )


def _check_regression(
    schema: DataSchema, raw_labels: tuple[str, ...], lines: tuple[int, ...]
) -> LabelCheck:
    read = label_numbers(schema.target, raw_labels)
    low = -np.inf if schema.target.minimum is None else schema.target.minimum
    high = np.inf if schema.target.maximum is None else schema.target.maximum
    with np.errstate(invalid="ignore"):
        outside = np.flatnonzero((read.values < low) | (read.values > high))
    faults = sorted([*read.bad, *np.flatnonzero(read.missing).tolist(), *outside.tolist()])
    valid = read.values[~np.isnan(read.values)]
    return LabelCheck(
        kind="regression",
        counts=(),
        low=float(valid.min()) if valid.size else None,
        high=float(valid.max()) if valid.size else None,
        missing=int(read.missing.sum()),
        unknown=tuple(raw_labels[i] for i in read.bad[:SHOWN]),
        unknown_count=len(read.bad),
        out_of_range=len(outside),
        first_line=lines[faults[0]] if faults else None,
    )


def _check_label(
    schema: DataSchema, raw_labels: tuple[str, ...], lines: tuple[int, ...]
) -> LabelCheck:
    if schema.target_kind == "regression":
        return _check_regression(schema, raw_labels, lines)
    return _check_classes(schema, raw_labels, lines)


def _check_table(schema: DataSchema, table: RawTable) -> CheckReport:
    columns = []
    for col in schema.feature_columns:
        if isinstance(col, NumericColumn):
            columns.append(_check_numeric(schema, col, table))
        else:
            columns.append(_check_categorical(schema, col, table))
    label = _check_label(schema, table.column(schema.target.column), table.lines)
    problems = [p for c in columns for p in c.problems()] + label.problems()
    if table.rows == 0:
        problems.insert(0, "the file has no rows")
    return CheckReport(table.source, table.rows, tuple(columns), label, tuple(problems))


def _check_images(schema: DataSchema, images: RawImages) -> CheckReport:
    assert schema.image is not None
    problems = []
    if images.x.shape[1:] != schema.image.shape:
        problems.append(
            f"images of shape {images.x.shape[1:]}, the schema declares {schema.image.shape}"
        )
    pixels = images.x.astype(np.float64, copy=False)
    finite = np.isfinite(pixels)
    if not finite.all():
        problems.append(f"pixels: {int((~finite).sum())} values are not finite numbers")
    outside = int(((pixels < 0) | (pixels > schema.image.pixel_max)).sum())
    if outside:
        problems.append(f"pixels: {outside} values outside [0, {schema.image.pixel_max:g}]")
    lines = tuple(range(1, images.rows + 1))
    label = _check_label(schema, images.labels, lines)
    problems.extend(p.replace("line", "image") for p in label.problems())
    if images.rows == 0:
        problems.insert(0, "the file has no images")
    return CheckReport(images.source, images.rows, (), label, tuple(problems))


def check(schema: DataSchema, raw: RawData) -> CheckReport:
    """Check ``raw`` against ``schema``.

    Parameters
    ----------
    schema : DataSchema
        The task's schema.
    raw : RawTable or RawImages
        A party's data as :func:`fl_node.data.formats.read_raw` returns it.
    """
    if isinstance(raw, RawImages):
        if schema.image is None:
            return CheckReport(
                raw.source,
                raw.rows,
                (),
                LabelCheck(schema.target_kind, (), 0),
                ("the file holds images, the schema declares a table",),
            )
        return _check_images(schema, raw)
    if schema.image is not None:
        return CheckReport(
            raw.source,
            raw.rows,
            (),
            LabelCheck(schema.target_kind, (), 0),
            ("the file holds a table, the schema declares images",),
        )
    return _check_table(schema, raw)
