"""Client sampling per round: a seeded fraction of the participants, verifiable by anyone.

Everything the choice depends on is public: the task's sampling seed (recorded in the task spec,
whose hash is anchored on-chain), the round number and the participants' addresses. Each
participant gets a score::

    score(p) = keccak256(TAG || uint256(seed) || uint256(round) || address(p))

(``abi.encodePacked`` in Solidity terms: 32 + 32 + 32 + 20 bytes, ``TAG`` below), and the ``k``
participants with the smallest scores take part, where
``k = max(1, ceil(fraction * n))`` computed exactly on the decimal ``fraction`` as written
(``repr``), so ``0.7`` of 10 is 7, never 8. Scores are independent of the order in which
participants are listed, so the choice is too; it is returned sorted by address. With keccak as a
random function every ``k``-subset is equally likely, and rounds are independent of each other.

The seed must be unpredictable when participants pick their addresses. Otherwise a participant
can grind keys (a million tries is seconds) for an address whose scores are small in many of the
task's rounds, and take part, and be paid, far more often than ``fraction``; a sponsor can grind
the seed in favour of addresses it controls. :func:`mix_seed` folds in entropy that exists only
once registration has closed (the hash of the block that closed it, say):
``sample_clients(participants, fraction, mix_seed(spec_seed, block_hash), round)``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from eth_utils.crypto import keccak

from fl_node.errors import SpecError
from fl_node.strategies._utils import check_hyperparameter

TAG = keccak(b"fedmarket/sample_clients/v1")
"""Domain separation: the same seed used elsewhere gives unrelated scores."""

MIX_TAG = keccak(b"fedmarket/sample_clients/mix/v1")
"""Domain separation of :func:`mix_seed`."""

_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_UINT256 = 1 << 256
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,77}")


def sample_size(n: int, fraction: float) -> int:
    """``max(1, ceil(fraction * n))`` on the decimal value of ``fraction``; 0 when ``n`` is 0.

    Raises
    ------
    SpecError
        ``fraction`` not a finite number in ``(0, 1]``.
    """
    fraction = check_hyperparameter("sample_clients", "fraction", fraction, 0.0, 1.0, low_open=True)
    if n == 0:
        return 0
    return max(1, math.ceil(Fraction(repr(fraction)) * n))


def _check_uint256(where: str, name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < _UINT256:
        raise SpecError(f"{where}: {name} must be an integer in [0, 2**256)")
    return value


def mix_seed(seed: int, entropy: bytes) -> int:
    """``uint256(keccak256(MIX_TAG || uint256(seed) || entropy))``: a seed nobody could know early.

    Parameters
    ----------
    seed : int
        The task's sampling seed (from the spec), ``0 <= seed < 2**256``.
    entropy : bytes
        Public bytes fixed only after registration closed, e.g. a 32-byte block hash.
    """
    _check_uint256("mix_seed", "seed", seed)
    if not isinstance(entropy, bytes) or not entropy:
        raise SpecError("mix_seed: entropy must be non-empty bytes")
    return int.from_bytes(keccak(MIX_TAG + seed.to_bytes(32, "big") + entropy), "big")


def client_score(address: str, seed: int, round: int) -> bytes:
    """The keccak-256 score of one participant in one round (smaller is chosen first)."""
    payload = (
        TAG + seed.to_bytes(32, "big") + round.to_bytes(32, "big") + bytes.fromhex(address[2:])
    )
    return keccak(payload)


def sample_clients(
    participants: Sequence[str], fraction: float, seed: int, round: int
) -> tuple[str, ...]:
    """The participants who train in ``round``; see the module docstring for the rule.

    Parameters
    ----------
    participants : sequence of str
        0x-hex addresses (any case, any order, no duplicates).
    fraction : float
        Share of the participants to choose, in ``(0, 1]``; at least one is always chosen.
    seed : int
        The task's sampling seed, ``0 <= seed < 2**256``.
    round : int
        The round number, ``0 <= round < 2**256``.

    Returns
    -------
    tuple of str
        The chosen addresses, as given, sorted by their lower-case form; empty only when
        ``participants`` is.

    Raises
    ------
    SpecError
        A malformed or repeated address, or a fraction, seed or round out of range.
    """
    k = sample_size(len(participants), fraction)
    _check_uint256("sample_clients", "seed", seed)
    _check_uint256("sample_clients", "round", round)
    canonical: dict[str, str] = {}
    for address in participants:
        if not isinstance(address, str) or not _ADDRESS.fullmatch(address):
            raise SpecError(f"sample_clients: {address!r} is not an address")
        if address.lower() in canonical:
            raise SpecError(f"sample_clients: {address} is listed twice")
        canonical[address.lower()] = address
    ranked = sorted(canonical, key=lambda a: (client_score(a, seed, round), a))
    return tuple(canonical[a] for a in sorted(ranked[:k]))


@dataclass(frozen=True)
class ClientSampling:
    """A task's sampling rule, as its spec records it.

    Parameters
    ----------
    fraction : float, default 1.0
        Share of the participants in each round, in ``(0, 1]`` (1.0: everyone, every round).
    seed : int, default 0
        The sampling seed, ``0 <= seed < 2**256``; mix late entropy in with :func:`mix_seed`.
    """

    fraction: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        sample_size(1, self.fraction)
        _check_uint256("ClientSampling", "seed", self.seed)

    def choose(self, participants: Sequence[str], round: int) -> tuple[str, ...]:
        """:func:`sample_clients` with this rule."""
        return sample_clients(participants, self.fraction, self.seed, round)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; the seed as a decimal string (JSON numbers lose digits past 2**53)."""
        return {"fraction": self.fraction, "seed": str(self.seed)}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> ClientSampling:
        """Parse :meth:`to_dict` output (raises :class:`SpecError` on anything else)."""
        if not isinstance(raw, Mapping) or set(raw) != {"fraction", "seed"}:
            raise SpecError("ClientSampling: expected exactly fraction and seed")
        seed = raw["seed"]
        if not isinstance(seed, str) or not _DECIMAL.fullmatch(seed):
            raise SpecError("ClientSampling: seed must be a canonical decimal string")
        return cls(fraction=raw["fraction"], seed=int(seed))
