"""The real datasets of ``$FEDMARKET_DATA_DIR`` (the project's shared copies, read in place)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fl_node.data import DataSchema, RawTable, load_schema, read_csv

HOSPITALS = ("cleveland", "hungarian", "switzerland", "va")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of the shared datasets; the tests that read them skip where it is absent."""
    root = Path(os.environ.get("FEDMARKET_DATA_DIR", "/work/shared/data"))
    if not (root / "heart_disease_uci").is_dir():
        pytest.skip(f"the shared datasets are not at {root} (set FEDMARKET_DATA_DIR)")
    return root


@pytest.fixture(scope="session")
def heart_schema() -> DataSchema:
    """The ready heart-disease schema."""
    return load_schema("heart-disease")


@pytest.fixture(scope="session")
def heart_tables(shared_data: Path, heart_schema: DataSchema) -> dict[str, RawTable]:
    """The four hospitals' raw files, as read (no header: the schema names the columns)."""
    folder = shared_data / "heart_disease_uci"
    return {h: read_csv(folder / f"processed.{h}.data", heart_schema) for h in HOSPITALS}
