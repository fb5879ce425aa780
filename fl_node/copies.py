"""Round-level screening of accepted updates: replays, empty updates and implausible sample counts.

:func:`~fl_node.validation.check_update` judges one update against its own commitment. Some
cheating only shows against the task's past, so once every update of a round has passed that check
the coordinator (and the audit, with the same inputs) screens the round as a whole:

- **replayed_update**: the update's parameter step equals, within a relative tolerance, a step
  revealed in an earlier round (anyone's update, or the global model's own step). Commit-reveal
  already hides the current round's updates until its commitments are closed, so an earlier,
  revealed step is all a copycat can copy; re-sending it (or the last global step, the
  "delta-weights" free-rider) earns nothing. Two updates of the *same* round that agree are not
  copies (neither could see the other): they come from the same data, and Shapley values share
  their worth;
- **empty_update**: every parameter step is exactly zero (a free-rider that trains nothing);
- **samples_changed**: the sample count differs from the one the participant declared with its
  first accepted update of the task (a party's data does not change during a task);
- **samples_exceed_listing**: the sample count exceeds the rows of the participant's dataset
  listings on the registry (checked when it has listed any, or always when the task requires it).

Distances are computed in float64 with NumPy's pairwise summation (no BLAS, no threads), so the
coordinator and the audit agree bit for bit.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch

log = logging.getLogger(__name__)

COPY_TOLERANCE = 1e-3
"""Default relative distance ``|a - b| / max(|a|, |b|)`` at or below which two steps are copies.

Honest steps of different rounds start from different models and see their batches in another
order. Measured with ``scripts/bench``'s tasks (10 IID clients, 20 rounds, every pair of steps of
different rounds): the closest were 0.13 apart on digits and 0.076 on breast cancer (one participant
in rounds 18 and 19, as the model converges), 76 times the tolerance. A replay blurred by more
noise than the tolerance is no longer caught here; it is then a stale step, paid only for what it
adds to the coalitions it joins (:mod:`incentives.contribution`)."""

GLOBAL = "global"
"""The origin's ``participant`` of a global model's step."""


@dataclass(frozen=True)
class StepPrint:
    """One revealed parameter step kept to compare later updates with.

    Attributes
    ----------
    round : int
        The round it was revealed in.
    participant : str
        Its author's address, or :data:`GLOBAL` for the global model's step of that round.
    vector : numpy.ndarray
        The step's tensors flattened in sorted-name order, float64.
    norm : float
        Its Euclidean norm.
    """

    round: int
    participant: str
    vector: npt.NDArray[np.float64]
    norm: float

    @property
    def origin(self) -> str:
        """Where it came from, for a verdict's detail."""
        who = "the global model" if self.participant == GLOBAL else self.participant
        return f"{who}'s step of round {self.round}"


def _norm(vector: npt.NDArray[np.float64]) -> float:
    return float(np.sqrt(np.sum(vector * vector)))


def step_print(round_: int, participant: str, delta: Mapping[str, torch.Tensor]) -> StepPrint:
    """The print of one step (``delta``: parameter name -> change), tensors in sorted-name order.

    Parameters
    ----------
    round_ : int
        The round the step was revealed in.
    participant : str
        Its author (or :data:`GLOBAL`).
    delta : mapping of str to Tensor
        The step.
    """
    parts = [delta[name].detach().to("cpu", torch.float64).reshape(-1) for name in sorted(delta)]
    vector = torch.cat(parts).numpy() if parts else np.zeros(0)
    return StepPrint(round_, participant, vector, _norm(vector))


def relative_distance(a: StepPrint, b: StepPrint) -> float:
    """``|a - b| / max(|a|, |b|)``: 0 when equal, 2 when opposite, inf when shapes differ.

    Two empty steps are at distance 0.
    """
    if a.vector.shape != b.vector.shape:
        return float("inf")
    scale = max(a.norm, b.norm)
    if scale == 0.0:
        return 0.0
    return _norm(a.vector - b.vector) / scale


def find_copy(
    step: StepPrint, history: Sequence[StepPrint], tolerance: float = COPY_TOLERANCE
) -> StepPrint | None:
    """The earliest step of ``history`` (earlier rounds only) that ``step`` copies, if any.

    Parameters
    ----------
    step : StepPrint
        The update to screen.
    history : sequence of StepPrint
        Steps revealed before, oldest first.
    tolerance : float, default COPY_TOLERANCE
        Largest relative distance still counted as a copy.
    """
    for earlier in history:
        if earlier.round < step.round and relative_distance(step, earlier) <= tolerance:
            return earlier
    return None


def is_empty(step: StepPrint) -> bool:
    """Whether every parameter of the step is exactly zero."""
    return step.norm == 0.0


@dataclass(frozen=True)
class Screening:
    """A round-level rejection of an update that passed its own checks."""

    reason: str
    detail: str


@dataclass(frozen=True)
class SampleBounds:
    """What each participant's sample count must agree with.

    Attributes
    ----------
    declared : mapping of str to int
        Lower-case address -> sample count of its first accepted update of the task.
    listed : mapping of str to int
        Lower-case address -> rows of its dataset listings (absent: none listed).
    require_listing : bool
        Whether a participant with no listing is refused.
    """

    declared: Mapping[str, int]
    listed: Mapping[str, int]
    require_listing: bool = False


def check_samples(participant: str, samples: int, bounds: SampleBounds) -> Screening | None:
    """The sample-count screening of one update (``None`` when plausible)."""
    key = participant.lower()
    first = bounds.declared.get(key)
    if first is not None and samples != first:
        return Screening(
            "samples_changed", f"declares {samples} samples, {first} with its first update"
        )
    rows = bounds.listed.get(key)
    if rows is None and bounds.require_listing:
        return Screening("samples_exceed_listing", "the task requires a dataset listing")
    if rows is not None and samples > rows:
        return Screening("samples_exceed_listing", f"declares {samples} samples, lists {rows} rows")
    return None


def screen_update(
    step: StepPrint,
    samples: int,
    history: Sequence[StepPrint],
    bounds: SampleBounds,
    tolerance: float = COPY_TOLERANCE,
) -> Screening | None:
    """Every round-level screening of one accepted update, in a fixed order; ``None`` if it passes.

    Parameters
    ----------
    step : StepPrint
        The update's print.
    samples : int
        Its declared sample count.
    history : sequence of StepPrint
        Every step revealed in earlier rounds, oldest first.
    bounds : SampleBounds
        The sample-count bounds.
    tolerance : float, default COPY_TOLERANCE
        Copy tolerance.
    """
    if is_empty(step):
        return Screening("empty_update", "every parameter step is zero")
    copied = find_copy(step, history, tolerance)
    if copied is not None:
        distance = relative_distance(step, copied)
        return Screening("replayed_update", f"repeats {copied.origin} (distance {distance:.2e})")
    return check_samples(step.participant, samples, bounds)


__all__ = [
    "COPY_TOLERANCE",
    "GLOBAL",
    "SampleBounds",
    "Screening",
    "StepPrint",
    "check_samples",
    "find_copy",
    "is_empty",
    "relative_distance",
    "screen_update",
    "step_print",
]
