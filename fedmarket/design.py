"""A sponsor's design step: input scaling pooled from published statistics, never from rows.

Whatever the dataset, a horizontal task's model standardises its inputs with the exact mean and
standard deviation of the union of the participants' data, pooled from the per-feature
statistics each data owner publishes (:func:`fl_node.data.pool_stats`). The statistics come
from the marketplace's listings or, for a sponsor holding sample files, from CSV files
(:func:`stats_from_csv`); :func:`pooled_model` turns them into the
:class:`~fl_node.models.ModelSpec`. ``fedmarket task design`` and the demo both build on these.

Anyone can list a dataset, so listings are not taken on trust: :func:`read_listings` reads every
page of them, and :func:`select_listings` keeps those whose facts hold (a verified document, active
on-chain, self-consistent statistics, the features most listings share), leaves out outliers by
robust statistics (medians and median absolute deviations of the listings' means), caps the rows
any one listing counts for, and says which listings it used and which it left out, and why.
"""

from __future__ import annotations

import csv
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import numpy as np

from fl_node.data import DataSchema, FeatureStats, feature_stats, load_party, pool_stats
from fl_node.errors import SpecError
from fl_node.models import ModelSpec
from kernel.errors import InvalidInputError

if TYPE_CHECKING:
    from marketplace_api import MarketplaceClient

NUMERIC_DTYPES = ("float", "int")
"""Schema dtypes of a listing that are model inputs (other columns are skipped)."""
PAGE_SIZE = 100
"""Listings read per request (the API's largest page)."""


def pooled_model(
    stats: Sequence[FeatureStats],
    *,
    kind: str = "mlp",
    hidden: tuple[int, ...] = (16,),
    seed: int = 0,
    **shape: Any,
) -> ModelSpec:
    """The model spec whose input scaling is the pooled mean and std of ``stats``.

    Parameters
    ----------
    stats : sequence of FeatureStats
        One summary per dataset, all of the same width (per channel for images).
    kind : str, default "mlp"
        Model family (:data:`fl_node.models.MODEL_KINDS`).
    hidden : tuple of int, default (16,)
        Hidden widths of the MLP or the CNN's dense part (``()`` for a linear model).
    seed : int, default 0
        Seed of the initial weights.
    **shape : Any
        The rest of :class:`~fl_node.models.ModelSpec`: ``task``, ``classes``, ``input_shape``,
        ``channels``, ``layers``, and ``target`` (a sequence of one-column FeatureStats of a
        regression target, pooled the same way into ``target_mean`` and ``target_std``).

    Raises
    ------
    InvalidInputError
        No statistics, datasets of different widths, or a spec the model refuses.
    """
    if not stats:
        raise InvalidInputError("design: no dataset statistics to pool")
    target = shape.pop("target", None)
    try:
        mean, std = pool_stats(stats)
        if target:
            (t_mean,), (t_std,) = pool_stats(target)
            shape.update(target_mean=float(t_mean), target_std=float(t_std) or 1.0)
        image = shape.get("input_shape") or ()
        width = int(np.prod(image)) if image else len(mean)
        return ModelSpec(
            n_features=width,
            feature_mean=tuple(mean),
            feature_std=tuple(std),
            kind=kind,
            hidden=hidden,
            seed=seed,
            **shape,
        )
    except (ValueError, TypeError, SpecError) as exc:
        raise InvalidInputError(f"design: {exc}") from None


@dataclass(frozen=True)
class DesignInputs:
    """What a design pools.

    Each dataset's feature statistics, the feature names, and for a regression task each
    dataset's target statistics (one column).
    """

    stats: list[FeatureStats]
    features: tuple[str, ...]
    target: list[FeatureStats] = field(default_factory=list)
    classes: int = 0


def inputs_from_files(schema: DataSchema, files: Sequence[Path]) -> DesignInputs:
    """Each party's file read and encoded by ``schema`` and summarised alone (rows never pooled).

    Per file: per-feature (per-channel for images) statistics, and the target's for regression.
    """
    stats: list[FeatureStats] = []
    target: list[FeatureStats] = []
    for path in files:
        data = load_party(path, schema)
        stats.append(data.stats())
        if schema.target_kind == "regression":
            target.append(data.target_stats())
    features = () if schema.image is not None else schema.encoded_names()
    return DesignInputs(stats, features, target, schema.n_classes)


@dataclass(frozen=True)
class UsedListing:
    """A listing whose statistics the design pools.

    Attributes
    ----------
    id : int or str
        The listing's id.
    rows : int
        The rows it counts for in the pooling (its ``count``, capped: see :data:`WEIGHT_CAP`).
    claimed : int
        The rows its statistics claim.
    """

    id: int | str
    rows: int
    claimed: int


@dataclass(frozen=True)
class ExcludedListing:
    """A listing the design left out, and why."""

    id: int | str
    reason: str


@dataclass(frozen=True)
class ListingSelection:
    """What :func:`select_listings` kept and left out.

    Attributes
    ----------
    stats : list of FeatureStats
        The statistics pooled, one per used listing (counts capped).
    features : tuple of str
        The feature columns.
    used : list of UsedListing
        The listings pooled, in the order given.
    excluded : list of ExcludedListing
        The listings left out, with the reason, in the order given.
    """

    stats: list[FeatureStats]
    features: tuple[str, ...]
    used: list[UsedListing]
    excluded: list[ExcludedListing]


OUTLIER_DEVIATIONS = 5.0
"""How far a listing's mean may lie from the median of the listings' means, in robust scales."""
STD_RATIO = 10.0
"""How many times the median of the listings' standard deviations a listing's may reach."""
WEIGHT_CAP = 10
"""No listing counts for more rows than this many times the median listing."""
MIN_SCREENED = 3
"""Listings needed to tell an outlier (with two, neither is the odd one out)."""


@dataclass(frozen=True)
class _Candidate:
    id: int | str
    features: tuple[str, ...]
    stats: FeatureStats


def read_listings(
    client: MarketplaceClient, tag: str | None = None, *, page_size: int = PAGE_SIZE
) -> list[dict[str, Any]]:
    """Every active listing of the marketplace (tagged ``tag`` when given), page by page.

    Parameters
    ----------
    client : MarketplaceClient
        The marketplace API.
    tag : str or None, default None
        Only listings with this tag.
    page_size : int, default PAGE_SIZE
        Listings asked for per request.
    """
    found: list[dict[str, Any]] = []
    while True:
        page = client.datasets_page(tag=tag, limit=page_size, offset=len(found))
        found.extend(page["items"])
        if not page["items"] or len(found) >= int(page["total"]):
            return found


def select_listings(
    listings: Sequence[Mapping[str, Any]], *, label: str = "label"
) -> ListingSelection:
    """The listings a design can trust, their statistics, and the ones it leaves out, with why.

    A listing is left out when its facts fail (its metadata document is not ``ok``: unreadable,
    or not what the owner signed on-chain; it is delisted; it publishes no statistics, or
    statistics that contradict themselves or its schema; it has no ``label`` column), when its
    features are not those most listings share, or, among :data:`MIN_SCREENED` or more, when it is
    an outlier: a feature's mean more than :data:`OUTLIER_DEVIATIONS` robust scales from the
    median of the listings' means (the scale is the larger of the scaled median absolute deviation
    of the means and the median of their standard deviations), or a standard deviation over
    :data:`STD_RATIO` times the median. A listing's rows count at most :data:`WEIGHT_CAP` times
    the median listing's.

    Parameters
    ----------
    listings : sequence of mapping
        Listings as ``GET /datasets`` returns them.
    label : str, default "label"
        The label column (not a feature).

    Raises
    ------
    InvalidInputError
        No listing, none usable (the reasons are listed), or two feature sets shared by as many
        listings each.
    """
    if not listings:
        raise InvalidInputError("design: the marketplace lists no matching dataset")
    excluded: list[ExcludedListing] = []
    candidates: list[_Candidate] = []
    for listing in listings:
        found = _candidate(listing, label)
        if isinstance(found, ExcludedListing):
            excluded.append(found)
        else:
            candidates.append(found)
    candidates = _common_features(candidates, excluded)
    candidates = _screened(candidates, excluded)
    if not candidates:
        reasons = "; ".join(f"listing {e.id}: {e.reason}" for e in excluded[:5])
        raise InvalidInputError(f"design: no usable listing among {len(listings)} ({reasons})")
    cap = WEIGHT_CAP * max(1, int(np.median([c.stats.count for c in candidates])))
    used = [UsedListing(c.id, min(c.stats.count, cap), c.stats.count) for c in candidates]
    stats = [replace(c.stats, count=u.rows) for c, u in zip(candidates, used, strict=True)]
    return ListingSelection(stats, candidates[0].features, used, excluded)


def _candidate(listing: Mapping[str, Any], label: str) -> _Candidate | ExcludedListing:
    """The listing as a candidate, or why its own facts leave it out."""
    ident = listing.get("id", "?")
    status = listing.get("document_status", "ok")
    if status != "ok":
        why = listing.get("document_error") or "unreadable or not what the owner signed"
        return ExcludedListing(ident, f"metadata document {status}: {why}")
    if listing.get("active") is False:
        return ExcludedListing(ident, "delisted on-chain")
    schema = listing.get("schema") or []
    if label not in {c.get("name") for c in schema}:
        return ExcludedListing(ident, f"no label column {label!r} (--label)")
    raw = listing.get("statistics")
    if not raw:
        return ExcludedListing(ident, "publishes no statistics")
    numeric = [str(c["name"]) for c in schema if c.get("dtype") in NUMERIC_DTYPES]
    features = tuple(n for n in numeric if n != label)
    try:
        stats = FeatureStats.from_dict(dict(raw))
    except ValueError as exc:
        return ExcludedListing(ident, f"malformed statistics: {exc}")
    if len(stats.mean) == len(numeric) and label in numeric:  # the label's are no feature's
        stats = _columns(stats, [i for i, n in enumerate(numeric) if n != label])
    if len(stats.mean) != len(features):
        return ExcludedListing(
            ident, f"statistics of {len(stats.mean)} columns for {len(features)} numeric features"
        )
    why = _contradiction(stats, listing.get("row_count"))
    if why is not None:
        return ExcludedListing(ident, f"inconsistent statistics: {why}")
    return _Candidate(ident, features, stats)


def _columns(stats: FeatureStats, keep: list[int]) -> FeatureStats:
    def pick(values: tuple[float, ...]) -> tuple[float, ...]:
        return tuple(values[i] for i in keep)

    return FeatureStats(
        stats.count, pick(stats.mean), pick(stats.std), pick(stats.minimum), pick(stats.maximum)
    )


def _contradiction(stats: FeatureStats, row_count: Any) -> str | None:
    """What in ``stats`` no dataset could have, or ``None``."""
    if isinstance(row_count, int) and stats.count > row_count:
        return f"count {stats.count} exceeds row_count {row_count}"
    columns = zip(stats.mean, stats.std, stats.minimum, stats.maximum, strict=True)
    for i, (mean, std, low, high) in enumerate(columns):
        slack = 1e-9 * max(1.0, abs(low), abs(high))
        if low > high:
            return f"column {i}: min {low} exceeds max {high}"
        if not low - slack <= mean <= high + slack:
            return f"column {i}: mean {mean} outside [{low}, {high}]"
        if std > high - low + slack:
            return f"column {i}: std {std} exceeds max - min"
    return None


def _common_features(
    candidates: list[_Candidate], excluded: list[ExcludedListing]
) -> list[_Candidate]:
    """The candidates with the feature set most of them share; the others are excluded."""
    counts = Counter(c.features for c in candidates)
    if not counts:
        return []
    ranked = counts.most_common()
    if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
        raise InvalidInputError(
            f"design: as many listings have {len(ranked[0][0])} features as "
            f"{len(ranked[1][0])}; choose the datasets with --tag"
        )
    chosen = ranked[0][0]
    for c in candidates:
        if c.features != chosen:
            excluded.append(
                ExcludedListing(c.id, f"other features than the {ranked[0][1]} listings used")
            )
    return [c for c in candidates if c.features == chosen]


def _screened(candidates: list[_Candidate], excluded: list[ExcludedListing]) -> list[_Candidate]:
    """The candidates that are not outliers among them (all of them when too few to tell)."""
    if len(candidates) < MIN_SCREENED:
        return candidates
    means = np.array([c.stats.mean for c in candidates], dtype=np.float64)
    stds = np.array([c.stats.std for c in candidates], dtype=np.float64)
    centre = np.median(means, axis=0)
    mad = 1.4826 * np.median(np.abs(means - centre), axis=0)
    spread = np.median(stds, axis=0)
    scale = np.maximum(np.maximum(mad, spread), 1e-12 * np.maximum(1.0, np.abs(centre)))
    kept: list[_Candidate] = []
    for row, c in enumerate(candidates):
        deviations = np.abs(means[row] - centre) / scale
        worst = int(np.argmax(deviations))
        if deviations[worst] > OUTLIER_DEVIATIONS:
            excluded.append(
                ExcludedListing(
                    c.id,
                    f"outlier: the mean of {c.features[worst]!r} ({means[row, worst]:.6g}) lies "
                    f"{deviations[worst]:.3g} robust scales from the median {centre[worst]:.6g}",
                )
            )
            continue
        ratios = stds[row] / np.maximum(spread, 1e-12)
        wide = int(np.argmax(ratios))
        if ratios[wide] > STD_RATIO:
            excluded.append(
                ExcludedListing(
                    c.id,
                    f"outlier: the std of {c.features[wide]!r} ({stds[row, wide]:.6g}) is "
                    f"{ratios[wide]:.3g} times the median {spread[wide]:.6g}",
                )
            )
            continue
        kept.append(c)
    return kept


def stats_from_listings(
    listings: Sequence[Mapping[str, Any]], *, label: str = "label"
) -> tuple[list[FeatureStats], tuple[str, ...]]:
    """The pooled statistics of the listings :func:`select_listings` keeps, and their features.

    Parameters
    ----------
    listings : sequence of mapping
        Listings as ``GET /datasets`` returns them.
    label : str, default "label"
        The label column (not a feature).

    Raises
    ------
    InvalidInputError
        As :func:`select_listings`.
    """
    selection = select_listings(listings, label=label)
    return selection.stats, selection.features


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


__all__ = [
    "NUMERIC_DTYPES",
    "ExcludedListing",
    "ListingSelection",
    "UsedListing",
    "pooled_model",
    "read_listings",
    "select_listings",
    "stats_from_csv",
    "stats_from_listings",
]
