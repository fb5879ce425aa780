"""Token buckets: the pure maths, and an in-memory table of buckets by key.

A bucket holds at most ``burst`` tokens and refills at ``rate`` tokens per second; a request takes
one token, and is refused while less than one is left. The refusal says how long until a token
is back (``Retry-After``). :func:`take` is the whole algorithm, a pure function of the bucket,
the limit and the time; :class:`Limiter` keeps one bucket per key (a signer's address, a client's
IP) behind a lock, forgetting the least recently used keys beyond ``max_keys`` so that a flood of
fresh keys cannot grow the process without bound (a forgotten bucket was most likely full again
anyway; the per-IP bucket still holds a flood of fresh addresses back).

The buckets live in the process: with several workers, each enforces the limit on its own share
of the traffic, so the effective limit is the configured one times the number of workers. The
gas budget (:mod:`marketplace_api.relay.budget`), which bounds what the relayer spends, is kept in
the database and shared by every worker.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass

from kernel.errors import ConfigurationError


@dataclass(frozen=True)
class RateLimit:
    """A named token-bucket limit.

    Parameters
    ----------
    name : str
        What the limit is called in refusals (``relay per address``, ``relay per IP``...).
    rate : float
        Tokens added per second (> 0).
    burst : int
        Most tokens a bucket holds: requests allowed back to back after a quiet while (>= 1).
    """

    name: str
    rate: float
    burst: int

    def __post_init__(self) -> None:
        if not (self.rate > 0 and math.isfinite(self.rate)):
            raise ConfigurationError(f"rate limit {self.name}: rate must be > 0, not {self.rate}")
        if self.burst < 1:
            raise ConfigurationError(f"rate limit {self.name}: burst must be >= 1")

    @classmethod
    def per_minute(cls, name: str, per_minute: float, burst: int) -> RateLimit:
        """A limit of ``per_minute`` requests a minute, ``burst`` at once."""
        return cls(name=name, rate=per_minute / 60.0, burst=burst)

    def describe(self) -> str:
        """The limit for humans, e.g. ``6 per minute, burst 3``."""
        return f"{self.rate * 60.0:g} per minute, burst {self.burst}"


@dataclass(frozen=True)
class Bucket:
    """A bucket's state: tokens left at ``updated`` (seconds of the limiter's clock)."""

    tokens: float
    updated: float


@dataclass(frozen=True)
class Decision:
    """What :func:`take` decided.

    Attributes
    ----------
    allowed : bool
        Whether the request may go on.
    bucket : Bucket
        The bucket's state afterwards (a token less when allowed).
    retry_after : float
        Seconds until the request would be allowed (0 when it is).
    """

    allowed: bool
    bucket: Bucket
    retry_after: float

    @property
    def retry_after_s(self) -> int:
        """:attr:`retry_after` as the whole seconds of a ``Retry-After`` header (rounded up)."""
        return max(1, math.ceil(self.retry_after - 1e-9)) if not self.allowed else 0


def refill(bucket: Bucket | None, limit: RateLimit, now: float) -> Bucket:
    """The bucket at ``now``: refilled for the time passed, never above ``burst``.

    A bucket never seen is full. A clock that went backwards adds nothing.

    Parameters
    ----------
    bucket : Bucket or None
        The state last stored, or ``None`` for a key never seen.
    limit : RateLimit
        The limit.
    now : float
        The current time (seconds).
    """
    if bucket is None:
        return Bucket(tokens=float(limit.burst), updated=now)
    elapsed = max(0.0, now - bucket.updated)
    tokens = min(float(limit.burst), bucket.tokens + elapsed * limit.rate)
    return Bucket(tokens=tokens, updated=max(now, bucket.updated))


def take(bucket: Bucket | None, limit: RateLimit, now: float, cost: float = 1.0) -> Decision:
    """Take ``cost`` tokens from the bucket at ``now``, or say how long until it could.

    Parameters
    ----------
    bucket : Bucket or None
        The state last stored, or ``None`` for a key never seen (a full bucket).
    limit : RateLimit
        The limit.
    now : float
        The current time (seconds).
    cost : float, default 1.0
        Tokens the request takes (at most ``limit.burst``).
    """
    current = refill(bucket, limit, now)
    if current.tokens + 1e-9 >= cost:
        taken = Bucket(tokens=max(0.0, current.tokens - cost), updated=current.updated)
        return Decision(allowed=True, bucket=taken, retry_after=0.0)
    wait = (cost - current.tokens) / limit.rate
    return Decision(allowed=False, bucket=current, retry_after=wait)


class Limiter:
    """One token bucket per key under one :class:`RateLimit`; thread-safe.

    Parameters
    ----------
    limit : RateLimit
        The limit every key is held to.
    max_keys : int, default 100000
        Buckets kept; beyond it the least recently used are forgotten.
    """

    def __init__(self, limit: RateLimit, max_keys: int = 100_000) -> None:
        self.limit = limit
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str, now: float) -> Decision:
        """Take a token of ``key``'s bucket at ``now`` (see :func:`take`)."""
        with self._lock:
            decision = take(self._buckets.get(key), self.limit, now)
            self._buckets[key] = decision.bucket
            self._buckets.move_to_end(key)
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        return decision

    def __len__(self) -> int:
        """Keys remembered."""
        return len(self._buckets)


__all__ = ["Bucket", "Decision", "Limiter", "RateLimit", "refill", "take"]
