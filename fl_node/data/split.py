"""Seeded splits of a dataset over parties, for experiments: IID, label-Dirichlet, quantity skew.

Every function is pure: it takes row counts or labels and a seed and returns index arrays
(sorted, disjoint, together covering the rows given); the same arguments give the same split.

- :func:`split_iid`: rows shuffled and dealt in near-equal parts (sizes differ by at most one);
- :func:`split_dirichlet`: each class is shared out by proportions drawn from
  ``Dirichlet(alpha, ..., alpha)``, so a small ``alpha`` gives each party few classes
  (label skew), a large one the global mix;
- :func:`split_quantity_skew`: party sizes drawn from ``Dirichlet(alpha)``, rows IID;
- :func:`split_holdout`: the held-out validation and test rows, stratified by class when
  labels are given.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from fl_node.errors import DataError

IndexArray = npt.NDArray[np.int64]
MAX_PARTIES = 10_000
MAX_TRIES = 1000
"""Draws tried before giving up on ``min_rows``."""


def _check_args(n: int, parties: int, alpha: float | None = None) -> None:
    if not 1 <= parties <= MAX_PARTIES:
        raise DataError(f"split: parties must be from 1 to {MAX_PARTIES}, not {parties}")
    if n < parties:
        raise DataError(f"split: {n} rows cannot be dealt to {parties} parties")
    if alpha is not None and not (math.isfinite(alpha) and alpha > 0):
        raise DataError(f"split: alpha must be a positive number, not {alpha}")


def _sorted_parts(parts: Sequence[npt.NDArray[np.integer]]) -> tuple[IndexArray, ...]:
    return tuple(np.sort(np.asarray(p, dtype=np.int64)) for p in parts)


def split_iid(n: int, parties: int, seed: int) -> tuple[IndexArray, ...]:
    """Shuffle ``n`` rows and deal them in ``parties`` parts of near-equal size.

    Parameters
    ----------
    n : int
        Rows.
    parties : int
        Parts.
    seed : int
        Seed of the shuffle.
    """
    _check_args(n, parties)
    order = np.random.default_rng(seed).permutation(n)
    return _sorted_parts(np.array_split(order, parties))


def _cut(members: npt.NDArray[np.int64], props: npt.NDArray[np.float64]) -> list[IndexArray]:
    """Cut ``members`` in consecutive parts of shares ``props``."""
    cuts = (np.cumsum(props)[:-1] * len(members)).astype(np.int64)
    return list(np.split(members, cuts))


def split_dirichlet(
    labels: npt.ArrayLike, parties: int, alpha: float, seed: int, *, min_rows: int = 1
) -> tuple[IndexArray, ...]:
    """Share each class's rows over ``parties`` by proportions from ``Dirichlet(alpha)``.

    Classes are taken in sorted order; for each, its rows are shuffled, proportions drawn, and
    the rows cut in consecutive parts. The whole draw is repeated until every party has at
    least ``min_rows`` rows.

    Parameters
    ----------
    labels : array-like of int
        Class of each row.
    parties : int
        Parts.
    alpha : float
        Dirichlet concentration (0.5 is strongly skewed, 100 close to IID).
    seed : int
        Seed of every draw.
    min_rows : int, default 1
        Fewest rows a party may get.

    Raises
    ------
    DataError
        Bad arguments, or :data:`MAX_TRIES` draws never gave every party ``min_rows`` rows.
    """
    y = np.asarray(labels)
    if y.ndim != 1 or y.dtype.kind not in "iub":
        raise DataError("split_dirichlet: labels must be a 1-D array of class indices")
    _check_args(len(y), parties, alpha)
    if min_rows * parties > len(y):
        raise DataError(f"split_dirichlet: {len(y)} rows cannot give {parties} parties {min_rows}")
    rng = np.random.default_rng(seed)
    for _ in range(MAX_TRIES):
        shares: list[list[IndexArray]] = [[] for _ in range(parties)]
        for cls in np.unique(y):
            members = rng.permutation(np.flatnonzero(y == cls))
            props = rng.dirichlet(np.full(parties, alpha))
            for k, part in enumerate(_cut(members, props)):
                shares[k].append(part)
        parts = [np.concatenate(s) for s in shares]
        if min(len(p) for p in parts) >= min_rows:
            return _sorted_parts(parts)
    raise DataError(f"split_dirichlet: no draw gave every party {min_rows} rows; raise alpha")


def split_quantity_skew(
    n: int, parties: int, alpha: float, seed: int, *, min_rows: int = 1
) -> tuple[IndexArray, ...]:
    """Deal ``n`` shuffled rows in parts whose sizes are shares drawn from ``Dirichlet(alpha)``.

    Parameters
    ----------
    n : int
        Rows.
    parties : int
        Parts.
    alpha : float
        Dirichlet concentration of the sizes (small: very unequal sizes).
    seed : int
        Seed of every draw.
    min_rows : int, default 1
        Fewest rows a party may get (sizes are redrawn until they allow it).
    """
    _check_args(n, parties, alpha)
    if min_rows * parties > n:
        raise DataError(f"split_quantity_skew: {n} rows cannot give {parties} parties {min_rows}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    for _ in range(MAX_TRIES):
        parts = _cut(order, rng.dirichlet(np.full(parties, alpha)))
        if min(len(p) for p in parts) >= min_rows:
            return _sorted_parts(parts)
    raise DataError(f"split_quantity_skew: no draw gave every party {min_rows} rows; raise alpha")


def split_holdout(
    n: int,
    *,
    test_fraction: float,
    validation_fraction: float,
    seed: int,
    labels: npt.ArrayLike | None = None,
) -> tuple[IndexArray, IndexArray, IndexArray]:
    """Set aside test and validation rows; returns ``(rest, validation, test)``.

    With ``labels``, each class gives ``round(fraction * its rows)`` rows to each holdout
    (stratified); without, the counts are taken over all rows.

    Parameters
    ----------
    n : int
        Rows.
    test_fraction : float
        Share of rows for the test set (0 for none).
    validation_fraction : float
        Share of rows for the coordinator's validation set (0 for none).
    seed : int
        Seed of the shuffle.
    labels : array-like of int or None, default None
        Class of each row, to stratify by.
    """
    if not (0 <= test_fraction < 1 and 0 <= validation_fraction < 1) or (
        test_fraction + validation_fraction >= 1
    ):
        raise DataError("split_holdout: fractions must be in [0, 1) and sum to less than 1")
    groups = [np.arange(n)] if labels is None else _class_groups(np.asarray(labels), n)
    rng = np.random.default_rng(seed)
    test: list[IndexArray] = []
    validation: list[IndexArray] = []
    rest: list[IndexArray] = []
    for members in groups:
        shuffled = rng.permutation(members)
        n_test = int(round(test_fraction * len(shuffled)))
        n_val = int(round(validation_fraction * len(shuffled)))
        test.append(shuffled[:n_test])
        validation.append(shuffled[n_test : n_test + n_val])
        rest.append(shuffled[n_test + n_val :])
    out = _sorted_parts([np.concatenate(rest), np.concatenate(validation), np.concatenate(test)])
    return out[0], out[1], out[2]


def _class_groups(y: npt.NDArray[np.generic], n: int) -> list[IndexArray]:
    if y.shape != (n,):
        raise DataError(f"split_holdout: {y.shape} labels for {n} rows")
    return [np.flatnonzero(y == cls) for cls in np.unique(y)]
