"""Column kinds of a party's table: stated in a schema file, given on the command line, or inferred.

A party's CSV has a header row, one id column and feature columns; the guest's also has the
label column. Each feature column is ``numeric`` or ``categorical`` (or ``ignore``: not read
as a feature). The user states what they know in a :class:`SchemaSpec` (a small JSON or TOML
file, :func:`load_schema_spec`, or the CLI's ``--id-column`` / ``--label-column``); the
reader infers the rest (:func:`infer_kind`: numeric if every non-missing value parses as a
finite number, else categorical) and returns the resolved :class:`Schema`, whose
:meth:`Schema.describe` shows the user which kinds were inferred.

Schema file (TOML; the JSON form has the same keys)::

    id = "customer"            # optional: the id column (default "id")
    label = "credit_risk"      # optional: the guest's label column
    [columns]
    age = "numeric"
    purpose = "categorical"
    comment = "ignore"
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

from fl_node.vertical.tables._errors import SchemaError

ColumnKind = Literal["numeric", "categorical", "label", "ignore"]
"""What a column is; the id column is named by :attr:`Schema.id_column`."""

_KINDS: tuple[str, ...] = get_args(ColumnKind)

MISSING_TOKENS: frozenset[str] = frozenset(
    {"", "NA", "N/A", "na", "n/a", "?", "null", "NULL", "None", "none"}
)
"""Cell values (after stripping white space) read as missing. ``nan`` is not one of them:
a ``nan`` or ``inf`` in a numeric column is an error, not a silent missing value."""


def is_missing(value: str) -> bool:
    """Whether a cell (already stripped) counts as missing.

    Parameters
    ----------
    value : str
        The cell.
    """
    return value in MISSING_TOKENS


@dataclass(frozen=True)
class ColumnSpec:
    """One column's kind.

    Attributes
    ----------
    name : str
        The header name.
    kind : {"numeric", "categorical", "label", "ignore"}
        What the column holds.
    inferred : bool, default False
        ``True`` when the reader inferred the kind from the values.
    """

    name: str
    kind: ColumnKind
    inferred: bool = False


@dataclass(frozen=True)
class SchemaSpec:
    """What the user states about a table; the reader resolves the rest.

    Attributes
    ----------
    id_column : str, default "id"
        The id column.
    label_column : str or None, default None
        The label column. On the guest it must be present; on a host it must be absent (a
        host with the guest's label column is refused: labels stay with the guest).
    kinds : tuple of (str, ColumnKind), default ()
        Stated kinds of some columns; every column named must be in the file.
    """

    id_column: str = "id"
    label_column: str | None = None
    kinds: tuple[tuple[str, ColumnKind], ...] = ()

    def __post_init__(self) -> None:
        names = [name for name, _ in self.kinds]
        if len(set(names)) != len(names):
            raise SchemaError("a column is named twice in the schema")
        for name, kind in self.kinds:
            if kind not in _KINDS:
                raise SchemaError(f"unknown kind {kind!r}; choose from {', '.join(_KINDS)}")
            if name == self.id_column:
                raise SchemaError("the id column cannot also have a kind", column=name)
        labels = {name for name, kind in self.kinds if kind == "label"}
        if self.label_column is not None:
            labels.add(self.label_column)
        if len(labels) > 1:
            raise SchemaError(f"more than one label column: {sorted(labels)}")

    @property
    def label(self) -> str | None:
        """The label column, stated as ``label_column`` or as a column of kind ``label``."""
        stated = [name for name, kind in self.kinds if kind == "label"]
        return self.label_column if self.label_column is not None else next(iter(stated), None)

    def kind_of(self, name: str) -> ColumnKind | None:
        """The stated kind of ``name`` (``label`` for the label column), or ``None``."""
        if name == self.label:
            return "label"
        return dict(self.kinds).get(name)


def load_schema_spec(path: Path, *, id_column: str | None = None) -> SchemaSpec:
    """Read a schema file (``.toml`` or ``.json``).

    Parameters
    ----------
    path : Path
        The file.
    id_column : str or None, default None
        The id column when the file does not name one (then ``"id"``).

    Raises
    ------
    SchemaError
        For unreadable syntax, unknown keys or kinds, or values of the wrong type.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
        data = tomllib.loads(text) if Path(path).suffix == ".toml" else json.loads(text)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise SchemaError(f"cannot read the schema: {exc}", path=path) from None
    if not isinstance(data, dict) or set(data) - {"id", "label", "columns"}:
        raise SchemaError("a schema has the keys 'id', 'label' and 'columns' only", path=path)
    columns = data.get("columns", {})
    ident = data.get("id", id_column or "id")
    label = data.get("label")
    if not isinstance(columns, dict) or not isinstance(ident, str):
        raise SchemaError("'columns' must be a table of name = kind, 'id' a string", path=path)
    if label is not None and not isinstance(label, str):
        raise SchemaError("'label' must be a string", path=path)
    for name, kind in columns.items():
        if kind not in _KINDS:
            raise SchemaError(f"unknown kind {kind!r}", path=path, column=name)
    try:
        return SchemaSpec(ident, label, tuple(columns.items()))
    except SchemaError as exc:
        raise SchemaError(exc.reason, path=path, column=exc.column) from None


@dataclass(frozen=True)
class Schema:
    """A table's resolved columns.

    Attributes
    ----------
    id_column : str
        The id column.
    columns : tuple of ColumnSpec
        Every other column, in file order.
    """

    id_column: str
    columns: tuple[ColumnSpec, ...]

    @property
    def label(self) -> str | None:
        """The label column, or ``None`` (a host)."""
        return next((c.name for c in self.columns if c.kind == "label"), None)

    def names(self, kind: ColumnKind) -> tuple[str, ...]:
        """The columns of one kind, in file order."""
        return tuple(c.name for c in self.columns if c.kind == kind)

    def describe(self) -> str:
        """Lines for the user: each column, its kind, and whether it was inferred."""
        width = max([len(self.id_column), *(len(c.name) for c in self.columns)])
        lines = [f"{self.id_column:<{width}}  id"]
        for c in self.columns:
            lines.append(f"{c.name:<{width}}  {c.kind}" + ("  (inferred)" if c.inferred else ""))
        return "\n".join(lines)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form (the same keys as a schema file)."""
        return {"id": self.id_column, "columns": {c.name: c.kind for c in self.columns}}


def infer_kind(
    values: Iterable[str], *, path: Path | str, column: str, lines: Iterable[int]
) -> ColumnKind:
    """Infer a column's kind from its (stripped) cells.

    Numeric if every non-missing cell parses as a finite number, categorical otherwise. A
    column whose cells all parse as numbers but one is ``nan`` or infinite is refused: it is
    numeric data with a broken value, not a category.

    Parameters
    ----------
    values : iterable of str
        The cells, white space stripped.
    path, column : Path or str, str
        For error messages.
    lines : iterable of int
        Each cell's line in the file.

    Raises
    ------
    SchemaError
        For a ``nan`` or infinite value in an otherwise numeric column.
    """
    broken: tuple[int, str] | None = None
    for value, line in zip(values, lines, strict=True):
        if is_missing(value):
            continue
        try:
            number = float(value)
        except ValueError:
            return "categorical"
        if broken is None and not math.isfinite(number):
            broken = (line, value)
    if broken is not None:
        raise SchemaError(
            f"non-finite number {broken[1][:40]!r} in a numeric column (leave the cell empty "
            "for a missing value)",
            path=path,
            column=column,
            line=broken[0],
        )
    return "numeric"


def check_kinds(spec: SchemaSpec, header: Mapping[str, int], *, path: Path | str) -> None:
    """Refuse a spec naming a column the file lacks.

    Parameters
    ----------
    spec : SchemaSpec
        What the user stated.
    header : mapping of str to int
        The file's columns and their positions.
    path : Path or str
        For error messages.
    """
    for name, _ in spec.kinds:
        if name not in header:
            raise SchemaError(
                f"unknown column: the schema names it, the header has {sorted(header)}",
                path=path,
                column=name,
            )


__all__ = [
    "MISSING_TOKENS",
    "ColumnKind",
    "ColumnSpec",
    "Schema",
    "SchemaSpec",
    "check_kinds",
    "infer_kind",
    "is_missing",
    "load_schema_spec",
]
