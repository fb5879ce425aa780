"""Riding out an outage: exponential backoff with jitter, and a bound after which it is an error.

Long-running parties (a participant, the coordinator) meet services that go away for a while: a
chain node restarted, an IPFS daemon down, a network link cut. :class:`Backoff` says how long to
wait before the next try; :class:`Outage` keeps the clock of one outage and ends it with an
:class:`OutageError` (a :class:`~kernel.errors.ServiceUnavailableError`, exit 3 on the command
line) once it lasted longer than its bound, naming what was unreachable and for how long.

Jitter is "full jitter" over the upper half of each delay: many parties cut off by the same
failure do not all come back at the same instant.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from kernel.errors import ConfigurationError, ServiceUnavailableError

log = logging.getLogger(__name__)


class OutageError(ServiceUnavailableError):
    """A service stayed unreachable for longer than the caller's bound."""


@dataclass(frozen=True)
class Backoff:
    """Delays between tries: ``initial * multiplier ** n``, capped at ``max_delay``, jittered.

    Parameters
    ----------
    initial : float, default 0.5
        Seconds before the first retry (before jitter).
    max_delay : float, default 10.0
        Longest wait between two tries (before jitter).
    multiplier : float, default 2.0
        Growth of the wait from one try to the next (at least 1).
    jitter : float, default 0.5
        Fraction of each delay drawn at random: the wait lies in ``[d * (1 - jitter), d]``.
    """

    initial: float = 0.5
    max_delay: float = 10.0
    multiplier: float = 2.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if self.initial < 0 or self.max_delay < 0 or self.multiplier < 1:
            raise ConfigurationError(f"Backoff: invalid {self}")
        if not 0 <= self.jitter <= 1:
            raise ConfigurationError(f"Backoff: jitter {self.jitter} is not in [0, 1]")

    def ceiling(self, retry: int) -> float:
        """The delay before retry number ``retry`` (0 for the first) before jitter."""
        return float(min(self.max_delay, self.initial * self.multiplier ** min(retry, 64)))

    def delay(self, retry: int, draw: Callable[[], float] = random.random) -> float:
        """A jittered delay before retry number ``retry``.

        Parameters
        ----------
        retry : int
            How many retries came before this one.
        draw : callable, default random.random
            A uniform draw in [0, 1) (tests pass a fixed one).
        """
        top = self.ceiling(retry)
        return top * (1 - self.jitter * draw())


@dataclass
class Outage:
    """The clock of one outage: wait between tries, give up after ``limit`` seconds.

    Parameters
    ----------
    limit : float
        Seconds an outage may last before :meth:`wait` raises :class:`OutageError`.
    backoff : Backoff, default Backoff()
        Delays between tries.
    sleep, clock : callable
        ``time.sleep`` and ``time.monotonic`` (tests pass their own).

    Examples
    --------
    >>> outage = Outage(limit=60.0)
    >>> # in a loop: on ServiceUnavailableError call outage.wait(exc); after a success outage.end()
    """

    limit: float
    backoff: Backoff = field(default_factory=Backoff)
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    started: float | None = None
    retries: int = 0

    def __post_init__(self) -> None:
        if self.limit < 0:
            raise ConfigurationError(f"Outage: limit {self.limit} is negative")

    def wait(self, error: BaseException, what: str = "a service") -> float:
        """Note a failed try; sleep before the next one, or raise once the outage is too long.

        Parameters
        ----------
        error : BaseException
            What the failed try raised (named in the log and in the final error).
        what : str, default "a service"
            What was being reached (for the messages).

        Returns
        -------
        float
            The seconds slept.

        Raises
        ------
        OutageError
            When the outage has lasted ``limit`` seconds.
        """
        now = self.clock()
        if self.started is None:
            self.started = now
        lasted = now - self.started
        if lasted >= self.limit:
            raise OutageError(f"{what} unreachable for {lasted:.0f} s: {error}") from error
        pause = min(self.backoff.delay(self.retries), self.limit - lasted)
        self.retries += 1
        log.warning("%s unreachable (%s); try %d in %.1f s", what, error, self.retries + 1, pause)
        self.sleep(pause)
        return pause

    def end(self) -> float:
        """A try succeeded: close the outage; return how long it lasted (0 when there was none)."""
        if self.started is None:
            return 0.0
        lasted = self.clock() - self.started
        log.info("back after %.1f s and %d retries", lasted, self.retries)
        self.started, self.retries = None, 0
        return lasted
