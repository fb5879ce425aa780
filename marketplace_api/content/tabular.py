"""The check of an uploaded dataset against its listing: a CSV with the listing's schema.

A dataset listing's metadata document (whose keccak hash the DatasetRegistry records) names its
columns and its row count; the rows themselves are not hashed on-chain. An upload is accepted
when it is UTF-8 CSV whose header is exactly the listing's column names, in order, with
exactly ``row_count`` data rows of that many fields each.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from marketplace_api.errors import ConflictError, FieldError

_BODY = ("body",)


def schema_of(document: Any) -> tuple[list[str], int]:
    """The column names and row count a dataset's metadata document declares.

    Parameters
    ----------
    document : Any
        The parsed metadata document.

    Raises
    ------
    ConflictError
        When the document is not a dataset description (a listing made outside the API may
        name any document).
    """
    try:
        columns = [str(c["name"]) for c in document["schema"]]
        row_count = int(document["row_count"])
    except (KeyError, TypeError, ValueError):
        raise ConflictError(
            "the listing's metadata document does not describe a table (schema, row_count)"
        ) from None
    if not columns or row_count < 1:
        raise ConflictError("the listing's metadata document declares no columns or no rows")
    return columns, row_count


def check_table(data: bytes, columns: Sequence[str], row_count: int) -> None:
    """Raise :class:`FieldError` unless ``data`` is the CSV table the listing describes.

    Parameters
    ----------
    data : bytes
        The uploaded bytes.
    columns : sequence of str
        The listing's column names, in order.
    row_count : int
        The listing's number of rows.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise FieldError(_BODY, "the dataset is not UTF-8 text") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    rows = 0
    try:
        header = next(reader, None)
        if header != list(columns):
            raise FieldError(
                _BODY, f"the CSV header is not the listing's columns {list(columns)[:8]}..."
            )
        for row in reader:
            if not row:
                continue
            if len(row) != len(columns):
                raise FieldError(
                    _BODY, f"CSV line {reader.line_num} has {len(row)} fields, not {len(columns)}"
                )
            rows += 1
    except csv.Error as exc:
        raise FieldError(_BODY, f"not CSV: {exc}") from None
    if rows != row_count:
        raise FieldError(_BODY, f"the CSV has {rows} rows; the listing declares {row_count}")


__all__ = ["check_table", "schema_of"]
