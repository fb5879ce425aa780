"""The centralised baseline: plaintext logistic regression on the joined data, same split.

The orchestrator plays the auditor here: it reads both CSV files (which no party does), joins
them on the ids and fits scikit-learn's logistic regression on the federated run's split, to
say how much accuracy the privacy costs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fl_node.vertical.data import SplitIndices, Standardizer, joined_for_baseline, load_party
from fl_node.vertical.runner._errors import InconsistentResultError


@dataclass(frozen=True)
class Baseline:
    """Centralised logistic regression on the joined features, scored on the test part.

    Attributes
    ----------
    rows, features : int
        Joined rows and total features.
    auc, ks : float
        On standardised joined features, scikit-learn defaults.
    metrics : dict of str to float
        Every binary metric of that model.
    same_auc, same_ks : float
        The same model on the winsorised features the parties train on.
    """

    rows: int
    features: int
    auc: float
    ks: float
    metrics: dict[str, float]
    same_auc: float
    same_ks: float

    def to_dict(self) -> dict[str, Any]:
        """The ``centralized`` section of ``summary.json``."""
        return {
            "rows": self.rows,
            "features": self.features,
            "auc": self.auc,
            "ks": self.ks,
            "metrics": self.metrics,
            "same_preprocessing": {"auc": self.same_auc, "ks": self.same_ks},
        }


def centralized_baseline(
    guest_csv: Path,
    host_csv: Path,
    split: SplitIndices,
    *,
    drop_fraction: float,
    seed: int,
    clip: float,
) -> Baseline:
    """Plaintext logistic regression on the joined data with the federated run's split.

    Parameters
    ----------
    guest_csv, host_csv : Path
        Both parties' files (the auditor's view).
    split : SplitIndices
        The guest's split over the aligned rows.
    drop_fraction, seed : float, int
        The parties' id removal (to rebuild the same intersection).
    clip : float
        Winsorising bound of the federated features (for the same-preprocessing variant).

    Raises
    ------
    InconsistentResultError
        When the plain join finds another number of shared ids than the PSI did.
    """
    from sklearn.linear_model import LogisticRegression

    from fl_node.evaluation import binary_metrics

    guest = load_party(guest_csv, "guest", drop_fraction=drop_fraction, seed=seed)
    host = load_party(host_csv, "host", drop_fraction=drop_fraction, seed=seed)
    ids, xg, xh, y = joined_for_baseline(guest, host)
    if len(ids) != split.n_aligned:
        raise InconsistentResultError(
            f"PSI found {split.n_aligned} shared ids, the plain join {len(ids)}"
        )
    x = np.hstack([xg, xh])
    scored: list[dict[str, float]] = []
    for clip_at in (None, clip):
        z = Standardizer.fit(x[split.train], clip=clip_at).transform(x)
        model = LogisticRegression(max_iter=5000).fit(z[split.train], y[split.train])
        prob = model.predict_proba(z[split.test])[:, 1]
        scored.append(binary_metrics(y[split.test], prob).to_dict())
    raw, same = scored
    return Baseline(
        rows=len(ids),
        features=int(x.shape[1]),
        auc=raw["auc"],
        ks=raw["ks"],
        metrics=raw,
        same_auc=same["auc"],
        same_ks=same["ks"],
    )
