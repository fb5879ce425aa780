"""Updates as vectors: the arithmetic every robust rule shares, as pure functions over tensors.

A delta (tensor name -> tensor) becomes one float64 vector, its tensors flattened in sorted key
order; a round's updates become an ``(n, d)`` matrix, one row per update. Rules compute on
the matrix and :func:`unflatten` turns the result back into a delta shaped like the inputs.

The median used throughout (coordinate-wise and of a list of norms or distances) is the usual
one: for an even count, the mean of the two middle values (``numpy.median``'s convention, not
``torch.median``'s lower middle value).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from fl_node.errors import AggregationError


def flatten(delta: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """One float64 vector: the tensors of ``delta`` flattened in sorted key order."""
    if not delta:
        raise AggregationError("flatten: the delta holds no tensors")
    return torch.cat([delta[k].detach().reshape(-1).to(torch.float64) for k in sorted(delta)])


def stack(deltas: Sequence[Mapping[str, torch.Tensor]]) -> torch.Tensor:
    """The ``(n, d)`` float64 matrix of ``deltas``, one row each (same tensors and shapes)."""
    if not deltas:
        raise AggregationError("stack: no deltas")
    shapes = {k: tuple(v.shape) for k, v in deltas[0].items()}
    for delta in deltas[1:]:
        if {k: tuple(v.shape) for k, v in delta.items()} != shapes:
            raise AggregationError("stack: deltas hold different tensors or shapes")
    return torch.stack([flatten(d) for d in deltas])


def unflatten(
    vector: torch.Tensor, template: Mapping[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """The delta shaped (and typed) like ``template`` whose flattened form is ``vector``."""
    out: dict[str, torch.Tensor] = {}
    start = 0
    for name in sorted(template):
        like = template[name]
        size = like.numel()
        out[name] = vector[start : start + size].reshape(like.shape).to(like.dtype).clone()
        start += size
    if start != vector.numel():
        raise AggregationError(f"unflatten: {vector.numel()} values for a template of {start}")
    return out


def median(values: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """The median along ``dim``; for an even count the mean of the two middle values."""
    count = values.shape[dim]
    if count == 0:
        raise AggregationError("median: no values")
    ordered = values.sort(dim=dim).values
    low = ordered.select(dim, (count - 1) // 2)
    high = ordered.select(dim, count // 2)
    return (low + high) / 2


def weighted_mean(rows: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """``sum_i w_i rows_i / sum_i w_i`` (float64); AggregationError unless the sum is positive."""
    total = float(weights.sum())
    if total <= 0 or bool((weights < 0).any()):
        raise AggregationError("weighted_mean: weights must be non-negative with a positive sum")
    mean: torch.Tensor = (weights.to(torch.float64)[:, None] * rows).sum(dim=0) / total
    return mean


def norms(rows: torch.Tensor) -> torch.Tensor:
    """The L2 norm of each row."""
    row_norms: torch.Tensor = torch.linalg.vector_norm(rows, dim=1)
    return row_norms


def kept_between(rows: torch.Tensor, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
    """Per row, the share of coordinates whose value lies in ``[low, high]`` (per coordinate).

    How coordinate-wise rules report an update's weight: the share of coordinates it was kept
    in. A value equal to a bound counts as kept (ties are symmetric: whichever of equal values a
    sort would drop, the result is the same).
    """
    inside = (rows >= low[None, :]) & (rows <= high[None, :])
    return inside.to(torch.float64).mean(dim=1)
