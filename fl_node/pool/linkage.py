"""The linkage attack: whether a chain watcher can tie an update to a participant's base model.

The attacker sees, for every (participant, round), a :class:`Sighting`: who submitted, in which
round, and the public side channels beside the hiding commitment (``features``: submission delay
within the round, gas, calldata length...). It also learns a fraction ``leak`` of the openings
(which base model a sighting was for), as a dispute or a leaked evidence file would reveal them;
which sightings leak is drawn uniformly by ``seed``. It knows which base models each round drew
(the draw is public once the seed is opened), so every prediction below only considers revealed
sightings of a model drawn in the target's round, and only ever names such a model.

Features are z-scored over all sightings, then each is weighted by its Fisher ratio on the
revealed openings, ``sqrt(between-model variance / within-model variance)``, so that channels
unrelated to the model do not drown one that gives it away. The attack predicts the model of
every unrevealed sighting by one of three cascades:

- *lineage*: (a) when the participant has revealed sightings, the model it used most among them
  (ties drawn at random); (b) otherwise the model of the nearest revealed sighting (Euclidean,
  ties drawn at random), looked for in the same round first, then in any round; (c) otherwise a
  uniform guess among the round's drawn models;
- *features*: (b), then (c), ignoring lineage;
- *features_any_round*: (b) looking in every round at once (better when a round's few revealed
  sightings miss some of its models and the channels do not drift between rounds), then (c).

It runs the cascade that predicts the revealed openings best, leave-one-out (in the order above on
a tie), so that it is not crippled when lineage carries nothing but the features do. ``success``
is the fraction of unrevealed sightings predicted right; ``chance`` is the mean over them of
``1 / (models drawn in that round)``, what guessing achieves. Without the pool (each participant
always trains the same model) lineage gives success near 1; with it, success falls to chance
unless the side channels give the model away.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from fl_node.pool.errors import LinkageError

log = logging.getLogger(__name__)

Strategy = Literal["lineage", "features", "features_any_round"]
"""Which cascade the attack ran: lineage first, features first, or features over every round."""

_STRATEGIES: tuple[Strategy, ...] = ("lineage", "features", "features_any_round")


@dataclass(frozen=True)
class Sighting:
    """What the chain shows of one participant's submission in one round.

    Attributes
    ----------
    participant : str
        The submitter.
    round : int
        The round.
    model : int
        The base model the update was for: ground truth, used only to score the attack and for
        the leaked openings.
    features : tuple of float
        The public side channels beside the commitment (the same length for every sighting).
    """

    participant: str
    round: int
    model: int
    features: tuple[float, ...]


@dataclass(frozen=True)
class LinkageResult:
    """How well the attack tied unrevealed sightings to their base model.

    Attributes
    ----------
    success : float
        The fraction of unrevealed sightings whose model it predicted right.
    chance : float
        The mean over them of ``1 / (models drawn in that round)``.
    n : int
        How many unrevealed sightings were scored.
    strategy : Strategy, default "lineage"
        The cascade the attack chose.
    """

    success: float
    chance: float
    n: int
    strategy: Strategy = "lineage"


@dataclass(frozen=True)
class _View:
    """The attacker's arrays: the sightings' participants, rounds, models and z-scored features."""

    who: tuple[str, ...]
    rounds: np.ndarray
    models: np.ndarray
    features: np.ndarray
    drawn: dict[int, tuple[int, ...]]


def _view(sightings: Sequence[Sighting]) -> _View:
    if not sightings:
        raise LinkageError("the attack needs sightings")
    widths = {len(s.features) for s in sightings}
    if len(widths) != 1:
        raise LinkageError(f"features must have one length, got {sorted(widths)}")
    x = np.array([s.features for s in sightings], dtype=float).reshape(len(sightings), -1)
    if not np.isfinite(x).all():
        raise LinkageError("features must be finite")
    std = x.std(axis=0)
    x = (x - x.mean(axis=0)) / np.where(std > 0, std, 1.0)
    drawn: dict[int, set[int]] = {}
    for s in sightings:
        drawn.setdefault(s.round, set()).add(s.model)
    return _View(
        who=tuple(s.participant for s in sightings),
        rounds=np.array([s.round for s in sightings]),
        models=np.array([s.model for s in sightings]),
        features=x,
        drawn={r: tuple(sorted(m)) for r, m in drawn.items()},
    )


def _fisher_weighted(v: _View, known: np.ndarray) -> _View:
    """Scale each feature by ``sqrt(between / within)`` model variance over the revealed ones."""
    labels = v.models[known]
    classes = np.unique(labels)
    if classes.size < 2 or v.features.shape[1] == 0:
        return v
    x = v.features[known]
    means = np.array([x[labels == c].mean(axis=0) for c in classes])
    counts = np.array([(labels == c).sum() for c in classes], dtype=float)
    between = (counts[:, None] * (means - x.mean(axis=0)) ** 2).sum(axis=0) / counts.sum()
    within = sum(((x[labels == c] - means[k]) ** 2).sum(axis=0) for k, c in enumerate(classes))
    weights = np.sqrt(between / (np.asarray(within) / counts.sum() + 1e-12))
    return replace(v, features=v.features * weights)


def _pick(options: Sequence[int], rng: np.random.Generator) -> int:
    return int(options[int(rng.integers(len(options)))])


def _nearest(
    v: _View, i: int, known: np.ndarray, rng: np.random.Generator, same_round: bool
) -> int | None:
    if v.features.shape[1] == 0 or known.size == 0:
        return None
    same = known[v.rounds[known] == v.rounds[i]] if same_round else known[:0]
    pool = same if same.size else known
    dist = np.linalg.norm(v.features[pool] - v.features[i], axis=1)
    ties = pool[dist <= dist.min() + 1e-12]
    return int(v.models[_pick(ties.tolist(), rng)])


def _predict(
    v: _View, i: int, known: np.ndarray, strategy: Strategy, rng: np.random.Generator
) -> int:
    drawn = v.drawn[int(v.rounds[i])]
    known = known[np.isin(v.models[known], drawn)]
    if strategy == "lineage":
        mine = [int(v.models[j]) for j in known if v.who[j] == v.who[i]]
        if mine:
            counts = Counter(mine)
            top = max(counts.values())
            return _pick(sorted(m for m, c in counts.items() if c == top), rng)
    guess = _nearest(v, i, known, rng, same_round=strategy != "features_any_round")
    return guess if guess is not None else _pick(drawn, rng)


def _loo_hits(v: _View, known: np.ndarray, strategy: Strategy, rng: np.random.Generator) -> int:
    hits = 0
    for pos, i in enumerate(known):
        rest = np.delete(known, pos)
        hits += _predict(v, int(i), rest, strategy, rng) == v.models[i]
    return hits


def run_linkage(sightings: Sequence[Sighting], leak: float, seed: int) -> LinkageResult:
    """Run the linkage attack (rules: module docstring) and score it.

    Parameters
    ----------
    sightings : sequence of Sighting
        Every (participant, round) submission the chain shows.
    leak : float
        The fraction of openings the attacker learns, in ``[0, 1)``; ``round(leak * n)`` sightings
        chosen uniformly by ``seed``.
    seed : int
        Seeds which openings leak and the attack's tie-breaks and guesses.

    Raises
    ------
    LinkageError
        When there are no sightings, features differ in length, or nothing is left to attack.
    """
    if not 0 <= leak < 1 or math.isnan(leak):
        raise LinkageError(f"leak must be in [0, 1), got {leak}")
    v = _view(sightings)
    rng = np.random.default_rng(seed)
    n = len(sightings)
    known = np.sort(rng.choice(n, size=round(leak * n), replace=False))
    targets = np.setdiff1d(np.arange(n), known)
    if targets.size == 0:
        raise LinkageError("every opening leaked: nothing is left to attack")
    v = _fisher_weighted(v, known)
    scores = {s: _loo_hits(v, known, s, rng) for s in _STRATEGIES}
    strategy = max(_STRATEGIES, key=lambda s: (scores[s], -_STRATEGIES.index(s)))
    hits = sum(_predict(v, int(i), known, strategy, rng) == v.models[i] for i in targets)
    chance = float(np.mean([1 / len(v.drawn[int(v.rounds[i])]) for i in targets]))
    result = LinkageResult(float(hits) / targets.size, chance, int(targets.size), strategy)
    log.info(
        "run_linkage: %s of %s sightings leaked, %s cascade, success %.3f (chance %.3f)",
        known.size,
        n,
        strategy,
        result.success,
        result.chance,
    )
    return result
