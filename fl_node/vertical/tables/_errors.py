"""Errors of the tables package (private; re-exported by the package).

Everything that goes wrong here is the user's input: a file, a schema, a rule or a preflight
finding. :class:`TableError` is therefore itself an :class:`~kernel.errors.InvalidInputError`
(exit code of invalid input in ``fedmarket``), and says where: the file, the column and the
line, when known.
"""

from __future__ import annotations

from pathlib import Path

from kernel.errors import InvalidInputError


class TableError(InvalidInputError):
    """A party's table, schema, id rule or preparation rule is malformed.

    Parameters
    ----------
    message : str
        What is wrong.
    path : Path or None, default None
        The file.
    column : str or None, default None
        The column.
    line : int or None, default None
        The 1-based line of the file (the header is line 1).
    """

    def __init__(
        self,
        message: str,
        *,
        path: Path | str | None = None,
        column: str | None = None,
        line: int | None = None,
    ) -> None:
        self.path = None if path is None else str(path)
        self.column = column
        self.line = line
        where = [self.path] if self.path else []
        if line is not None:
            where.append(f"line {line}")
        if column is not None:
            where.append(f"column {column!r}")
        self.reason = message
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


class SchemaError(TableError):
    """The header, the schema file or a value disagrees with the column kinds."""


class IdRuleError(TableError):
    """An id normalisation rule is unknown or malformed."""


class PrepError(TableError):
    """A preparation rule is unknown, or a value cannot be prepared (``refuse`` policy)."""


class PreflightError(TableError):
    """The preflight found problems that would spoil the run (formats, duplicates, rows)."""
