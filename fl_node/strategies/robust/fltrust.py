"""FLTrust (Cao et al., 2021): trust each update by its agreement with a root update.

The coordinator trains a *root update* from the same global model on a small clean dataset it
holds (``RoundInputs.root_delta``). Each participant's update gets the trust score
``trust_i = ReLU(cos(delta_i, root))``, is rescaled to the root update's norm
(``delta_i * ||root|| / ||delta_i||``), and the aggregate is
``sum_i trust_i * rescaled_i / sum_i trust_i`` (the zero delta when every trust is 0).

Any number of attackers whose updates point away from the root update (negative cosine, such
as sign flipping) get trust 0 and no influence; rescaling takes away boosting's leverage.

Decisions: weight = the trust score (``low_trust`` when it is 0); score = the raw cosine.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from fl_node.errors import AggregationError
from fl_node.strategies.robust._rule import RobustRule, RoundData, RulePass
from fl_node.strategies.robust._vectors import flatten, norms
from fl_node.strategies.robust.base import KEPT

LOW_TRUST = "low_trust"


def cosines(rows: torch.Tensor, root: torch.Tensor) -> torch.Tensor:
    """``cos(rows_i, root)`` (0 where either is the zero vector)."""
    denominator = norms(rows) * torch.linalg.vector_norm(root)
    dots = rows @ root
    safe = torch.where(denominator > 0, denominator, torch.ones_like(denominator))
    return torch.where(denominator > 0, dots / safe, torch.zeros_like(dots))


def fltrust_aggregate(rows: torch.Tensor, root: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The FLTrust aggregate of ``rows`` against ``root`` and the trust scores.

    ``trust = ReLU(cos)``; each row rescaled to ``||root||``; the trust-weighted mean of the
    rescaled rows, or zeros when all trust is 0.
    """
    trust = cosines(rows, root).clamp(min=0.0)
    row_norms = norms(rows)
    safe = torch.where(row_norms > 0, row_norms, torch.ones_like(row_norms))
    rescaled = rows * (torch.linalg.vector_norm(root) / safe)[:, None]
    total = float(trust.sum())
    if total <= 0:
        return torch.zeros_like(root), trust
    return (trust[:, None] * rescaled).sum(dim=0) / total, trust


def root_vector(root_delta: Mapping[str, torch.Tensor] | None, width: int) -> torch.Tensor:
    """The root update as a vector of the updates' width (AggregationError when absent)."""
    if root_delta is None:
        raise AggregationError("fltrust: the round gives no root update (RoundInputs.root_delta)")
    root = flatten(root_delta)
    if root.numel() != width:
        raise AggregationError(f"fltrust: the root update has {root.numel()} values, not {width}")
    if not bool(torch.isfinite(root).all()):
        raise AggregationError("fltrust: the root update holds NaN or infinity")
    return root


class FLTrust(RobustRule):
    """FLTrust; parameters ``flag_at`` and the clip bounds (RobustRule). Needs a root update."""

    name = "fltrust"
    uses_root = True

    def params(self) -> dict[str, float]:
        """``flag_at``, ``clip_max_norm``, ``clip_norm_factor``."""
        return self.common_params()

    def _pass(self, data: RoundData, active: tuple[int, ...]) -> RulePass:
        """The FLTrust aggregate of the active rows; it is also the flagging reference."""
        root = root_vector(data.inputs.root_delta, data.rows.shape[1])
        rows = data.rows[list(active)]
        aggregate, trust = fltrust_aggregate(rows, root)
        raw = cosines(rows, root)
        weights = tuple(float(t) for t in trust)
        reasons = tuple(LOW_TRUST if w == 0 else KEPT for w in weights)
        return RulePass(aggregate, aggregate, weights, reasons, tuple(float(c) for c in raw))
