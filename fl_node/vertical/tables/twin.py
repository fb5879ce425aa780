"""The centralised twin: the parties' prepared tables joined, logistic regression cross-validated.

The twin is what a single owner of every table would get with *the same preprocessing*: each
party's table goes through :func:`~.party.prepare_party` exactly as in the federated run
(ids normalised, preparation fitted on that party's own rows), then the tables are joined on
the normalised ids and scikit-learn's logistic regression is scored by stratified k-fold
cross-validation (mean test AUC). Only an auditor or a benchmark, holding every file, runs it.

The joined rows are in sorted order of the normalised ids, which for string ids is the
federated *aligned order* (sorting by the PSI's canonical encoding ``b"s" + utf-8``), so
the federated run's fold positions can be passed as ``splits``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from fl_node.vertical.tables._errors import TableError
from fl_node.vertical.tables.party import PreparedTable
from fl_node.vertical.tables.reader import FloatArray

IndexArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class JoinedTable:
    """Every party's prepared features on the shared ids.

    Attributes
    ----------
    ids : tuple of str
        The shared normalised ids, sorted.
    features : ndarray of shape (rows, F)
        The guest's features, then each host's, side by side.
    feature_names : tuple of str
        ``party:feature`` for each column.
    labels : ndarray of shape (rows,)
        The guest's 0/1 labels.
    """

    ids: tuple[str, ...]
    features: FloatArray
    feature_names: tuple[str, ...]
    labels: FloatArray


def join_prepared(guest: PreparedTable, hosts: Sequence[PreparedTable]) -> JoinedTable:
    """Join the guest's and the hosts' prepared tables on their normalised ids (inner join).

    Parameters
    ----------
    guest : PreparedTable
        The guest's table (with labels).
    hosts : sequence of PreparedTable
        Each host's table, named ``host-1``, ``host-2``... in the feature names.

    Raises
    ------
    TableError
        When the guest's table has no labels or the join is empty.
    """
    if guest.labels is None:
        raise TableError("the guest's prepared table has no labels")
    shared = set(guest.ids)
    for host in hosts:
        shared &= set(host.ids)
    if not shared:
        raise TableError("the tables share no id after the id rules: run the preflight")
    ids = tuple(sorted(shared))
    blocks, names = [], []
    for party, table in (("guest", guest), *((f"host-{i}", h) for i, h in enumerate(hosts, 1))):
        where = {value: i for i, value in enumerate(table.ids)}
        blocks.append(table.features[[where[value] for value in ids]])
        names += [f"{party}:{name}" for name in table.feature_names]
    rows = [dict(zip(guest.ids, range(guest.rows), strict=True))[value] for value in ids]
    return JoinedTable(ids, np.hstack(blocks), tuple(names), guest.labels[rows])


@dataclass(frozen=True)
class TwinResult:
    """Cross-validated AUC of the centralised logistic regression.

    Attributes
    ----------
    rows, features : int
        Joined rows and feature columns.
    fold_aucs : tuple of float
        Test AUC of each fold.
    """

    rows: int
    features: int
    fold_aucs: tuple[float, ...]

    @property
    def auc(self) -> float:
        """Mean test AUC over the folds."""
        return float(np.mean(self.fold_aucs))


def stratified_folds(
    labels: FloatArray, folds: int, seed: int
) -> list[tuple[IndexArray, IndexArray]]:
    """Stratified k-fold ``(train, test)`` positions (scikit-learn's, shuffled with ``seed``).

    Parameters
    ----------
    labels : ndarray
        0/1 labels.
    folds : int
        Number of folds (>= 2).
    seed : int
        Shuffle seed.
    """
    from sklearn.model_selection import StratifiedKFold

    if folds < 2:
        raise TableError(f"need at least 2 folds, not {folds}")
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return [
        (train.astype(np.int64), test.astype(np.int64))
        for train, test in splitter.split(np.zeros(labels.size), labels)
    ]


def centralised_cv_auc(
    joined: JoinedTable,
    *,
    folds: int = 5,
    seed: int = 0,
    splits: Sequence[tuple[IndexArray, IndexArray]] | None = None,
    l2_c: float = 1.0,
    fold_standardise: bool = False,
    fold_clip: float | None = None,
) -> TwinResult:
    """Stratified k-fold cross-validated AUC of logistic regression on the joined table.

    Parameters
    ----------
    joined : JoinedTable
        The joined prepared tables (:func:`join_prepared`).
    folds : int, default 5
        Folds when ``splits`` is not given.
    seed : int, default 0
        Shuffle seed of the folds.
    splits : sequence of (train, test) position arrays or None, default None
        Use these folds instead (e.g. the federated run's, over the same aligned order).
    l2_c : float, default 1.0
        scikit-learn's inverse L2 strength ``C``.
    fold_standardise : bool, default False
        Also standardise every column on each fold's training rows (a constant column keeps
        scale 1), as the federated runner's per-party ``Standardizer`` does.
    fold_clip : float or None, default None
        With ``fold_standardise``: clip at this many standard deviations (the runner's
        ``x_bound``).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    x, y = joined.features, joined.labels
    chosen = list(splits) if splits is not None else stratified_folds(y, folds, seed)
    aucs = []
    for train, test in chosen:
        z = _standardised(x, train, fold_clip) if fold_standardise else x
        model = LogisticRegression(C=l2_c, max_iter=5000).fit(z[train], y[train])
        aucs.append(float(roc_auc_score(y[test], model.predict_proba(z[test])[:, 1])))
    return TwinResult(rows=int(y.size), features=int(x.shape[1]), fold_aucs=tuple(aucs))


def _standardised(x: FloatArray, train: IndexArray, clip: float | None) -> FloatArray:
    """``x`` standardised on the ``train`` rows' mean and std (constant columns: scale 1)."""
    mean = x[train].mean(axis=0)
    scale = x[train].std(axis=0)
    z: FloatArray = (x - mean) / np.where(scale > 1e-12, scale, 1.0)
    return np.clip(z, -clip, clip) if clip is not None else z


__all__ = [
    "JoinedTable",
    "TwinResult",
    "centralised_cv_auc",
    "join_prepared",
    "stratified_folds",
]
