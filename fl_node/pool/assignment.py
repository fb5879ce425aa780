"""The pool's per-round draw: which base models train, and who trains which.

Everything here is a function of a 32-byte seed that anyone can recompute once the coordinator
opens its secret, so the draw is auditable and cannot be steered after the commitment:

- :func:`seed_commitment` is ``keccak256(secret)``, posted before the task starts;
- :func:`round_seed` is ``keccak256(secret || uint256(task) || uint256(round))``, the round's seed;
- :func:`draw` turns a round seed into a :class:`PoolDraw`.

The draw rule, in full (:func:`draw` implements exactly this):

1. ``k``, the number of base models trained this round, is uniform in ``[lo, hi]`` with
   ``lo = min(min_models, len(pending))`` and
   ``hi = min(max_models or n, n, len(pending), len(participants) // min_per_model)``.
2. The ``k`` models are a uniform sample without replacement from ``pending`` (the models not yet
   converged), by a partial Fisher-Yates shuffle of ``sorted(pending)``; the shuffle's order is
   the *dealing order*.
3. Participants are ordered by the score ``keccak256(seed || key(address))`` (ascending; ``key`` is
   the address's 20 bytes for a hex address, its UTF-8 bytes otherwise) and dealt round-robin
   along the dealing order: the participant in position ``p`` gets ``dealing[p % k]``. Group sizes
   therefore differ by at most one and each is ``>= min_per_model``; each participant's model is
   uniform among the drawn ones.

Random integers come from a keccak counter stream (block ``i`` is ``keccak256(seed || uint64(i))``,
read as a 256-bit big-endian integer, rejection-sampled to be exactly uniform), never from
Python's :mod:`random`, so another implementation reproduces the draw bit for bit.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

from eth_utils.crypto import keccak

from fl_node.pool.errors import DrawError, NotInDrawError, PoolInputError

log = logging.getLogger(__name__)

_HEX_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_UINT256 = 1 << 256


def seed_commitment(secret: bytes) -> bytes:
    """``keccak256(secret)``: what the coordinator posts before the task's first draw.

    Parameters
    ----------
    secret : bytes
        The coordinator's pool secret, at least 16 bytes.
    """
    _check_secret(secret)
    return bytes(keccak(secret))


def round_seed(secret: bytes, task_id: int, round_: int) -> bytes:
    """The round's seed: ``keccak256(secret || uint256(task_id) || uint256(round_))``.

    Parameters
    ----------
    secret : bytes
        The coordinator's pool secret (whose :func:`seed_commitment` is on-chain).
    task_id : int
        The task's on-chain id.
    round_ : int
        The round number.
    """
    _check_secret(secret)
    for name, value in (("task_id", task_id), ("round_", round_)):
        if not 0 <= value < _UINT256:
            raise PoolInputError(f"{name} must fit a uint256, got {value}")
    return bytes(keccak(secret + task_id.to_bytes(32, "big") + round_.to_bytes(32, "big")))


def _check_secret(secret: bytes) -> None:
    if len(secret) < 16:
        raise PoolInputError(f"a pool secret needs at least 16 bytes, got {len(secret)}")


class KeccakStream:
    """Uniform integers from a keccak counter: block ``i`` is ``keccak256(seed || uint64(i))``.

    Parameters
    ----------
    seed : bytes
        The stream's seed (a round seed).
    """

    def __init__(self, seed: bytes) -> None:
        self._seed = bytes(seed)
        self._counter = 0

    def _block(self) -> int:
        digest = keccak(self._seed + self._counter.to_bytes(8, "big"))
        self._counter += 1
        return int.from_bytes(digest, "big")

    def below(self, n: int) -> int:
        """A uniform integer in ``[0, n)``: blocks ``>= n * floor(2**256 / n)`` are skipped.

        Parameters
        ----------
        n : int
            The bound, ``1 <= n <= 2**256``.
        """
        if not 1 <= n <= _UINT256:
            raise PoolInputError(f"a stream bound must be in [1, 2**256], got {n}")
        limit = (_UINT256 // n) * n
        while True:
            value = self._block()
            if value < limit:
                return value % n


def participant_key(address: str) -> bytes:
    """The bytes a participant's score hashes: 20 bytes for a hex address, else UTF-8.

    Parameters
    ----------
    address : str
        A participant's address (any case) or another unique name.
    """
    if _HEX_ADDRESS.match(address):
        return bytes.fromhex(address[2:])
    return address.encode("utf-8")


def participant_score(seed: bytes, address: str) -> bytes:
    """``keccak256(seed || participant_key(address))``: the participant's place in the deal.

    Parameters
    ----------
    seed : bytes
        The round seed.
    address : str
        The participant.
    """
    return bytes(keccak(seed + participant_key(address)))


@dataclass(frozen=True)
class PoolDraw:
    """One round's draw: the base models trained and who trains which.

    Attributes
    ----------
    round : int
        The round drawn for.
    drawn : tuple of int
        The base-model indices trained this round, ascending.
    assignment : tuple of (str, int)
        ``(participant, base-model index)`` for every participant, sorted by participant.
    """

    round: int
    drawn: tuple[int, ...]
    assignment: tuple[tuple[str, int], ...]

    def model_of(self, participant: str) -> int:
        """The base model ``participant`` was given.

        Parameters
        ----------
        participant : str
            A participant's address, exactly as passed to :func:`draw`.
        """
        for who, model in self.assignment:
            if who == participant:
                return model
        raise NotInDrawError(f"{participant} is not in round {self.round}'s draw")

    def members(self, model: int) -> tuple[str, ...]:
        """The participants given base model ``model``, sorted (empty when it was not drawn).

        Parameters
        ----------
        model : int
            A base-model index.
        """
        return tuple(who for who, m in self.assignment if m == model)


@dataclass(frozen=True)
class _Bounds:
    lo: int
    hi: int
    pending: tuple[int, ...]


def _bounds(
    n_models: int,
    n_participants: int,
    min_models: int,
    max_models: int | None,
    min_per_model: int,
    pending: Sequence[int] | None,
) -> _Bounds:
    if n_models < 1:
        raise DrawError(f"a pool needs at least one base model, got {n_models}")
    if min_models < 1 or min_per_model < 1:
        raise DrawError("min_models and min_per_model must be at least 1")
    if max_models is not None and max_models < min_models:
        raise DrawError(f"max_models {max_models} is below min_models {min_models}")
    candidates = tuple(sorted(range(n_models) if pending is None else pending))
    if not candidates:
        raise DrawError("no base model is pending: every model has converged")
    if len(set(candidates)) != len(candidates) or not all(0 <= m < n_models for m in candidates):
        raise DrawError(f"pending must be distinct indices in [0, {n_models}), got {candidates}")
    lo = min(min_models, len(candidates))
    hi = min(max_models or n_models, n_models, len(candidates), n_participants // min_per_model)
    if hi < lo:
        raise DrawError(
            f"{n_participants} participants cannot give {lo} models {min_per_model} each"
        )
    return _Bounds(lo, hi, candidates)


def draw(
    seed: bytes,
    round_: int,
    n_models: int,
    participants: Sequence[str],
    *,
    min_models: int = 1,
    max_models: int | None = None,
    min_per_model: int = 1,
    pending: Sequence[int] | None = None,
) -> PoolDraw:
    """Draw a round's base models and deal them to the participants (rule: module docstring).

    Parameters
    ----------
    seed : bytes
        The round's seed (:func:`round_seed`); the draw is a function of it alone.
    round_ : int
        The round, recorded in the result.
    n_models : int
        How many base models the pool has (indices ``0 .. n_models - 1``).
    participants : sequence of str
        The round's participants, distinct.
    min_models : int, default 1
        The fewest models drawn (capped at ``len(pending)``).
    max_models : int or None, default None
        The most models drawn; ``None`` for ``n_models``.
    min_per_model : int, default 1
        The fewest participants each drawn model gets.
    pending : sequence of int or None, default None
        The models not yet converged, the only ones drawn; ``None`` for all.

    Raises
    ------
    DrawError
        When the bounds are impossible or the participants are not distinct.
    """
    keys = [participant_key(p) for p in participants]
    if len(set(keys)) != len(keys):
        raise DrawError("participants must be distinct")
    b = _bounds(n_models, len(keys), min_models, max_models, min_per_model, pending)
    stream = KeccakStream(seed)
    k = b.lo + stream.below(b.hi - b.lo + 1)
    deck = list(b.pending)
    for i in range(k):
        j = i + stream.below(len(deck) - i)
        deck[i], deck[j] = deck[j], deck[i]
    dealing = deck[:k]
    order = sorted(participants, key=lambda p: (participant_score(seed, p), p))
    given = {p: dealing[pos % k] for pos, p in enumerate(order)}
    result = PoolDraw(
        round=round_,
        drawn=tuple(sorted(dealing)),
        assignment=tuple(sorted(given.items())),
    )
    log.debug(
        "draw: round %s drew %s of %s models for %s", round_, result.drawn, n_models, len(order)
    )
    return result
