"""Aggregation arithmetic shared by the strategies: pure functions over tensors."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch

from fl_node.errors import AggregationError, SpecError


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


MAX_SERVER_LR = 100.0
"""Largest server learning rate a spec may ask for: beyond it a round is a jump, not a step."""


def check_hyperparameter(
    owner: str,
    name: str,
    value: object,
    low: float,
    high: float,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """``value`` as a float when it is a finite real number in its range, else :class:`SpecError`.

    Parameters
    ----------
    owner, name : str
        Who asks and for what (in the error message).
    value : object
        What the spec says (bool, str, NaN and infinities are refused).
    low, high : float
        The closed range ``[low, high]``.
    low_open, high_open : bool, default False
        Exclude ``low`` (``high``) itself: ``(low, high]`` (``[low, high)``).
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SpecError(f"{owner}: {name} must be a number, not {type(value).__name__}")
    number = float(value)
    below = number <= low if low_open else number < low
    above = number >= high if high_open else number > high
    if not math.isfinite(number) or below or above:
        where = f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        raise SpecError(f"{owner}: {name} = {number!r} is outside {where}")
    return number


def require_finite(tensors: Mapping[str, torch.Tensor], where: str) -> None:
    """Raise :class:`AggregationError` when a tensor holds NaN or an infinity."""
    for name, tensor in tensors.items():
        if not bool(torch.isfinite(tensor).all()):
            raise AggregationError(f"{where}: tensor {name} holds NaN or infinity")
