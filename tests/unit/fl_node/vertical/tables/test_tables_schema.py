"""Schema inference and statement, and the errors that name the file, column and line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from fl_node.vertical.tables import (
    RawTable,
    SchemaError,
    SchemaSpec,
    TableError,
    load_schema_spec,
    read_table,
)
from kernel.errors import InvalidInputError

WriteCsv = Callable[[str, str], Path]
GUEST = SchemaSpec(label_column="y")

TABLE = """id,y,age,purpose,rate,note
c1,1,30,A43,1,
c2,2, 41 ,A41,2,NA
c3,1,,A43,3,x
c4,2,55,?,4,y
"""


def test_kinds_are_inferred_and_shown(write_csv: WriteCsv) -> None:
    table = read_table(write_csv("g.csv", TABLE), GUEST, role="guest")
    kinds = {c.name: (c.kind, c.inferred) for c in table.schema.columns}
    assert kinds == {
        "y": ("label", False),
        "age": ("numeric", True),
        "purpose": ("categorical", True),
        "rate": ("numeric", True),
        "note": ("categorical", True),
    }
    assert "purpose  categorical  (inferred)" in table.schema.describe()
    np.testing.assert_array_equal(table.numeric["age"], [30, 41, np.nan, 55])
    assert table.categorical["purpose"] == ("A43", "A41", "A43", None)
    np.testing.assert_array_equal(table.labels, [0, 1, 0, 1])  # 1/2 coding: 2 is positive
    assert table.lines == (2, 3, 4, 5)
    assert table.missing_counts() == {"age": 1, "purpose": 1, "rate": 0, "note": 2}


def test_stated_kinds_win_over_inference(write_csv: WriteCsv) -> None:
    schema = write_csv(
        "s.toml",
        'label = "y"\n[columns]\nrate = "categorical"\nnote = "ignore"\n',
    )
    spec = load_schema_spec(schema)
    table = read_table(write_csv("g.csv", TABLE), spec, role="guest")
    assert table.categorical["rate"] == ("1", "2", "3", "4")
    assert table.schema.names("ignore") == ("note",) and "note" not in table.categorical
    as_json = write_csv("s.json", '{"label": "y", "columns": {"rate": "categorical"}}')
    assert load_schema_spec(as_json).kind_of("rate") == "categorical"


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("", "empty file"),
        ("id,x\n", "no rows"),
        ("id,x,x\n1,2,3\n", "line 1, column 'x': duplicate header"),
        ("key,x\n1,2\n", "line 1, column 'id': id column missing"),
        ("id,x\n1,2\n2\n", "line 3: 1 fields"),
        ("id,,x\n1,2,3\n", "header name is empty"),
    ],
)
def test_malformed_files_name_where(write_csv: WriteCsv, text: str, where: str) -> None:
    path = write_csv("h.csv", text)
    with pytest.raises(SchemaError) as caught:
        read_table(path, SchemaSpec(), role="host")
    assert str(path) in str(caught.value) and where in str(caught.value)
    assert isinstance(caught.value, InvalidInputError)


def test_unknown_column_in_the_schema(write_csv: WriteCsv) -> None:
    spec = SchemaSpec(kinds=(("income", "numeric"),))
    with pytest.raises(SchemaError, match="column 'income': unknown column"):
        read_table(write_csv("h.csv", "id,x\n1,2\n"), spec, role="host")


def test_label_on_a_host_and_none_on_the_guest(write_csv: WriteCsv) -> None:
    with pytest.raises(SchemaError, match="column 'y': a host table has the label"):
        read_table(write_csv("h.csv", "id,y,x\n1,0,2\n"), GUEST, role="host")
    with pytest.raises(SchemaError, match="needs its label column"):
        read_table(write_csv("g.csv", "id,x\n1,2\n"), GUEST, role="guest")


@pytest.mark.parametrize(
    ("labels", "where"),
    [
        ("1,1,1", "not binary: every row is 1"),
        ("0,1,3", "line 4.*'3' is not 0/1 or 1/2"),
        ("0,,1", "line 3.*may not be missing"),
        ("0,1,2", "line 4.*mix 0/1 and 1/2"),
        ("0,yes,1", "line 3"),
    ],
)
def test_bad_labels_are_refused(write_csv: WriteCsv, labels: str, where: str) -> None:
    rows = "".join(f"{i},{v},{i}\n" for i, v in enumerate(labels.split(",")))
    with pytest.raises(SchemaError, match=where):
        read_table(write_csv("g.csv", "id,y,x\n" + rows), GUEST, role="guest")


def test_a_word_in_a_stated_numeric_column_names_its_line(write_csv: WriteCsv) -> None:
    spec = SchemaSpec(kinds=(("x", "numeric"),))
    with pytest.raises(SchemaError) as caught:
        read_table(write_csv("h.csv", "id,x\n1,2\n2,abc\n"), spec, role="host")
    assert (caught.value.line, caught.value.column) == (3, "x")


def test_a_quoted_newline_keeps_line_numbers_right(write_csv: WriteCsv) -> None:
    spec = SchemaSpec(kinds=(("x", "numeric"),))
    text = 'id,note,x\n1,"two\nlines",2\n2,ok,bad\n'
    with pytest.raises(SchemaError, match="line 4"):
        read_table(write_csv("h.csv", text), spec, role="host")


@pytest.mark.parametrize(
    "text",
    [
        "id = 3\n",
        "columns = 1\n",
        "extra = 1\n",
        '[columns]\nx = "float"\n',
        '[columns]\nid = "numeric"\n',
        'label = "y"\n[columns]\nz = "label"\n',
        "not toml [",
    ],
)
def test_malformed_schema_files(write_csv: WriteCsv, text: str) -> None:
    path = write_csv("s.toml", text)
    with pytest.raises(SchemaError) as caught:
        load_schema_spec(path)
    assert str(path) in str(caught.value)


def test_the_error_family_is_input(
    write_csv: WriteCsv, read_host: Callable[[str], RawTable]
) -> None:
    assert issubclass(SchemaError, TableError) and issubclass(TableError, InvalidInputError)
    assert read_host("id,x\n1,2\n").rows == 1
