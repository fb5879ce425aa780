"""The relayer's balance, watched: read at most every ``refresh`` seconds and after each relay.

Below the floor, relayed writes are refused with 503 (:class:`RelayerBalanceLowError`) before
anything is sent, and ``GET /health`` reports the API degraded. Owners can still list directly
on-chain, paying their own gas (``DatasetRegistry.listDataset``): the indexer picks the listing
up like any other.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BalanceStatus:
    """The relayer's balance as last read.

    Attributes
    ----------
    address : str
        The relayer.
    balance_wei : int
        Its balance.
    floor_wei : int
        Below this, nothing is relayed.
    checked_at : float
        When it was read (seconds of the watch's clock).
    """

    address: str
    balance_wei: int
    floor_wei: int
    checked_at: float

    @property
    def low(self) -> bool:
        """Whether the balance is below the floor."""
        return self.balance_wei < self.floor_wei


class BalanceWatch:
    """A cached reading of the relayer's balance; thread-safe.

    Parameters
    ----------
    address : str
        The relayer's address.
    read : callable
        Reads the balance in wei from the chain (raises when the node is down).
    floor_wei : int
        Below this, :attr:`BalanceStatus.low`.
    refresh : float
        Seconds a reading stays fresh.
    clock : callable
        Seconds, monotonic or not.
    """

    def __init__(
        self,
        address: str,
        read: Callable[[], int],
        *,
        floor_wei: int,
        refresh: float,
        clock: Callable[[], float],
    ) -> None:
        self.address = address
        self.floor_wei = floor_wei
        self.refresh = refresh
        self._read = read
        self._clock = clock
        self._status: BalanceStatus | None = None
        self._lock = threading.Lock()

    def status(self) -> BalanceStatus:
        """The balance, read from the chain when the last reading is stale."""
        now = self._clock()
        with self._lock:
            cached = self._status
            if cached is not None and 0 <= now - cached.checked_at < self.refresh:
                return cached
            status = BalanceStatus(self.address, int(self._read()), self.floor_wei, now)
            if status.low and (cached is None or not cached.low):
                log.warning(
                    "status: relayer %s balance %s wei is below the floor %s wei: relaying stops",
                    self.address,
                    status.balance_wei,
                    self.floor_wei,
                )
            elif cached is not None and cached.low and not status.low:
                log.info(
                    "status: relayer %s balance restored (%s wei)", self.address, status.balance_wei
                )
            self._status = status
            return status

    def invalidate(self) -> None:
        """Forget the reading (a relay just spent gas): the next :meth:`status` reads again."""
        with self._lock:
            if self._status is not None:
                self._status = BalanceStatus(
                    self.address, self._status.balance_wei, self.floor_wei, float("-inf")
                )


__all__ = ["BalanceStatus", "BalanceWatch"]
