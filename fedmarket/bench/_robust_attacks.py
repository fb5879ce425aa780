"""The attack harness: what each kind of malicious participant sends in a round.

Pure functions on tensors and datasets (the maths), and :func:`attacker_updates`, which crafts
the round's malicious updates from an :class:`AttackView`, what attackers can know:

- their own rows and the global model (every attack);
- the honest updates' coordinate-wise mean and standard deviation (``alie`` and ``ipm`` only).
  These are *omniscient* attacks, as their papers assume: Baruch et al. (2019) estimate the
  statistics from the attackers' own benign updates or are handed them, Xie et al. (2020) give
  the attacker the honest mean. The benchmark hands them the true statistics of the round's
  honest updates (unweighted, population std), the worst case for the defences.

The attacks (:data:`ATTACKS`):

- ``label_flip``: train honestly on labels mapped ``y -> C - 1 - y`` (binary: ``1 - y``);
- ``sign_flip``: train honestly, send ``-SIGN_SCALE x delta``;
- ``scaled``: train honestly, send ``BOOST x delta`` (boosted, to dominate the average);
- ``gaussian``: send ``N(0, sigma^2)`` per coordinate, ``sigma = NOISE_FACTOR x ||own honest
  delta|| / sqrt(d)`` (a noise vector about ``NOISE_FACTOR`` times an honest update's norm);
- ``backdoor``: train on the own rows plus triggered copies of a share of them relabelled to the
  target class, then boost by ``n / attackers`` (Bagdasaryan et al.'s model replacement with
  server rate 1); the trigger is a 3x3 white patch in the bottom-right corner of an image, or
  for a table two numeric features pushed far past their range (:func:`tabular_trigger`);
- ``alie``: "a little is enough", ``mean - z x std`` per coordinate with
  ``z = Phi^-1((n - s) / n)``, ``s = floor(n / 2 + 1) - attackers`` (:func:`alie_z`);
- ``ipm``: inner-product manipulation, ``-IPM_EPSILON x mean`` of the honest updates;
- ``collude``: the attackers train honestly, pool their deltas and all send the IDENTICAL
  ``-SIGN_SCALE x`` their mean (identical updates are each other's nearest neighbours);
- ``free_ride``: an all-zero update claiming the attacker's true sample count.

Every attacker claims its true sample count. ``alie``, ``ipm`` and ``collude`` send identical
updates from all attackers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import numpy.typing as npt
import torch

from fl_node.data import LocalDataset
from fl_node.errors import SpecError
from fl_node.models import FedModel, ModelSpec, build_model
from fl_node.objectives import predict
from fl_node.strategies import ClientUpdate
from fl_node.training import TrainConfig, train_local

Delta = dict[str, torch.Tensor]

ATTACKS = (
    "label_flip",
    "sign_flip",
    "scaled",
    "gaussian",
    "backdoor",
    "alie",
    "ipm",
    "collude",
    "free_ride",
)
"""Every attack of the harness, by name."""

OMNISCIENT = ("alie", "ipm")
"""Attacks that are handed the honest updates' statistics."""

SIGN_SCALE = 4.0
"""Sign flipping and colluding: the flipped delta's scale."""
BOOST = 10.0
"""Scaled attack: the honest delta's boost."""
NOISE_FACTOR = 10.0
"""Gaussian attack: the noise's expected norm over an honest update's."""
IPM_EPSILON = 0.5
"""Inner-product manipulation: ``-epsilon x`` the honest mean."""
BACKDOOR_TARGET = 0
"""The class triggered rows are relabelled to (MNIST digit 0; heart: no disease)."""
BACKDOOR_SHARE = 0.5
"""Share of an attacker's rows copied with the trigger."""


@dataclass(frozen=True)
class Trigger:
    """A backdoor trigger: these flat feature indices set to these values."""

    features: tuple[int, ...]
    values: tuple[float, ...]


def flip_labels(y: npt.NDArray[np.generic], classes: int) -> npt.NDArray[np.generic]:
    """``y -> classes - 1 - y`` (for a binary task, ``1 - y``), dtype kept."""
    if classes < 2:
        raise SpecError("flip_labels: at least 2 classes")
    return (classes - 1 - y).astype(y.dtype)


def scale(delta: Mapping[str, torch.Tensor], factor: float) -> Delta:
    """``factor x delta``, tensor by tensor."""
    return {name: t * factor for name, t in delta.items()}


def zero_like(delta: Mapping[str, torch.Tensor]) -> Delta:
    """An all-zero delta of the same shapes."""
    return {name: torch.zeros_like(t) for name, t in delta.items()}


def norm(delta: Mapping[str, torch.Tensor]) -> float:
    """The L2 norm of a delta over all its tensors."""
    return math.sqrt(sum(float((t.double() ** 2).sum()) for t in delta.values()))


def size(delta: Mapping[str, torch.Tensor]) -> int:
    """Coordinates of a delta."""
    return sum(t.numel() for t in delta.values())


def gaussian_noise(like: Mapping[str, torch.Tensor], sigma: float, seed: int) -> Delta:
    """``N(0, sigma^2)`` per coordinate, shaped like ``like``, from ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    return {
        name: torch.randn(t.shape, generator=generator, dtype=t.dtype) * sigma
        for name, t in sorted(like.items())
    }


def coordinate_stats(deltas: Sequence[Mapping[str, torch.Tensor]]) -> tuple[Delta, Delta]:
    """Coordinate-wise mean and population standard deviation of ``deltas``."""
    if not deltas:
        raise SpecError("coordinate_stats: no deltas")
    mean, std = {}, {}
    for name in deltas[0]:
        stacked = torch.stack([d[name].double() for d in deltas])
        mean[name] = stacked.mean(dim=0).float()
        std[name] = stacked.std(dim=0, correction=0).float()
    return mean, std


def alie_z(n: int, attackers: int) -> float:
    """Baruch et al.'s ``z_max = Phi^-1((n - s) / n)``, ``s = floor(n / 2 + 1) - attackers``.

    ``s`` is how many honest updates the attackers need on their side for a majority; with
    ``(n - s) / n <= 1/2`` (too few attackers), ``z`` is 0 and the attack sends the mean; with
    ``s < 1`` the attackers are a majority and the formula has no ``z`` (SpecError).
    """
    if not 0 < attackers < n:
        raise SpecError("alie_z: need 0 < attackers < n")
    s = math.floor(n / 2 + 1) - attackers
    if s < 1:
        raise SpecError(f"alie_z: {attackers} attackers of {n} are a majority on their own")
    return max(0.0, NormalDist().inv_cdf((n - s) / n))


def alie(mean: Mapping[str, torch.Tensor], std: Mapping[str, torch.Tensor], z: float) -> Delta:
    """Baruch et al.'s "a little is enough": ``mean - z x std`` per coordinate."""
    return {name: mean[name] - z * std[name] for name in mean}


def ipm(mean: Mapping[str, torch.Tensor], epsilon: float) -> Delta:
    """Inner-product manipulation: ``-epsilon x mean``."""
    return scale(mean, -epsilon)


def image_trigger(side: int = 28, patch: int = 3, value: float = 1.0) -> Trigger:
    """A ``patch x patch`` square of ``value`` in the bottom-right corner of a flat image."""
    cells = [r * side + c for r in range(side - patch, side) for c in range(side - patch, side)]
    return Trigger(tuple(cells), tuple(value for _ in cells))


def tabular_trigger(x: npt.NDArray[np.float32], count: int = 2, spread: float = 3.0) -> Trigger:
    """The ``count`` features with most distinct values, each set to ``max + spread x std``.

    Computed on the attackers' own rows ``x``: values no honest row holds.
    """
    distinct = [len(np.unique(x[:, j])) for j in range(x.shape[1])]
    picked = sorted(np.argsort(distinct, kind="stable")[::-1][:count].tolist())
    values = [float(x[:, j].max() + spread * max(float(x[:, j].std()), 1.0)) for j in picked]
    return Trigger(tuple(int(j) for j in picked), tuple(values))


def apply_trigger(x: npt.NDArray[np.float32], trigger: Trigger) -> npt.NDArray[np.float32]:
    """A copy of the flat rows ``x`` with the trigger stamped on every row."""
    out = np.array(x, dtype=np.float32, copy=True)
    out[:, list(trigger.features)] = np.asarray(trigger.values, dtype=np.float32)
    return out


def poison(
    data: LocalDataset, trigger: Trigger, target: int, share: float, seed: int
) -> LocalDataset:
    """``data`` plus triggered copies, labelled ``target``, of a share of its non-target rows.

    ``round(share x rows)`` (at least 1) non-target rows are picked with ``seed``.
    """
    candidates = np.flatnonzero(np.asarray(data.y) != target)
    rng = np.random.default_rng(seed)
    picked = np.sort(rng.permutation(candidates)[: max(1, round(share * data.rows))])
    x = np.concatenate([data.x, apply_trigger(data.x[picked], trigger)])
    y = np.concatenate([data.y, np.full(len(picked), target, dtype=data.y.dtype)])
    return LocalDataset(f"{data.name}-poisoned", x, y)


def predicted_classes(spec: ModelSpec, probs: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
    """Class predictions from :func:`fl_node.objectives.predict`; a non-finite row gives -1."""
    out: npt.NDArray[np.int64]
    if spec.task == "multiclass":
        out = probs.argmax(axis=1).astype(np.int64)
        bad = ~np.isfinite(probs).all(axis=1)
    else:
        out = (probs >= 0.5).astype(np.int64)
        bad = ~np.isfinite(probs)
    out[bad] = -1
    return out


def backdoor_success(model: FedModel, test: LocalDataset, trigger: Trigger, target: int) -> float:
    """Share of triggered non-target test rows the model predicts as ``target`` (NaN if none)."""
    rows = np.flatnonzero(np.asarray(test.y).astype(np.int64) != target)
    if len(rows) == 0:
        return float("nan")
    triggered = apply_trigger(test.x[rows], trigger)
    probs = predict(model, triggered)
    return float(np.mean(predicted_classes(model.spec, probs) == target))


@dataclass(frozen=True)
class AttackView:
    """What the round's attackers know and hold.

    Attributes
    ----------
    spec, params, train : ModelSpec, dict of Tensor, TrainConfig
        The global model (its trainable parameters) and the task's local training.
    round : int
        The round (mixed into the training and noise seeds).
    own : tuple of LocalDataset
        Each attacker's rows (in attacker order).
    participants : int
        ``n``, every participant of the round, attackers included.
    classes : int
        Classes of the task (2 for binary).
    honest : tuple of dict of Tensor
        The round's honest deltas: read by the omniscient attacks only.
    trigger : Trigger or None
        The backdoor's trigger.
    """

    spec: ModelSpec
    params: Mapping[str, torch.Tensor]
    train: TrainConfig
    round: int
    own: tuple[LocalDataset, ...]
    participants: int
    classes: int
    honest: tuple[Mapping[str, torch.Tensor], ...] = ()
    trigger: Trigger | None = None


def train_from(view: AttackView, data: LocalDataset) -> Delta:
    """The delta :func:`train_local` gives on ``data`` from the global model."""
    model = build_model(view.spec)
    model.load_state_dict(dict(view.params), strict=False)
    result = train_local(model, data, view.train, round=view.round, device=torch.device("cpu"))
    return dict(result.delta)


def _flipped(data: LocalDataset, classes: int) -> LocalDataset:
    return LocalDataset(f"{data.name}-flipped", data.x, flip_labels(data.y, classes))


def _one_each(attack: str, view: AttackView, k: int, data: LocalDataset) -> Delta:
    """The update of attacker ``k`` in the attacks where each attacker works alone."""
    if attack == "label_flip":
        return train_from(view, _flipped(data, view.classes))
    if attack == "free_ride":
        return zero_like(view.params)
    if attack == "backdoor":
        if view.trigger is None:
            raise SpecError("attacker_updates: the backdoor needs a trigger")
        poisoned = poison(data, view.trigger, BACKDOOR_TARGET, BACKDOOR_SHARE, view.round + k)
        return scale(train_from(view, poisoned), view.participants / len(view.own))
    honest = train_from(view, data)
    if attack == "sign_flip":
        return scale(honest, -SIGN_SCALE)
    if attack == "scaled":
        return scale(honest, BOOST)
    if attack == "gaussian":
        sigma = NOISE_FACTOR * norm(honest) / math.sqrt(size(honest))
        return gaussian_noise(honest, sigma, seed=1000 * view.round + k)
    raise SpecError(f"attacker_updates: unknown attack {attack!r}")


def _shared(attack: str, view: AttackView) -> Delta:
    """The one update every attacker sends in the identical-update attacks."""
    if attack == "collude":
        pooled, _ = coordinate_stats([train_from(view, data) for data in view.own])
        return scale(pooled, -SIGN_SCALE)
    if not view.honest:
        raise SpecError(f"attacker_updates: {attack} needs the honest updates")
    mean, std = coordinate_stats(view.honest)
    if attack == "alie":
        return alie(mean, std, alie_z(view.participants, len(view.own)))
    return ipm(mean, IPM_EPSILON)


def attacker_updates(attack: str, view: AttackView) -> list[ClientUpdate]:
    """Each attacker's update of the round (in attacker order), with its true sample count."""
    if attack not in ATTACKS:
        raise SpecError(f"attacker_updates: unknown attack {attack!r}")
    if attack in ("alie", "ipm", "collude"):
        shared = _shared(attack, view)
        return [
            ClientUpdate(delta={n: t.clone() for n, t in shared.items()}, samples=d.rows)
            for d in view.own
        ]
    return [
        ClientUpdate(delta=_one_each(attack, view, k, data), samples=data.rows)
        for k, data in enumerate(view.own)
    ]
