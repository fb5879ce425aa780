"""X-Wines as two rating domains: the source (red wines) and the target (every other type).

:func:`load_domains` reads the registry's ``xwines_slim`` files (``FEDMARKET_DATA_DIR``) and
gives each party only its own domain: its users' original ids (sorted), its items' ids and its
ratings as local indices. :func:`split_target` draws the seed-controlled train / validation /
test split of the target's ratings; the source's ratings are all training data.
"""

from __future__ import annotations

import csv
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fl_node.transfer.errors import TransferInputError
from fl_node.transfer.mf import Ints, Ratings

log = logging.getLogger(__name__)

DATASET = "xwines_slim"
"""The registry entry holding the wines and the ratings."""
RATINGS_FILE = "XWines_Slim_150K_ratings.csv"
RATINGS_SHA256 = "4eead4218c53418c2660c6c260b9f9ddf7d5ed30e16879d9c6e7081ae6c9c6c6"
"""The publisher's SHA-256 of the ratings (``XWines_Slim-Hash_files.txt``): upstream ships them
only inside a zip, so the registry pins the wines file and this module the ratings beside it."""
WINES_FILE = "XWines_Slim_1K_wines.csv"
SOURCE_TYPE = "Red"
"""Wine type of the source domain; every other type is the target."""


@dataclass(frozen=True)
class Domain:
    """One party's ratings: local user and item indices into its own sorted id lists.

    Attributes
    ----------
    name : str
        ``"target"`` or ``"source"``.
    user_ids : ndarray of int
        Original user ids, sorted; local user ``u`` is ``user_ids[u]``.
    item_ids : ndarray of int
        Original wine ids, sorted.
    ratings : Ratings
        Every rating of the domain.
    """

    name: str
    user_ids: Ints
    item_ids: Ints
    ratings: Ratings


@dataclass(frozen=True)
class TargetSplit:
    """The target's ratings split by a seed: train, validation, test."""

    train: Ratings
    valid: Ratings
    test: Ratings


def read_xwines(folder: Path) -> tuple[Ints, Ints, np.ndarray, dict[int, str]]:
    """``(user ids, wine ids, ratings, wine id -> type)`` from the two CSV files in ``folder``."""
    with (folder / WINES_FILE).open(encoding="utf-8", newline="") as fh:
        types = {int(row["WineID"]): row["Type"] for row in csv.DictReader(fh)}
    with (folder / RATINGS_FILE).open(encoding="utf-8", newline="") as fh:
        rows = [(row["UserID"], row["WineID"], row["Rating"]) for row in csv.DictReader(fh)]
    table = np.array(rows, dtype=np.float64).reshape(-1, 3)
    return table[:, 0].astype(np.int64), table[:, 1].astype(np.int64), table[:, 2], types


def dataset_folder() -> Path:
    """The verified ``xwines_slim`` folder of the data directory (nothing is downloaded).

    Raises
    ------
    DataUnavailableError
        A file is missing.
    DataIntegrityError
        A file does not match its pinned sha256.
    """
    from fl_node.data.registry import fetch
    from fl_node.errors import DataIntegrityError, DataUnavailableError

    folder = fetch(DATASET, download=False)[WINES_FILE].parent
    ratings = folder / RATINGS_FILE
    if not ratings.exists():
        raise DataUnavailableError(f"load_domains: {ratings} is missing (set FEDMARKET_DATA_DIR)")
    if hashlib.sha256(ratings.read_bytes()).hexdigest() != RATINGS_SHA256:
        raise DataIntegrityError(f"load_domains: {ratings} does not match its pinned sha256")
    return folder


def load_domains(
    folder: Path | None = None, *, max_users: int = 0, seed: int = 0
) -> tuple[Domain, Domain]:
    """The target and the source domain of X-Wines.

    Parameters
    ----------
    folder : Path or None, default None
        Folder of the two CSV files; ``None`` fetches ``xwines_slim`` from the data registry
        (``FEDMARKET_DATA_DIR``), verified by sha256.
    max_users : int, default 0
        Keep only this many users drawn at random (0: all), for fast tests.
    seed : int, default 0
        Seed of that draw.
    """
    if folder is None:
        folder = dataset_folder()
    users, wines, values, types = read_xwines(folder)
    if max_users:
        kept = np.random.default_rng(seed).permutation(np.unique(users))[:max_users]
        keep = np.isin(users, kept)
        users, wines, values = users[keep], wines[keep], values[keep]
    red = np.array([types.get(int(w)) == SOURCE_TYPE for w in wines])
    if not red.any() or red.all():
        raise TransferInputError("load_domains: one of the two domains has no rating")
    target = _domain("target", users[~red], wines[~red], values[~red])
    source = _domain("source", users[red], wines[red], values[red])
    log.info("load_domains: target %d ratings, source %d", len(target.ratings), len(source.ratings))
    return target, source


def _domain(name: str, users: Ints, wines: Ints, values: np.ndarray) -> Domain:
    user_ids, u = np.unique(users, return_inverse=True)
    item_ids, i = np.unique(wines, return_inverse=True)
    return Domain(name, user_ids, item_ids, Ratings(u.astype(np.int64), i.astype(np.int64), values))


def split_target(
    ratings: Ratings, seed: int, *, valid: float = 0.1, test: float = 0.2
) -> TargetSplit:
    """A random split of the target's ratings into train, validation and test.

    Parameters
    ----------
    ratings : Ratings
        The target's ratings.
    seed : int
        Seed of the permutation.
    valid, test : float, default 0.1 and 0.2
        Shares of validation and test ratings.
    """
    if not (0 < valid and 0 < test and valid + test < 1):
        raise TransferInputError(f"split_target: bad shares valid={valid}, test={test}")
    order = np.random.default_rng(seed).permutation(len(ratings))
    n_valid, n_test = int(round(valid * len(order))), int(round(test * len(order)))
    return TargetSplit(
        train=ratings.subset(np.sort(order[n_valid + n_test :])),
        valid=ratings.subset(np.sort(order[:n_valid])),
        test=ratings.subset(np.sort(order[n_valid : n_valid + n_test])),
    )


__all__ = [
    "DATASET",
    "SOURCE_TYPE",
    "Domain",
    "TargetSplit",
    "load_domains",
    "read_xwines",
    "split_target",
]
