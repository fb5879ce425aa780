"""An uploaded dataset must be the CSV table its listing describes."""

from __future__ import annotations

import pytest

from marketplace_api.content.tabular import check_table, schema_of
from marketplace_api.errors import ConflictError, FieldError

COLUMNS = ["radius", "texture", "label"]


def csv(*lines: str) -> bytes:
    return ("\r\n".join(lines) + "\r\n").encode()


def test_the_described_table_is_accepted() -> None:
    check_table(csv("radius,texture,label", "1.0,2.0,1", "3.5,4.25,0"), COLUMNS, 2)
    check_table(b"radius,texture,label\n1,2,1\n\n", COLUMNS, 1)  # blank lines do not count


@pytest.mark.parametrize(
    ("data", "rows", "message"),
    [
        (csv("radius,label,texture", "1,2,1"), 1, "header"),
        (csv("radius,texture", "1,2"), 1, "header"),
        (csv("radius,texture,label", "1,2"), 1, "has 2 fields"),
        (csv("radius,texture,label", "1,2,1"), 2, "1 rows; the listing declares 2"),
        (csv("radius,texture,label", "1,2,1", "1,2,0"), 1, "2 rows"),
        (b"", 1, "header"),
        (b"\xff\xfe radius", 1, "not UTF-8"),
        (b'radius,texture,label\n"1,2,1\n', 1, "has 1 fields"),
    ],
)
def test_anything_else_is_refused(data: bytes, rows: int, message: str) -> None:
    with pytest.raises(FieldError, match=message):
        check_table(data, COLUMNS, rows)


def test_the_schema_comes_from_the_metadata_document() -> None:
    doc = {"schema": [{"name": c, "dtype": "float"} for c in COLUMNS], "row_count": 120}
    assert schema_of(doc) == (COLUMNS, 120)


@pytest.mark.parametrize(
    "doc", [{}, [], {"schema": [], "row_count": 1}, {"schema": [{"x": 1}], "row_count": 1},
            {"schema": [{"name": "a"}], "row_count": "many"}, {"schema": [{"name": "a"}]}],
)  # fmt: skip
def test_a_document_that_describes_no_table_is_a_conflict(doc: object) -> None:
    with pytest.raises(ConflictError):
        schema_of(doc)
