"""A dataset dealt into parties' files for experiments, with the coordinator's holdouts.

:func:`partition` decides (purely, from the labels and a seed) which rows go where: first the
stratified test and validation rows (:func:`~fl_node.data.split.split_holdout`), then the rest
over the parties by :mod:`~fl_node.data.split`'s modes; :func:`partition_by_source` keeps each
input file as one party (the hospitals of the UCI heart data) and takes the holdouts from each.
:func:`write_parts` writes each part in a layout :func:`~fl_node.data.formats.read_raw` reads
back with the same schema: a table as CSV with a header (raw cells, unchanged), images as NPZ
(``x`` pixels, ``y`` raw labels).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from fl_node.data._cells import label_indices
from fl_node.data.formats import RawData, RawImages, RawTable, write_csv, write_npz
from fl_node.data.schema import DataSchema
from fl_node.data.split import (
    IndexArray,
    split_dirichlet,
    split_holdout,
    split_iid,
    split_quantity_skew,
)
from fl_node.errors import DataError

SplitMode = Literal["iid", "dirichlet", "quantity"]
SPLIT_MODES = ("iid", "dirichlet", "quantity")


@dataclass(frozen=True)
class PartFile:
    """One written part: its name, file, rows and rows per raw label value."""

    name: str
    path: Path
    rows: int
    labels: tuple[tuple[str, int], ...]

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "name": self.name,
            "file": self.path.name,
            "rows": self.rows,
            "labels": dict(self.labels),
        }


def raw_labels(schema: DataSchema, raw: RawData) -> tuple[str, ...]:
    """Each row's raw label."""
    return raw.labels if isinstance(raw, RawImages) else raw.column(schema.target.column)


def class_indices(schema: DataSchema, raw: RawData) -> npt.NDArray[np.int64] | None:
    """Each row's class index (``None`` for a regression target); an unmapped label is an error."""
    if schema.target_kind == "regression":
        return None
    index = label_indices(schema.target, raw_labels(schema, raw))
    bad = np.flatnonzero(index < 0)
    if bad.size:
        value = raw_labels(schema, raw)[int(bad[0])]
        raise DataError(f"{raw.source}: label {value!r} is not a declared value; check the file")
    return index


def _deal(
    rest: IndexArray,
    labels: npt.NDArray[np.int64] | None,
    *,
    parties: int,
    mode: SplitMode,
    alpha: float,
    seed: int,
    min_rows: int,
) -> list[IndexArray]:
    if mode == "iid":
        local = split_iid(len(rest), parties, seed)
    elif mode == "quantity":
        local = split_quantity_skew(len(rest), parties, alpha, seed, min_rows=min_rows)
    elif labels is None:
        raise DataError("a label-Dirichlet split needs classes: the target is a regression")
    else:
        local = split_dirichlet(labels[rest], parties, alpha, seed, min_rows=min_rows)
    return [rest[p] for p in local]


def partition(
    schema: DataSchema,
    raw: RawData,
    *,
    parties: int,
    mode: SplitMode = "iid",
    alpha: float = 0.5,
    seed: int = 0,
    test_fraction: float = 0.2,
    validation_fraction: float = 0.1,
    min_rows: int = 1,
) -> dict[str, IndexArray]:
    """Row indices of each part: ``party-01``.. ``party-NN``, ``validation``, ``test``.

    Parameters
    ----------
    schema : DataSchema
        The task's schema (the label's classes stratify and drive the Dirichlet split).
    raw : RawTable or RawImages
        The whole dataset.
    parties : int
        Parties to deal to.
    mode : {"iid", "dirichlet", "quantity"}, default "iid"
        How the rest is dealt.
    alpha : float, default 0.5
        Dirichlet concentration (label shares or party sizes).
    seed : int, default 0
        Seed of every draw.
    test_fraction, validation_fraction : float, default 0.2 and 0.1
        Shares of rows held out (stratified by class when the target has classes).
    min_rows : int, default 1
        Fewest rows a party may get (skewed modes redraw until it holds).
    """
    if mode not in SPLIT_MODES:
        raise DataError(f"split mode must be one of {', '.join(SPLIT_MODES)}, not {mode!r}")
    labels = class_indices(schema, raw)
    rest, validation, test = split_holdout(
        raw.rows,
        test_fraction=test_fraction,
        validation_fraction=validation_fraction,
        seed=seed,
        labels=labels,
    )
    dealt = _deal(
        rest, labels, parties=parties, mode=mode, alpha=alpha, seed=seed + 1, min_rows=min_rows
    )
    parts = {f"party-{k + 1:02d}": p for k, p in enumerate(dealt)}
    return {**parts, "validation": validation, "test": test}


def partition_by_source(
    schema: DataSchema,
    sources: Sequence[RawData],
    *,
    seed: int = 0,
    test_fraction: float = 0.2,
    validation_fraction: float = 0.1,
) -> dict[str, IndexArray]:
    """Each source is one party; each gives its stratified share to validation and test.

    Indices refer to the sources joined in order (:func:`~fl_node.data.formats.concat_raw`).
    """
    parts: dict[str, IndexArray] = {}
    validation: list[IndexArray] = []
    test: list[IndexArray] = []
    offset = 0
    for k, raw in enumerate(sources):
        rest, val, tst = split_holdout(
            raw.rows,
            test_fraction=test_fraction,
            validation_fraction=validation_fraction,
            seed=seed + k,
            labels=class_indices(schema, raw),
        )
        parts[f"party-{k + 1:02d}"] = rest + offset
        validation.append(val + offset)
        test.append(tst + offset)
        offset += raw.rows
    return {**parts, "validation": np.concatenate(validation), "test": np.concatenate(test)}


def write_parts(
    schema: DataSchema, raw: RawData, parts: Mapping[str, IndexArray], out_dir: str | Path
) -> tuple[PartFile, ...]:
    """Write each part as ``<name>.csv`` (tables) or ``<name>.npz`` (images) in ``out_dir``."""
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, index in parts.items():
        piece = raw.take(index, source=name)
        if isinstance(piece, RawTable):
            path = write_csv(piece, folder / f"{name}.csv")
        else:
            path = write_npz(piece, folder / f"{name}.npz")
        written.append(PartFile(name, path, piece.rows, _class_counts(schema, piece)))
    return tuple(written)


def _class_counts(schema: DataSchema, raw: RawData) -> tuple[tuple[str, int], ...]:
    """Rows per class name (none for a regression target)."""
    index = class_indices(schema, raw)
    if index is None:
        return ()
    counts = np.bincount(index, minlength=schema.n_classes)
    return tuple((name, int(n)) for name, n in zip(schema.class_names, counts, strict=True))


def write_manifest(
    files: Sequence[PartFile], path: str | Path, settings: Mapping[str, object]
) -> Path:
    """Write ``split.json``: the settings and each part's rows and label counts."""
    target = Path(path)
    document = {"settings": dict(settings), "parts": [f.to_dict() for f in files]}
    target.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return target
