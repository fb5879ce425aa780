"""Vertical (feature-partitioned) datasets: each party's table, alignment, split and scaling.

Every function here runs on *one* party's data; nothing combines the two tables except
:func:`joined_for_baseline`, which the harness uses for the centralised baseline only.

* :func:`load_party` reads one party's CSV (``id,y,x0..`` for the guest, ``id,x0..`` for the
  host) and removes a few percent of its ids with a fixed seed that differs per role, so
  each side has customers the other does not (the intersection is non-trivial).
* After the private set intersection, both parties order the shared ids the same way
  (:func:`aligned_order`: by their canonical PSI encoding) and look up their rows
  (:meth:`PartyTable.rows_of`).
* The guest, who holds the labels, splits the aligned rows into train / validation / test
  (:func:`make_split`, stratified) and sends the *positions* to the host, never ids.
* Each party standardises its own features on its own training rows and winsorises them at
  ``clip`` standard deviations (:class:`Standardizer`); the clip value doubles as the public
  bound ``|x| <= x_bound`` of the encrypted dot products.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from kernel.errors import InvalidInputError

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IndexArray = npt.NDArray[np.int64]
Role = Literal["guest", "host"]

#: CLI dataset name -> (registry name, guest file, host file).
DATASETS: dict[str, tuple[str, str, str]] = {
    "default-credit": (
        "fate_default_credit_hetero",
        "default_credit_hetero_guest.csv",
        "default_credit_hetero_host.csv",
    ),
    "breast": ("fate_breast_hetero", "breast_hetero_guest.csv", "breast_hetero_host.csv"),
}

#: Fraction of ids each side drops (disjoint draws per role), by default.
DEFAULT_DROP_FRACTION = 0.03
_ROLE_STREAM = {"guest": 1, "host": 2}


class VflDataError(InvalidInputError):
    """A party's table, a dataset name or a split request is malformed or out of range."""


@dataclass(frozen=True)
class PartyTable:
    """One party's rows: ids, features and (guest only) binary labels.

    Attributes
    ----------
    ids : list of str
        Row ids as written in the file (compared as strings in the PSI).
    features : ndarray of shape (n, F)
        Feature matrix (float64).
    feature_names : tuple of str
        Column names of ``features``.
    labels : ndarray of shape (n,) or None
        0/1 labels (float64) for the guest, ``None`` for the host.
    """

    ids: list[str]
    features: FloatArray
    feature_names: tuple[str, ...]
    labels: FloatArray | None = None

    def __post_init__(self) -> None:
        n = len(self.ids)
        if self.features.ndim != 2 or self.features.shape[0] != n:
            raise VflDataError(f"features of shape {self.features.shape} for {n} ids")
        if self.features.shape[1] != len(self.feature_names):
            raise VflDataError("feature_names does not match the feature columns")
        if self.labels is not None and self.labels.shape != (n,):
            raise VflDataError(f"labels of shape {self.labels.shape} for {n} ids")
        if len(set(self.ids)) != n:
            raise VflDataError("duplicate ids in a party's table")

    @property
    def rows(self) -> int:
        """Number of rows."""
        return len(self.ids)

    @property
    def n_features(self) -> int:
        """Number of feature columns."""
        return int(self.features.shape[1])

    def rows_of(self, ids: Sequence[str]) -> IndexArray:
        """Return the row index of each id (all must be present).

        Parameters
        ----------
        ids : sequence of str
            Ids of this table, e.g. the aligned intersection.

        Returns
        -------
        ndarray of int64
            Row positions in this table, in the order of ``ids``.
        """
        index = {value: i for i, value in enumerate(self.ids)}
        try:
            return np.array([index[value] for value in ids], dtype=np.int64)
        except KeyError as exc:
            raise VflDataError(f"id {exc.args[0]!r} is not in this party's table") from None

    def subset(self, rows: IndexArray) -> PartyTable:
        """Return the table restricted to ``rows`` (in that order).

        Parameters
        ----------
        rows : ndarray of int
            Row positions to keep.
        """
        return PartyTable(
            ids=[self.ids[i] for i in rows.tolist()],
            features=self.features[rows],
            feature_names=self.feature_names,
            labels=None if self.labels is None else self.labels[rows],
        )


def read_party_csv(path: Path, *, label_column: str | None = None) -> PartyTable:
    """Read ``id[,label],features...`` from a CSV file with a header row.

    Parameters
    ----------
    path : Path
        The CSV file.
    label_column : str or None
        Name of the 0/1 label column (the guest's ``"y"``); ``None`` for a host.

    Returns
    -------
    PartyTable
        The table, ids as strings, features as float64.

    Raises
    ------
    VflDataError
        On a missing column, a non-numeric value or a non-binary label.
    """
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        try:
            header = next(reader)
        except StopIteration:
            raise VflDataError(f"{path}: empty file") from None
        body = [row for row in reader if row]
    if not header or header[0] != "id":
        raise VflDataError(f"{path}: the first column must be 'id'")
    label_at: int | None = None
    if label_column is not None:
        if label_column not in header:
            raise VflDataError(f"{path}: no label column {label_column!r}")
        label_at = header.index(label_column)
    feature_at = [i for i in range(1, len(header)) if i != label_at]
    if any(len(row) != len(header) for row in body):
        raise VflDataError(f"{path}: rows of different lengths")
    try:
        values = np.array([[float(row[i]) for i in feature_at] for row in body], dtype=np.float64)
        labels = (
            None
            if label_at is None
            else np.array([float(row[label_at]) for row in body], dtype=np.float64)
        )
    except ValueError as exc:
        raise VflDataError(f"{path}: {exc}") from None
    if not np.isfinite(values).all():
        raise VflDataError(f"{path}: non-finite feature values")
    if labels is not None and not np.isin(labels, (0.0, 1.0)).all():
        raise VflDataError(f"{path}: labels must be 0 or 1")
    return PartyTable(
        ids=[row[0] for row in body],
        features=values.reshape(len(body), len(feature_at)),
        feature_names=tuple(header[i] for i in feature_at),
        labels=labels,
    )


def drop_ids(table: PartyTable, fraction: float, *, seed: int, role: Role) -> PartyTable:
    """Remove ``round(fraction * rows)`` random rows, with a stream fixed by ``seed`` and role.

    The two roles draw from different streams, so each side keeps customers the other
    dropped and the intersection is smaller than either table.

    Parameters
    ----------
    table : PartyTable
        The party's full table.
    fraction : float
        Share of rows to drop, in ``[0, 1)``.
    seed : int
        Seed of the removal.
    role : {"guest", "host"}
        Selects the random stream.

    Returns
    -------
    PartyTable
        The remaining rows, in file order.
    """
    if not 0.0 <= fraction < 1.0:
        raise VflDataError(f"fraction must be in [0, 1), got {fraction}")
    count = int(round(fraction * table.rows))
    if count == 0:
        return table
    rng = np.random.default_rng([seed, _ROLE_STREAM[role]])
    dropped = rng.choice(table.rows, size=count, replace=False)
    keep = np.setdiff1d(np.arange(table.rows), dropped)
    return table.subset(keep.astype(np.int64))


def dataset_files(dataset: str) -> tuple[Path, Path]:
    """Return the verified local paths of a dataset's guest and host CSV files.

    Parameters
    ----------
    dataset : {"default-credit", "breast"}
        The dataset name.

    Returns
    -------
    tuple of Path
        ``(guest_csv, host_csv)``, checked against their pinned sha256.
    """
    if dataset not in DATASETS:
        raise VflDataError(f"unknown dataset {dataset!r}; choose from {sorted(DATASETS)}")
    from fl_node.data.registry import fetch

    name, guest_file, host_file = DATASETS[dataset]
    files = fetch(name)
    return files[guest_file], files[host_file]


def load_party(
    path: Path,
    role: Role,
    *,
    drop_fraction: float = DEFAULT_DROP_FRACTION,
    seed: int = 0,
) -> PartyTable:
    """Read one party's CSV and drop its share of ids.

    Parameters
    ----------
    path : Path
        The party's CSV file (only its own).
    role : {"guest", "host"}
        ``"guest"`` reads the ``y`` label column.
    drop_fraction : float
        Share of this party's ids to remove (:func:`drop_ids`).
    seed : int
        Seed of the removal.

    Returns
    -------
    PartyTable
        The party's table.
    """
    table = read_party_csv(path, label_column="y" if role == "guest" else None)
    out = drop_ids(table, drop_fraction, seed=seed, role=role)
    log.debug(
        "%s: %d of %d rows after dropping %.1f%%", role, out.rows, table.rows, 100 * drop_fraction
    )
    return out


def aligned_order(ids: Sequence[Any]) -> list[str]:
    """Return the shared ids in the order both parties use: by canonical PSI encoding.

    Parameters
    ----------
    ids : sequence of str
        The intersection as one party learned it (any order).

    Returns
    -------
    list of str
        Sorted by :func:`fl_node.vertical.crypto.psi.encode_id`, so guest and host agree.
    """
    from fl_node.vertical.crypto.psi import encode_id

    values = [str(value) for value in ids]
    return sorted(set(values), key=encode_id)


@dataclass(frozen=True)
class SplitIndices:
    """Train / validation / test positions over the aligned order (sorted, disjoint).

    Attributes
    ----------
    train, validation, test : ndarray of int64
        Positions in ``[0, n_aligned)``.
    n_aligned : int
        Size of the aligned intersection.
    """

    train: IndexArray
    validation: IndexArray
    test: IndexArray
    n_aligned: int

    def __post_init__(self) -> None:
        parts = (self.train, self.validation, self.test)
        allpos = np.concatenate(parts)
        if allpos.size and (allpos.min() < 0 or allpos.max() >= self.n_aligned):
            raise VflDataError("split position outside the aligned rows")
        if np.unique(allpos).size != allpos.size:
            raise VflDataError("split parts overlap")
        if any(p.size and np.any(np.diff(p) <= 0) for p in parts):
            raise VflDataError("split positions must be strictly increasing")

    def part(self, name: str) -> IndexArray:
        """Return the positions of ``"train"``, ``"validation"`` or ``"test"``."""
        if name == "train":
            return self.train
        if name == "validation":
            return self.validation
        if name == "test":
            return self.test
        raise VflDataError(f"unknown split part {name!r}")

    def to_dict(self) -> dict[str, int]:
        """Sizes, for reports."""
        return {
            "aligned": self.n_aligned,
            "train": int(self.train.size),
            "validation": int(self.validation.size),
            "test": int(self.test.size),
        }


def make_split(
    labels: FloatArray,
    *,
    validation: float = 0.1,
    test: float = 0.2,
    seed: int = 0,
) -> SplitIndices:
    """Stratified random split of the aligned rows (run by the guest, who has the labels).

    Parameters
    ----------
    labels : ndarray of shape (n,)
        The guest's 0/1 labels in aligned order.
    validation, test : float
        Shares of each class put in the validation and test parts.
    seed : int
        Seed of the shuffle.

    Returns
    -------
    SplitIndices
        Sorted positions of each part.
    """
    if validation < 0 or test < 0 or validation + test >= 1:
        raise VflDataError("need 0 <= validation, test and validation + test < 1")
    rng = np.random.default_rng([seed, 7])
    parts: dict[str, list[IndexArray]] = {"train": [], "validation": [], "test": []}
    for cls in (0.0, 1.0):
        members = np.flatnonzero(labels == cls)
        rng.shuffle(members)
        n_test = int(round(test * members.size))
        n_val = int(round(validation * members.size))
        parts["test"].append(members[:n_test])
        parts["validation"].append(members[n_test : n_test + n_val])
        parts["train"].append(members[n_test + n_val :])
    return SplitIndices(
        train=np.sort(np.concatenate(parts["train"])).astype(np.int64),
        validation=np.sort(np.concatenate(parts["validation"])).astype(np.int64),
        test=np.sort(np.concatenate(parts["test"])).astype(np.int64),
        n_aligned=int(labels.size),
    )


def make_fold_split(
    labels: FloatArray,
    *,
    folds: int,
    fold: int,
    validation: float = 0.1,
    seed: int = 0,
) -> SplitIndices:
    """Fold ``fold`` of a stratified ``folds``-fold cross-validation over the aligned rows.

    Each class is shuffled once (the same way for every fold, so the folds partition the rows)
    and dealt round-robin to the folds; fold ``fold`` is the test part, ``validation`` of each
    class's remaining rows the validation part, the rest the training part.

    Parameters
    ----------
    labels : ndarray of shape (n,)
        The guest's 0/1 labels in aligned order.
    folds : int
        Number of folds (>= 2).
    fold : int
        Which fold is held out, in ``[0, folds)``.
    validation : float, default 0.1
        Share of each class's non-test rows put in the validation part.
    seed : int, default 0
        Seed of the shuffle.
    """
    if folds < 2 or not 0 <= fold < folds:
        raise VflDataError("need folds >= 2 and 0 <= fold < folds")
    if not 0 <= validation < 1:
        raise VflDataError("need 0 <= validation < 1")
    rng = np.random.default_rng([seed, 11])
    parts: dict[str, list[IndexArray]] = {"train": [], "validation": [], "test": []}
    for cls in (0.0, 1.0):
        members = np.flatnonzero(labels == cls)
        rng.shuffle(members)
        held = np.arange(members.size) % folds == fold
        rest = members[~held]
        n_val = int(round(validation * rest.size))
        parts["test"].append(members[held])
        parts["validation"].append(rest[:n_val])
        parts["train"].append(rest[n_val:])
    return SplitIndices(
        train=np.sort(np.concatenate(parts["train"])).astype(np.int64),
        validation=np.sort(np.concatenate(parts["validation"])).astype(np.int64),
        test=np.sort(np.concatenate(parts["test"])).astype(np.int64),
        n_aligned=int(labels.size),
    )


@dataclass(frozen=True)
class Standardizer:
    """Per-feature standardisation fitted on one party's training rows, then winsorised.

    ``transform(x) = clip((x - mean) / scale, -clip, clip)``; a constant column gets
    ``scale = 1``.

    Attributes
    ----------
    mean, scale : ndarray of shape (F,)
        Fitted statistics.
    clip : float or None
        Winsorising bound in standard deviations (``None``: no clipping).
    """

    mean: FloatArray
    scale: FloatArray
    clip: float | None

    @classmethod
    def fit(cls, x: FloatArray, clip: float | None = 3.0) -> Standardizer:
        """Fit on training rows.

        Parameters
        ----------
        x : ndarray of shape (n, F)
            The party's training rows.
        clip : float or None
            Winsorising bound (standard deviations).
        """
        if x.ndim != 2:
            raise VflDataError("expected a 2-D feature matrix")
        if x.shape[0] == 0:
            return cls(np.zeros(x.shape[1]), np.ones(x.shape[1]), clip)
        mean = x.mean(axis=0)
        scale = x.std(axis=0)
        scale = np.where(scale > 1e-12, scale, 1.0)
        return cls(mean.astype(np.float64), scale.astype(np.float64), clip)

    def transform(self, x: FloatArray) -> FloatArray:
        """Standardise (and clip) rows.

        Parameters
        ----------
        x : ndarray of shape (n, F)
            Rows of the same features.
        """
        z = (x - self.mean) / self.scale
        if self.clip is not None:
            z = np.clip(z, -self.clip, self.clip)
        return np.ascontiguousarray(z, dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (part of a party's model file)."""
        return {
            "mean": [float(v) for v in self.mean],
            "scale": [float(v) for v in self.scale],
            "clip": self.clip,
        }


def joined_for_baseline(
    guest: PartyTable, host: PartyTable
) -> tuple[list[str], FloatArray, FloatArray, FloatArray]:
    """Join both tables on their shared ids, in aligned order (centralised baseline only).

    Parameters
    ----------
    guest, host : PartyTable
        Both parties' tables (after their id removal).

    Returns
    -------
    tuple
        ``(aligned ids, guest features, host features, labels)``.
    """
    if guest.labels is None:
        raise VflDataError("the guest table has no labels")
    shared = aligned_order(sorted(set(guest.ids) & set(host.ids)))
    g_rows = guest.rows_of(shared)
    h_rows = host.rows_of(shared)
    return shared, guest.features[g_rows], host.features[h_rows], guest.labels[g_rows]
