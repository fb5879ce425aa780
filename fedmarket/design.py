"""A sponsor's design step: input scaling pooled from published statistics, never from rows.

Whatever the dataset, a horizontal task's model standardises its inputs with the exact mean and
standard deviation of the union of the participants' data, pooled from the per-feature
statistics each data owner publishes (:func:`fl_node.data.pool_stats`). The statistics come
from the marketplace's listings (:func:`stats_from_listings`) or, for a sponsor holding sample
files, from CSV files (:func:`stats_from_csv`); :func:`pooled_model` turns them into the
:class:`~fl_node.models.ModelSpec`. ``fedmarket task design`` and the demo both build on these.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from fl_node.data import FeatureStats, feature_stats, pool_stats
from fl_node.models import ModelSpec
from kernel.errors import InvalidInputError

NUMERIC_DTYPES = ("float", "int")
"""Schema dtypes of a listing that are model inputs (other columns are skipped)."""


def pooled_model(
    stats: Sequence[FeatureStats],
    *,
    kind: str = "mlp",
    hidden: tuple[int, ...] = (16,),
    seed: int = 0,
) -> ModelSpec:
    """The model spec whose input scaling is the pooled mean and std of ``stats``.

    Parameters
    ----------
    stats : sequence of FeatureStats
        One summary per dataset, all of the same width.
    kind : {"mlp", "logreg"}, default "mlp"
        Model kind.
    hidden : tuple of int, default (16,)
        Hidden widths of the MLP (``()`` for logistic regression).
    seed : int, default 0
        Seed of the initial weights.

    Raises
    ------
    InvalidInputError
        No statistics, or datasets of different widths.
    """
    if not stats:
        raise InvalidInputError("design: no dataset statistics to pool")
    try:
        mean, std = pool_stats(stats)
    except ValueError as exc:
        raise InvalidInputError(f"design: {exc}") from None
    return ModelSpec(
        n_features=len(mean),
        feature_mean=tuple(mean),
        feature_std=tuple(std),
        kind=kind,
        hidden=hidden,
        seed=seed,
    )


def stats_from_listings(
    listings: Sequence[Mapping[str, Any]], *, label: str = "label"
) -> tuple[list[FeatureStats], tuple[str, ...]]:
    """The statistics of marketplace listings and their shared feature columns.

    The features of a listing are its schema's numeric columns (:data:`NUMERIC_DTYPES`) other
    than ``label``, in schema order; its ``statistics`` must describe exactly those.

    Parameters
    ----------
    listings : sequence of mapping
        Listings as ``GET /datasets`` returns them (``id``, ``schema``, ``statistics``).
    label : str, default "label"
        The label column (not a feature).

    Raises
    ------
    InvalidInputError
        No listing, a listing without ``label``, listings with different features, or
        statistics that do not match the features.
    """
    if not listings:
        raise InvalidInputError("design: the marketplace lists no matching dataset")
    stats: list[FeatureStats] = []
    names: tuple[str, ...] = ()
    for listing in listings:
        ident = f"listing {listing.get('id', '?')}"
        schema = listing.get("schema") or []
        if label not in {c.get("name") for c in schema}:
            raise InvalidInputError(f"design: {ident} has no label column {label!r} (--label)")
        numeric = [str(c["name"]) for c in schema if c.get("dtype") in NUMERIC_DTYPES]
        features = tuple(n for n in numeric if n != label)
        if names and features != names:
            raise InvalidInputError(f"design: {ident} has other features than the first listing")
        names = features
        try:
            item = FeatureStats.from_dict(dict(listing.get("statistics") or {}))
        except ValueError as exc:
            raise InvalidInputError(f"design: {ident}: {exc}") from None
        if len(item.mean) != len(features):
            raise InvalidInputError(
                f"design: {ident} has statistics of {len(item.mean)} columns "
                f"for {len(features)} numeric features"
            )
        stats.append(item)
    return stats, names


def stats_from_csv(
    paths: Sequence[Path], *, label: str = "label"
) -> tuple[list[FeatureStats], tuple[str, ...]]:
    """The statistics of CSV files (a header, numeric values) and their feature columns.

    Values are read as float32, as a participant's node reads them, so the statistics are the
    ones a listing of the same file publishes.

    Parameters
    ----------
    paths : sequence of Path
        The files, all with the same header.
    label : str, default "label"
        The label column (not a feature); every other column is a feature, in file order.

    Raises
    ------
    InvalidInputError
        A missing or empty file, no ``label`` column, different headers, or a value that is not
        a finite number.
    """
    if not paths:
        raise InvalidInputError("design: no CSV file to read statistics from")
    stats: list[FeatureStats] = []
    names: tuple[str, ...] = ()
    for path in paths:
        header, rows = _read_csv(path)
        if label not in header:
            raise InvalidInputError(f"design: {path} has no label column {label!r} (--label)")
        features = tuple(h for h in header if h != label)
        if names and features != names:
            raise InvalidInputError(f"design: {path} has other columns than {paths[0]}")
        names = features
        keep = [i for i, h in enumerate(header) if h != label]
        # C order, as a node's loaded rows: the sums then run in the same order, to the bit
        stats.append(feature_stats(np.ascontiguousarray(_numeric(path, header, rows)[:, keep])))
    return stats, names


def _read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            header = [h.strip() for h in next(reader)]
            rows = [row for row in reader if row]
    except FileNotFoundError:
        raise InvalidInputError(f"design: no file at {path}") from None
    except (StopIteration, UnicodeDecodeError, csv.Error):
        raise InvalidInputError(f"design: {path} is empty or not a CSV file") from None
    if not rows:
        raise InvalidInputError(f"design: {path} has a header but no rows")
    if len(set(header)) != len(header) or not all(header):
        raise InvalidInputError(f"design: {path} has empty or repeated column names")
    return header, rows


def _numeric(path: Path, header: list[str], rows: list[list[str]]) -> np.ndarray:
    for line, row in enumerate(rows, start=2):
        if len(row) != len(header):
            raise InvalidInputError(
                f"design: {path} line {line} has {len(row)} values for {len(header)} columns"
            )
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            table = np.array(rows, dtype=np.float64).astype(np.float32)
    except ValueError:
        _first_bad_value(path, header, rows)
    if not np.isfinite(table).all():
        _first_bad_value(path, header, rows)
    return table


def _first_bad_value(path: Path, header: list[str], rows: list[list[str]]) -> NoReturn:
    for line, row in enumerate(rows, start=2):
        for name, value in zip(header, row, strict=True):
            try:
                with np.errstate(over="ignore", invalid="ignore"):
                    ok = math.isfinite(float(np.float32(value)))
            except (ValueError, OverflowError):
                ok = False
            if not ok:
                raise InvalidInputError(
                    f"design: {path} line {line}, column {name!r}: {value!r} is not a finite number"
                )
    raise InvalidInputError(f"design: {path} holds a value that is not a finite number")


__all__ = ["NUMERIC_DTYPES", "pooled_model", "stats_from_csv", "stats_from_listings"]
