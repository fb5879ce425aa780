"""Helpers for the tables tests: write a small CSV and read it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from fl_node.vertical.tables import RawTable, SchemaSpec, read_table

WriteCsv = Callable[[str, str], Path]


@pytest.fixture
def write_csv(tmp_path: Path) -> WriteCsv:
    def write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def read_host(write_csv: WriteCsv) -> Callable[[str], RawTable]:
    def read(text: str) -> RawTable:
        return read_table(write_csv("host.csv", text), SchemaSpec(), role="host")

    return read
