"""Read one party's CSV into a :class:`RawTable`: ids as written, typed columns, 0/1 labels.

Nothing is encoded, imputed or dropped here: missing cells stay missing (``NaN`` in a numeric
column, ``None`` in a categorical one) for :mod:`.prep`, and ids stay as written for
:mod:`.ids`. Every error names the file, and where it can the column and the line.

Labels: the label column's values must be ``{0, 1}`` or ``{1, 2}`` (the UCI convention, as
in German credit: 1 good, 2 bad); ``2`` then maps to ``1``, the positive class. Both classes
must occur and no label may be missing.
"""

from __future__ import annotations

import csv
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from fl_node.vertical.tables._errors import SchemaError
from fl_node.vertical.tables.schema import (
    ColumnSpec,
    Schema,
    SchemaSpec,
    check_kinds,
    infer_kind,
    is_missing,
)

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
Role = Literal["guest", "host"]


@dataclass(frozen=True)
class RawTable:
    """One party's table as read: nothing imputed, encoded or dropped.

    Attributes
    ----------
    path : str
        The file (for messages).
    schema : Schema
        The resolved columns.
    ids : tuple of str
        Ids as written, in file order.
    lines : tuple of int
        The line each row starts on (the header is line 1).
    numeric : dict of str to ndarray
        Each numeric column, ``NaN`` where missing.
    categorical : dict of str to tuple of (str or None)
        Each categorical column, ``None`` where missing.
    labels : ndarray or None
        The guest's 0/1 labels (float64); ``None`` on a host.
    """

    path: str
    schema: Schema
    ids: tuple[str, ...]
    lines: tuple[int, ...]
    numeric: dict[str, FloatArray]
    categorical: dict[str, tuple[str | None, ...]]
    labels: FloatArray | None = None

    @property
    def rows(self) -> int:
        """Number of rows."""
        return len(self.ids)

    def missing_counts(self) -> dict[str, int]:
        """Missing cells per feature column, in schema order."""
        out: dict[str, int] = {}
        for name in self.schema.names("numeric"):
            out[name] = int(np.isnan(self.numeric[name]).sum())
        for name in self.schema.names("categorical"):
            out[name] = sum(v is None for v in self.categorical[name])
        return {c.name: out[c.name] for c in self.schema.columns if c.name in out}


def read_table(path: Path, spec: SchemaSpec, *, role: Role) -> RawTable:
    """Read a party's CSV (header row, then one row per customer).

    Parameters
    ----------
    path : Path
        The file: UTF-8, comma-separated, a header row.
    spec : SchemaSpec
        The id column, the label column and the stated kinds.
    role : {"guest", "host"}
        The guest must have the label column; a host must not.

    Returns
    -------
    RawTable
        Ids, typed columns and labels; unstated kinds inferred (logged).

    Raises
    ------
    SchemaError
        Empty file, duplicate or empty header name, missing id column, unknown column, a
        label on a host or none on the guest, a row of the wrong length, a field over the
        CSV limit, a non-numeric value in a numeric column, a bad label.
    """
    header, rows, lines = _read_rows(Path(path))
    where = {name: i for i, name in enumerate(header)}
    _check_header(header, spec, role, path=path)
    check_kinds(spec, where, path=path)
    cells_of = {name: [row[where[name]].strip() for row in rows] for name in where}
    columns: list[ColumnSpec] = []
    for name in header:
        if name == spec.id_column:
            continue
        stated = spec.kind_of(name)
        kind = stated or infer_kind(cells_of[name], path=path, column=name, lines=lines)
        columns.append(ColumnSpec(name, kind, inferred=stated is None))
    schema = Schema(spec.id_column, tuple(columns))
    inferred = [f"{c.name}={c.kind}" for c in columns if c.inferred]
    log.info("read_table: %s: %d rows; inferred %s", path, len(rows), ", ".join(inferred) or "-")
    label = schema.label
    return RawTable(
        path=str(path),
        schema=schema,
        ids=tuple(row[where[spec.id_column]] for row in rows),
        lines=tuple(lines),
        numeric={
            n: _numbers(cells_of[n], path=path, column=n, lines=lines)
            for n in schema.names("numeric")
        },
        categorical={
            n: tuple(None if is_missing(v) else v for v in cells_of[n])
            for n in schema.names("categorical")
        },
        labels=None if label is None else _labels(cells_of[label], path, label, lines),
    )


def _read_rows(path: Path) -> tuple[list[str], list[list[str]], list[int]]:
    """The header, the non-blank rows and the line each row starts on."""
    rows: list[list[str]] = []
    lines: list[int] = []
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                raise SchemaError("empty file: no header row", path=path)
            start = reader.line_num + 1
            for row in reader:
                if row and any(cell.strip() for cell in row):
                    if len(row) != len(header):
                        raise SchemaError(
                            f"{len(row)} fields where the header has {len(header)}",
                            path=path,
                            line=start,
                        )
                    rows.append(row)
                    lines.append(start)
                start = reader.line_num + 1
    except csv.Error as exc:
        raise SchemaError(f"not readable as CSV: {exc}", path=path, line=start) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SchemaError(f"cannot read the file: {exc}", path=path) from None
    if not rows:
        raise SchemaError("empty file: a header but no rows", path=path)
    return header, rows, lines


def _check_header(header: Sequence[str], spec: SchemaSpec, role: Role, *, path: Path) -> None:
    """Names unique and non-empty, the id column there, the label where it belongs."""
    seen: set[str] = set()
    for name in header:
        if not name.strip():
            raise SchemaError("a header name is empty", path=path, line=1)
        if name in seen:
            raise SchemaError("duplicate header name", path=path, column=name, line=1)
        seen.add(name)
    if spec.id_column not in seen:
        raise SchemaError(
            f"id column missing (the header has {list(header)[:8]})",
            path=path,
            column=spec.id_column,
            line=1,
        )
    label = spec.label
    if role == "host" and label is not None and label in seen:
        raise SchemaError(
            "a host table has the label column: labels stay with the guest",
            path=path,
            column=label,
            line=1,
        )
    if role == "guest" and (label is None or label not in seen):
        raise SchemaError("the guest's table needs its label column", path=path, column=label)


def _numbers(cells: Sequence[str], *, path: Path, column: str, lines: Sequence[int]) -> FloatArray:
    """A numeric column: ``NaN`` where missing; anything else not a finite number refused."""
    out = np.empty(len(cells), dtype=np.float64)
    for i, value in enumerate(cells):
        if is_missing(value):
            out[i] = math.nan
            continue
        try:
            out[i] = float(value)
        except ValueError:
            out[i] = math.nan
        if not math.isfinite(out[i]):
            raise SchemaError(
                f"{value[:40]!r} is not a finite number (leave the cell empty if missing)",
                path=path,
                column=column,
                line=lines[i],
            )
    return out


def _labels(cells: Sequence[str], path: Path, column: str, lines: Sequence[int]) -> FloatArray:
    """0/1 labels from ``{0, 1}`` or ``{1, 2}`` (2 -> 1); both classes needed, none missing."""
    values = np.empty(len(cells), dtype=np.float64)
    for i, value in enumerate(cells):
        try:
            number = float(value) if not is_missing(value) else math.nan
        except ValueError:
            number = math.nan
        if number not in (0.0, 1.0, 2.0):
            raise SchemaError(
                f"label {value[:40]!r} is not 0/1 or 1/2"
                + (" (a label may not be missing)" if is_missing(value) else ""),
                path=path,
                column=column,
                line=lines[i],
            )
        values[i] = number
    seen = set(np.unique(values).tolist())
    if seen == {0.0, 1.0, 2.0}:
        at = int(np.flatnonzero(values == 2.0)[0])
        raise SchemaError("labels mix 0/1 and 1/2 coding", path=path, column=column, line=lines[at])
    if len(seen) < 2:
        raise SchemaError(
            f"label not binary: every row is {seen.pop():g}", path=path, column=column
        )
    return values - 1.0 if 2.0 in seen else values


__all__ = ["RawTable", "Role", "read_table"]
