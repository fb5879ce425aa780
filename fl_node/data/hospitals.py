"""The demo's multi-hospital diagnosis task: breast cancer split across four hospitals.

scikit-learn bundles the Wisconsin diagnostic breast-cancer data (569 patients, 30 features), so the
embedded demo needs no download. The split is fixed by a seed:

1. a stratified held-out **test** set (the sponsor's acceptance check, also the coordinator's),
2. a stratified **validation** set that only the coordinator holds (contribution measurement),
3. the rest dealt to the hospitals **non-IID**: each class is shared out by Dirichlet proportions,
   so hospitals differ in both size and benign/malignant mix.

Label 1 is *malignant* (scikit-learn codes malignant as 0; we flip it so positive = disease).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from fl_node.data.stats import FeatureStats, feature_stats
from fl_node.errors import DataError

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class LocalDataset:
    """One party's rows: features ``x`` and targets ``y``.

    ``x`` is float32, ``(n, d)`` for a table or ``(n, C, H, W)`` for images. ``y`` is float32 0/1
    for a binary task, float32 values for regression, int64 class indices for multi-class.
    """

    name: str
    x: FloatArray
    y: npt.NDArray[np.generic]

    def __post_init__(self) -> None:
        if self.x.ndim not in (2, 4) or self.y.ndim != 1 or self.x.shape[0] != self.y.shape[0]:
            raise DataError(f"LocalDataset {self.name}: x must be (n, d) or (n, C, H, W), y (n,)")

    @property
    def rows(self) -> int:
        """Number of rows."""
        return int(self.x.shape[0])

    def stats(self) -> FeatureStats:
        """Per-feature statistics (what a listing may publish); per channel for images."""
        if self.x.ndim == 4:
            return feature_stats(self.x.transpose(0, 2, 3, 1).reshape(-1, self.x.shape[1]))
        return feature_stats(self.x)

    def target_stats(self) -> FeatureStats:
        """Statistics of the target as one column (what a regression task standardises by)."""
        return feature_stats(self.y.astype(np.float64).reshape(-1, 1))

    def positive_rate(self) -> float:
        """Share of rows labelled 1."""
        return float(self.y.mean()) if self.rows else 0.0


@dataclass(frozen=True)
class FederatedSplit:
    """Hospitals' private datasets plus the coordinator's validation and test sets."""

    feature_names: tuple[str, ...]
    hospitals: tuple[LocalDataset, ...]
    validation: LocalDataset
    test: LocalDataset


def _stratified_take(
    rng: np.random.Generator, y: npt.NDArray[np.int64], idx: npt.NDArray[np.int64], fraction: float
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Split ``idx`` into (taken, rest) with ``fraction`` of each class taken."""
    taken: list[int] = []
    for cls in np.unique(y[idx]):
        members = idx[y[idx] == cls]
        members = rng.permutation(members)
        taken.extend(members[: int(round(fraction * len(members)))].tolist())
    taken_arr = np.array(sorted(taken), dtype=np.int64)
    rest = np.setdiff1d(idx, taken_arr)
    return taken_arr, rest


def _deal_non_iid(
    rng: np.random.Generator,
    y: npt.NDArray[np.int64],
    idx: npt.NDArray[np.int64],
    n_hospitals: int,
    *,
    alpha: float,
    min_rows: int,
) -> list[list[int]]:
    """Deal ``idx`` to hospitals by Dirichlet shares of each class, ``min_rows`` or more each.

    Raises
    ------
    DataError
        When 1000 draws never give every hospital ``min_rows`` rows.
    """
    for _ in range(1000):
        shares: list[list[int]] = [[] for _ in range(n_hospitals)]
        for cls in (0, 1):
            members = rng.permutation(idx[y[idx] == cls])
            props = rng.dirichlet(np.full(n_hospitals, alpha))
            cuts = (np.cumsum(props)[:-1] * len(members)).astype(int)
            for h, part in enumerate(np.split(members, cuts)):
                shares[h].extend(part.tolist())
        if min(len(s) for s in shares) >= min_rows:
            return shares
    raise DataError("breast_cancer_hospitals: cannot satisfy min_rows; raise alpha")


def breast_cancer_hospitals(
    n_hospitals: int = 4,
    *,
    seed: int = 2024,
    test_fraction: float = 0.2,
    validation_fraction: float = 0.1,
    alpha: float = 0.8,
    min_rows: int = 25,
) -> FederatedSplit:
    """Deal scikit-learn's breast-cancer data to ``n_hospitals`` non-IID hospitals.

    Parameters
    ----------
    n_hospitals : int, default 4
        Number of hospitals.
    seed : int, default 2024
        Seed of every random choice; the same seed gives the same split.
    test_fraction : float, default 0.2
        Share of rows held out for testing (stratified).
    validation_fraction : float, default 0.1
        Share of rows held by the coordinator for contribution measurement (stratified).
    alpha : float, default 0.8
        Dirichlet concentration of each class's shares; smaller is more skewed.
    min_rows : int, default 25
        Redraw the shares until every hospital has at least this many rows.
    """
    from sklearn.datasets import load_breast_cancer

    raw = load_breast_cancer()
    x_all = np.asarray(raw.data, dtype=np.float32)
    y_all = (np.asarray(raw.target) == 0).astype(np.int64)  # 1 = malignant
    rng = np.random.default_rng(seed)
    everything = np.arange(len(y_all), dtype=np.int64)
    test_idx, rest = _stratified_take(rng, y_all, everything, test_fraction)
    val_idx, rest = _stratified_take(
        rng, y_all, rest, validation_fraction / max(1e-9, 1 - test_fraction)
    )

    shares = _deal_non_iid(rng, y_all, rest, n_hospitals, alpha=alpha, min_rows=min_rows)

    def take(name: str, idx: npt.NDArray[np.int64] | list[int]) -> LocalDataset:
        order = np.sort(np.asarray(idx, dtype=np.int64))
        return LocalDataset(name, x_all[order], y_all[order].astype(np.float32))

    return FederatedSplit(
        feature_names=tuple(str(n) for n in raw.feature_names),
        hospitals=tuple(take(f"hospital-{h + 1}", s) for h, s in enumerate(shares)),
        validation=take("coordinator-validation", val_idx),
        test=take("held-out-test", test_idx),
    )
