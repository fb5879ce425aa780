"""Hostile input files: each is refused with its line, or handled within bounds."""

from __future__ import annotations

import csv
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from fl_node.vertical.tables import (
    NO_RULES,
    PrepRules,
    SchemaError,
    SchemaSpec,
    compare_reports,
    fit_prep,
    party_report,
    read_table,
)

WriteCsv = Callable[[str, str], Path]


def test_a_huge_field_is_refused_with_its_line(write_csv: WriteCsv) -> None:
    huge = "x" * (csv.field_size_limit() + 10)
    path = write_csv("h.csv", f"id,c\n1,a\n2,{huge}\n")
    with pytest.raises(SchemaError, match="line 3: not readable as CSV"):
        read_table(path, SchemaSpec(), role="host")


@pytest.mark.parametrize("bad", ["nan", "inf", "-Infinity", "1e999"])
def test_nan_or_inf_in_a_numeric_column_is_refused(write_csv: WriteCsv, bad: str) -> None:
    path = write_csv("h.csv", f"id,x\n1,1.5\n2,\n3,{bad}\n4,2\n")
    with pytest.raises(SchemaError) as inferred:
        read_table(path, SchemaSpec(), role="host")
    assert (inferred.value.line, inferred.value.column) == (4, "x")
    with pytest.raises(SchemaError, match="line 4, column 'x'"):
        read_table(path, SchemaSpec(kinds=(("x", "numeric"),)), role="host")


def test_a_label_outside_both_codings_is_refused(write_csv: WriteCsv) -> None:
    path = write_csv("g.csv", "id,y,x\n1,0,1\n2,1,1\n3,-1,1\n")
    with pytest.raises(SchemaError, match="line 4, column 'y': label '-1'"):
        read_table(path, SchemaSpec(label_column="y"), role="guest")


def test_a_categorical_column_with_100k_levels_stays_bounded(write_csv: WriteCsv) -> None:
    levels = 100_000
    body = "".join(f"{i},L{i},{i % 7}\n" for i in range(levels))
    table = read_table(write_csv("h.csv", "id,c,x\n" + body), SchemaSpec(), role="host")
    start = time.perf_counter()
    for rules in (PrepRules(), PrepRules(min_frequency=1, max_levels=50)):
        fitted = fit_prep(table, rules)
        out = fitted.transform(table)
        assert out.shape[1] <= 1 + rules.max_levels + 1
        assert (out[:, 1:].sum(axis=1) == 1).all()  # every row is in one level or (other)
    assert time.perf_counter() - start < 10
    report = party_report(table, NO_RULES, "host-1")
    assert report.high_cardinality == ("c",)
    found = compare_reports(report, [report])
    assert "high-cardinality" in {f.code for f in found.findings}


def test_a_byte_order_mark_and_crlf_are_read(write_csv: WriteCsv, tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffid,x\r\n1,2\r\n".encode())
    assert read_table(path, SchemaSpec(), role="host").ids == ("1",)


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes("id,x\n1,\xe9\n".encode("latin-1"))
    with pytest.raises(SchemaError, match="cannot read the file"):
        read_table(path, SchemaSpec(), role="host")
