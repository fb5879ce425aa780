"""Reading a column's raw cells by the schema's rules: shared by the check and the encoder.

Empty cells and ``nan`` are missing in every column; a column adds its own missing tokens
(``"?"``) and, for numbers, missing values (``0`` cholesterol).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from fl_node.data.schema import CategoricalColumn, NumericColumn, Target, canonical

ALWAYS_MISSING = frozenset({"", "nan", "NaN", "NAN"})


@dataclass(frozen=True)
class NumericCells:
    """A numeric column read: values, the missing mask and the unreadable cells.

    ``values`` is NaN where a cell is missing or unreadable; ``bad`` holds the positions of cells
    that are neither a number nor a declared missing token.
    """

    values: npt.NDArray[np.float64]
    missing: npt.NDArray[np.bool_]
    bad: tuple[int, ...]


@dataclass(frozen=True)
class CategoryCells:
    """A categorical column read: each cell's canonical value, ``None`` where missing."""

    values: tuple[str | None, ...]

    @property
    def missing(self) -> int:
        """Missing cells."""
        return sum(v is None for v in self.values)


def numeric_cells(
    cells: Sequence[str], tokens: Sequence[str] = (), missing_values: Sequence[float] = ()
) -> NumericCells:
    """Read ``cells`` as numbers: declared tokens and values are missing, other text is bad."""
    missing_text = ALWAYS_MISSING | {canonical(t) for t in tokens}
    flagged = set(missing_values)
    values = np.full(len(cells), np.nan)
    missing = np.zeros(len(cells), dtype=bool)
    bad: list[int] = []
    for i, cell in enumerate(cells):
        text = canonical(cell)
        if text in missing_text:
            missing[i] = True
            continue
        try:
            value = float(text)
        except ValueError:
            bad.append(i)
            continue
        if not math.isfinite(value):
            bad.append(i)
        elif value in flagged:
            missing[i] = True
        else:
            values[i] = value
    return NumericCells(values, missing, tuple(bad))


def column_cells(column: NumericColumn, cells: Sequence[str]) -> NumericCells:
    """:func:`numeric_cells` with ``column``'s declared missing tokens and values."""
    return numeric_cells(cells, column.missing_tokens, column.missing_values)


def category_values(cells: Sequence[str], tokens: Sequence[str] = ()) -> CategoryCells:
    """Canonical values of categorical cells, ``None`` where missing (declared ``tokens``)."""
    missing_text = ALWAYS_MISSING | {canonical(t) for t in tokens}
    return CategoryCells(tuple(None if (v := canonical(c)) in missing_text else v for c in cells))


def category_cells(column: CategoricalColumn, cells: Sequence[str]) -> CategoryCells:
    """:func:`category_values` with ``column``'s declared missing tokens."""
    return category_values(cells, column.missing_tokens)


def label_indices(target: Target, cells: Sequence[str]) -> npt.NDArray[np.int64]:
    """Class index of each raw label; -1 where missing, -2 where not a declared value."""
    mapping = target.mapping()
    missing_text = ALWAYS_MISSING | {canonical(t) for t in target.missing_tokens}
    out = np.empty(len(cells), dtype=np.int64)
    for i, cell in enumerate(cells):
        text = canonical(cell)
        out[i] = -1 if text in missing_text else mapping.get(text, -2)
    return out


def label_numbers(target: Target, cells: Sequence[str]) -> NumericCells:
    """Regression targets read as numbers."""
    return numeric_cells(cells, target.missing_tokens)
