"""One secure aggregation round simulated in memory, with dropouts, traffic and timing.

``run_secagg`` drives a :class:`~fl_node.secagg.server.SecAggServer` and one
:class:`~fl_node.secagg.client.SecAggClient` per update through the four stages, passing
bytes only, and counts every byte each client sends and receives per stage. A client listed in
``dropouts`` completes the stage named there and then goes silent.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fl_node.secagg.client import SecAggClient
from fl_node.secagg.config import SecAggConfig, Stage
from fl_node.secagg.errors import SecAggInputError
from fl_node.secagg.fixed_point import FixedPoint
from fl_node.secagg.graph import default_degree, majority
from fl_node.secagg.server import Aggregate, Received, SecAggServer

T = TypeVar("T")


@dataclass(frozen=True)
class Traffic:
    """Bytes one client sent and received in one stage."""

    client: int
    stage: Stage
    sent: int
    received: int


@dataclass(frozen=True)
class SecAggResult:
    """A simulated round.

    Attributes
    ----------
    aggregate : Aggregate
        The sum (words and decoded), the survivors and the quantisation bound.
    config : SecAggConfig
        The round's settings (threshold, degree, fixed point).
    traffic : tuple of Traffic
        Per client and stage, in stage order.
    server_view : tuple of Received
        Every message the server received, in order.
    client_seconds : float
        CPU time of all clients together, every stage.
    server_seconds : float
        Time the server spent, every stage.
    """

    aggregate: Aggregate
    config: SecAggConfig
    traffic: tuple[Traffic, ...]
    server_view: tuple[Received, ...]
    client_seconds: float
    server_seconds: float

    def bytes_sent(self, client: int) -> int:
        """Everything ``client`` sent in the round."""
        return sum(t.sent for t in self.traffic if t.client == client)

    def bytes_received(self, client: int) -> int:
        """Everything ``client`` received in the round."""
        return sum(t.received for t in self.traffic if t.client == client)


def default_threshold(degree: int, n: int) -> int:
    """The :func:`~fl_node.secagg.graph.majority` of each secret's ``min(k, n - 1) + 1`` holders."""
    return majority(min(degree + degree % 2, n - 1) + 1)


def random_dropouts(n: int, fraction: float, seed: int) -> dict[int, Stage]:
    """``round(fraction * n)`` clients drawn at random, each dropping after a random stage."""
    rng = np.random.default_rng(seed)
    chosen = rng.choice(n, size=round(fraction * n), replace=False)
    stages = (Stage.ADVERTISE, Stage.SHARE, Stage.MASK)
    return {int(c): stages[int(rng.integers(3))] for c in chosen}


def round_config(
    n: int,
    length: int,
    *,
    threshold: int | None = None,
    neighbours: int | None = None,
    seed: int = 0,
    clip: float = 1.0,
    task: bytes = b"fedmarket-secagg-sim",
    round_: int = 0,
    tolerance: float = 0.3,
) -> SecAggConfig:
    """The settings of a round over clients ``0 .. n-1`` (see :func:`run_secagg`).

    Defaults: ``k`` from :func:`~fl_node.secagg.graph.default_degree` for ``tolerance``
    dropouts, ``t`` from :func:`default_threshold`.
    """
    degree = default_degree(n, tolerance) if neighbours is None else neighbours
    t = default_threshold(degree, n) if threshold is None else threshold
    round_seed = hashlib.sha256(b"secagg-round-seed" + seed.to_bytes(8, "little")).digest()
    return SecAggConfig(
        task, round_, tuple(range(n)), length, t, degree, round_seed, FixedPoint(clip, max(n, 1))
    )


def run_secagg(
    updates: Sequence[ArrayLike],
    *,
    dropouts: Mapping[int, Stage] | None = None,
    threshold: int | None = None,
    neighbours: int | None = None,
    seed: int = 0,
    clip: float = 1.0,
    tolerance: float = 0.3,
) -> SecAggResult:
    """Simulate one round of SecAgg(+) over ``updates`` (client ``i`` holds ``updates[i]``).

    Parameters
    ----------
    updates : sequence of array_like
        One update per client, all of one length.
    dropouts : mapping of int to Stage, optional
        Client -> the last stage it completes (default: nobody drops).
    threshold : int, optional
        ``t`` (default :func:`default_threshold`).
    neighbours : int, optional
        ``k`` (default :func:`fl_node.secagg.graph.default_degree`).
    seed : int, default 0
        Seeds the public graph.
    clip : float, default 1.0
        The fixed-point range ``[-clip, clip]``.
    tolerance : float, default 0.3
        The dropout fraction the default ``k`` is sized for.

    Raises
    ------
    TooFewSurvivorsError
        Too many dropped for some stage or some secret.
    """
    arrays = [np.asarray(u, dtype=np.float64).ravel() for u in updates]
    if not arrays or len({a.size for a in arrays}) != 1:
        raise SecAggInputError("run_secagg: give at least one update, all of one length")
    config = round_config(
        len(arrays),
        arrays[0].size,
        threshold=threshold,
        neighbours=neighbours,
        seed=seed,
        clip=clip,
        tolerance=tolerance,
    )
    return _Round(config, arrays, dropouts or {}).run()


class _Round:
    """The message loop of :func:`run_secagg`."""

    def __init__(
        self,
        config: SecAggConfig,
        arrays: Sequence[NDArray[np.float64]],
        dropouts: Mapping[int, Stage],
    ) -> None:
        self.config, self.dropouts = config, dropouts
        self.server = SecAggServer(config)
        self.clients = {u: SecAggClient(config, u, a) for u, a in enumerate(arrays)}
        self.traffic: list[Traffic] = []
        self.client_seconds = self.server_seconds = 0.0

    def _stage(
        self,
        stage: Stage,
        inbox: Callable[[int], bytes | None],
        act: Callable[[SecAggClient, bytes | None], bytes],
    ) -> list[bytes]:
        sent = []
        for u, client in list(self.clients.items()):
            given = inbox(u)
            started = time.perf_counter()
            out = act(client, given)
            self.client_seconds += time.perf_counter() - started
            self.traffic.append(Traffic(u, stage, len(out), len(given or b"")))
            sent.append(out)
            if self.dropouts.get(u) == stage:
                del self.clients[u]
        return sent

    def _serve(self, work: Callable[[], T]) -> T:
        started = time.perf_counter()
        out = work()
        self.server_seconds += time.perf_counter() - started
        return out

    def run(self) -> SecAggResult:
        s = self.server
        sent = self._stage(Stage.ADVERTISE, lambda u: None, lambda c, _: c.advertise())
        keys = self._serve(lambda: s.receive_keys(sent))
        sent = self._stage(Stage.SHARE, lambda u: keys, lambda c, m: c.share_keys(m or b""))
        relays = self._serve(lambda: s.receive_shares(sent))
        sent = self._stage(Stage.MASK, relays.get, lambda c, m: c.masked_input(m or b""))
        request = self._serve(lambda: s.receive_masked(sent))
        sent = self._stage(Stage.UNMASK, lambda u: request, lambda c, m: c.unmask(m or b""))
        aggregate = self._serve(lambda: s.receive_unmask(sent))
        return SecAggResult(
            aggregate,
            self.config,
            tuple(self.traffic),
            tuple(s.view),
            self.client_seconds,
            self.server_seconds,
        )


__all__ = [
    "SecAggResult",
    "Traffic",
    "default_threshold",
    "random_dropouts",
    "round_config",
    "run_secagg",
]
