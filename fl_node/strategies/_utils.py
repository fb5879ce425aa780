"""Aggregation arithmetic shared by the strategies: pure functions over tensors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from fl_node.errors import AggregationError


def weighted_average(
    deltas: Sequence[Mapping[str, torch.Tensor]], weights: Sequence[float]
) -> dict[str, torch.Tensor]:
    """``sum_i w_i * delta_i / sum_i w_i``, tensor by tensor (float64 accumulation).

    Raises
    ------
    AggregationError
        With no deltas, mismatched lengths, non-positive total weight or differing tensor names.
    """
    if not deltas or len(deltas) != len(weights):
        raise AggregationError("weighted_average: need one weight per delta, at least one delta")
    total = float(sum(weights))
    if total <= 0 or any(w < 0 for w in weights):
        raise AggregationError("weighted_average: weights must be non-negative with a positive sum")
    names = set(deltas[0])
    if any(set(d) != names for d in deltas):
        raise AggregationError("weighted_average: deltas hold different tensors")
    out: dict[str, torch.Tensor] = {}
    for name in sorted(names):
        acc = torch.zeros_like(deltas[0][name], dtype=torch.float64)
        for delta, weight in zip(deltas, weights, strict=True):
            acc += delta[name].to(torch.float64) * (weight / total)
        out[name] = acc.to(deltas[0][name].dtype)
    return out


def apply_delta(
    params: Mapping[str, torch.Tensor], delta: Mapping[str, torch.Tensor], scale: float = 1.0
) -> dict[str, torch.Tensor]:
    """``params + scale * delta`` for the tensors in ``delta``; others are copied unchanged."""
    return {
        k: (v + scale * delta[k].to(v.dtype)) if k in delta else v.clone()
        for k, v in params.items()
    }
