"""A party's rows on disk: one CSV per party (feature columns, then ``label``).

Each hospital keeps its own file; a participant process reads only its own.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from fl_node.data.hospitals import LocalDataset
from fl_node.errors import DataError

LABEL = "label"


def save_csv(data: LocalDataset, feature_names: Sequence[str], path: str | Path) -> Path:
    """Write ``data`` as CSV with a header of ``feature_names`` + ``label``."""
    target = Path(path)
    if len(feature_names) != data.x.shape[1]:
        raise DataError("save_csv: feature_names does not match the data's width")
    with target.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow([*feature_names, LABEL])
        for row, label in zip(data.x.tolist(), data.y.tolist(), strict=True):
            writer.writerow([*(repr(float(v)) for v in row), int(label)])
    return target


def load_csv(
    path: str | Path, *, name: str | None = None, feature_names: Sequence[str] | None = None
) -> LocalDataset:
    """Read a CSV written by :func:`save_csv`, checking its header and values.

    Parameters
    ----------
    path : str or Path
        The file.
    name : str or None, default None
        Dataset name (the file's stem when ``None``).
    feature_names : sequence of str or None, default None
        Expected feature columns, in order (a task's schema); checked when given.

    Raises
    ------
    DataError
        Missing file, wrong header, non-numeric or non-finite values, labels other than 0/1.
    """
    source = Path(path)
    try:
        with source.open(newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            header = next(reader)
            rows = list(reader)
    except FileNotFoundError:
        raise DataError(f"load_csv: no file at {source}") from None
    except StopIteration:
        raise DataError(f"load_csv: {source} is empty") from None
    if not header or header[-1] != LABEL:
        raise DataError(f"load_csv: {source}: the last column must be {LABEL!r}")
    if feature_names is not None and list(header[:-1]) != list(feature_names):
        raise DataError(f"load_csv: {source}: columns do not match the task's schema")
    try:
        table = np.array(rows, dtype=np.float64)
    except ValueError as exc:
        raise DataError(f"load_csv: {source}: non-numeric value ({exc})") from None
    if table.ndim != 2 or table.shape[0] == 0 or table.shape[1] != len(header):
        raise DataError(f"load_csv: {source}: ragged or empty table")
    if not np.isfinite(table).all():
        raise DataError(f"load_csv: {source}: non-finite value")
    labels = table[:, -1]
    if not np.isin(labels, (0.0, 1.0)).all():
        raise DataError(f"load_csv: {source}: labels must be 0 or 1")
    return LocalDataset(
        name or source.stem, table[:, :-1].astype(np.float32), labels.astype(np.float32)
    )
