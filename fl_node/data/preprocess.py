"""Encoding a party's raw data by the schema's rules.

:func:`encode` turns raw rows into a :class:`~fl_node.data.LocalDataset` with the values the
schema carries: missing cells take the declared fill, categories are one-hot encoded in the
declared order, labels are mapped by the declared rule, pixels divided by the declared scale.
Nothing is fitted on the data being encoded, so every party encodes identically.

The values the schema carries are derived from the parties' statistics, never from pooled
rows, by :mod:`fl_node.data.derive`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from fl_node.data._cells import category_cells, column_cells, label_indices, label_numbers
from fl_node.data.formats import RawData, RawImages, RawTable, read_raw
from fl_node.data.hospitals import LocalDataset
from fl_node.data.schema import CategoricalColumn, DataSchema, NumericColumn, Target, canonical
from fl_node.errors import DataError


def _encode_numeric(col: NumericColumn, table: RawTable) -> npt.NDArray[np.float32]:
    read = column_cells(col, table.column(col.name))
    if read.bad:
        line = table.lines[read.bad[0]]
        cell = table.column(col.name)[read.bad[0]]
        raise DataError(f"{table.source}, line {line}, column {col.name}: {cell!r} is not a number")
    return np.where(read.missing, col.fill, read.values).astype(np.float32)[:, None]


def _encode_categorical(col: CategoricalColumn, table: RawTable) -> npt.NDArray[np.float32]:
    read = category_cells(col, table.column(col.name))
    index = {canonical(c): k for k, c in enumerate(col.categories)}
    fill = index[canonical(col.fill)]
    out = np.zeros((table.rows, len(col.categories)), dtype=np.float32)
    for i, value in enumerate(read.values):
        k = fill if value is None else index.get(value)
        if k is None:
            raise DataError(
                f"{table.source}, line {table.lines[i]}, column {col.name}: "
                f"category {value!r} is not declared"
            )
        out[i, k] = 1.0
    return out


def encode_labels(
    target: Target, cells: Sequence[str], source: str, lines: Sequence[int]
) -> npt.NDArray[np.generic]:
    """The target as a model learns it: float32 0/1, int64 class indices, or float32 values."""
    if target.kind == "regression":
        read = label_numbers(target, cells)
        bad = sorted([*read.bad, *np.flatnonzero(read.missing).tolist()])
        if bad:
            first = bad[0]
            raise DataError(f"{source}, line {lines[first]}: label {cells[first]!r} is no number")
        return read.values.astype(np.float32)
    index = label_indices(target, cells)
    bad_rows = np.flatnonzero(index < 0)
    if bad_rows.size:
        i = int(bad_rows[0])
        raise DataError(f"{source}, line {lines[i]}: label {cells[i]!r} is not a declared value")
    return index.astype(np.float32) if target.kind == "binary" else index


def encode(schema: DataSchema, raw: RawData, name: str | None = None) -> LocalDataset:
    """Encode ``raw`` by ``schema``: impute, one-hot encode, map labels, scale pixels.

    Parameters
    ----------
    schema : DataSchema
        The task's schema.
    raw : RawTable or RawImages
        A party's data (:func:`fl_node.data.formats.read_raw`).
    name : str or None, default None
        The dataset's name (the file's when ``None``).

    Raises
    ------
    DataError
        A cell that cannot be encoded (text in a numeric column, an undeclared category or
        label), naming the file, line and column; images of another shape.
    """
    label = name or raw.source
    if isinstance(raw, RawImages):
        if schema.image is None or raw.x.shape[1:] != schema.image.shape:
            raise DataError(f"{raw.source}: images do not match the schema's image shape")
        x = (raw.x.astype(np.float32) / np.float32(schema.image.pixel_max)).astype(np.float32)
        lines = list(range(1, raw.rows + 1))
        return LocalDataset(label, x, encode_labels(schema.target, raw.labels, raw.source, lines))
    if schema.image is not None:
        raise DataError(f"{raw.source}: a table, but the schema declares images")
    parts = [
        _encode_numeric(c, raw) if isinstance(c, NumericColumn) else _encode_categorical(c, raw)
        for c in schema.feature_columns
    ]
    width = len(schema.encoded_names())
    x = np.concatenate(parts, axis=1) if raw.rows else np.zeros((0, width), dtype=np.float32)
    y = encode_labels(schema.target, raw.column(schema.target.column), raw.source, raw.lines)
    return LocalDataset(label, x.astype(np.float32), y)


def load_party(path: str | Path, schema: DataSchema, name: str | None = None) -> LocalDataset:
    """Read a party's file and :func:`encode` it.

    Any layout :func:`~fl_node.data.formats.read_raw` knows: CSV, NPZ, IDX, an image folder.

    Parameters
    ----------
    path : str or Path
        The party's file or image folder.
    schema : DataSchema
        The task's schema.
    name : str or None, default None
        The dataset's name (the file's stem when ``None``).
    """
    source = Path(path)
    return encode(schema, read_raw(source, schema), name or source.name.split(".")[0])
