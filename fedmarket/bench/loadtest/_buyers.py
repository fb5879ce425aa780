"""Concurrent buyers of one model: each a keep-alive connection walking the buyer's flow in a loop.

A buyer's flow, as the wallet page and ``fedmarket buy`` walk it (every step a ``GET`` that must
answer 200):

1. ``browse``: ``/models``, the models on sale;
2. ``model``: ``/models/{id}``, the listing with the market's live price;
3. ``quote``: ``/transactions/models/{id}/buy?account=...``, the purchase's transactions for a
   wallet that holds no licence yet (the API reads the listing, the licence and the allowance
   from the chain);
4. ``grant``: ``/models/{id}/content`` as the signed-in buyer (``Authorization: Bearer``): the
   content key wrapped to the buyer's public key, for a licence it bought on-chain;
5. ``download``: ``/models/{id}/content/envelope``: the sealed model.

Each buyer has its own session and licence (bought on-chain before the load), and its own quote
wallet. Connections are closed loops (one request in flight each); the first ``warmup_s`` seconds
are not counted. Latency runs from the request's first byte written to the response's last byte
read; anything but a 200, a malformed answer or a dropped connection is an error.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from fedmarket.bench._load import _read_response

ROUTES = ("browse", "model", "quote", "grant", "download")
"""The flow's steps, in order."""


@dataclass(frozen=True)
class Buyer:
    """One buyer: its session token, and a wallet without a licence to ask quotes for."""

    token: str
    quote_account: str


@dataclass(frozen=True)
class RouteFigures:
    """One step's figures over the measured window."""

    route: str
    requests: int
    errors: int
    p50_ms: float
    p99_ms: float


@dataclass(frozen=True)
class BuyerLoad:
    """A load run's figures.

    Parameters
    ----------
    concurrency : int
        Buyers (connections).
    duration_s : float
        The measured window.
    requests, errors : int
        Requests completed in the window (errors included); those that failed.
    p50_ms, p99_ms : float
        Latency percentiles over every successful request.
    routes : tuple of RouteFigures
        The same per step of the flow.
    """

    concurrency: int
    duration_s: float
    requests: int
    errors: int
    p50_ms: float
    p99_ms: float
    routes: tuple[RouteFigures, ...]

    @property
    def rps(self) -> float:
        """Requests per second."""
        return self.requests / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def flows_per_s(self) -> float:
        """Whole buyer flows per second."""
        return self.rps / len(ROUTES)


def percentile(sorted_ms: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (nearest rank) of sorted latencies; 0 when there are none."""
    if not sorted_ms:
        return 0.0
    rank = max(0, min(len(sorted_ms) - 1, round(q / 100 * len(sorted_ms)) - 1))
    return sorted_ms[rank]


@dataclass
class _Tally:
    warm_until: float
    end: float
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def record(self, route: str, started: float, ended: float, ok: bool) -> None:
        if started < self.warm_until or ended > self.end:
            return
        if ok:
            self.latencies[route].append((ended - started) * 1000.0)
        else:
            self.errors[route] += 1


def flow_requests(host: str, port: int, model_id: int, buyer: Buyer) -> list[tuple[str, bytes]]:
    """The five requests of ``buyer``'s flow (see the module docstring)."""
    base = f"/models/{model_id}"
    paths = [
        ("browse", "/models", False),
        ("model", base, False),
        ("quote", f"/transactions{base}/buy?account={buyer.quote_account}", False),
        ("grant", f"{base}/content", True),
        ("download", f"{base}/content/envelope", True),
    ]
    requests = []
    for route, path, signed in paths:
        auth = f"Authorization: Bearer {buyer.token}\r\n" if signed else ""
        head = (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: */*\r\n{auth}"
            "User-Agent: fedmarket-bench-load\r\n\r\n"
        )
        requests.append((route, head.encode()))
    return requests


async def _connection(host: str, port: int, flow: list[tuple[str, bytes]], tally: _Tally) -> None:
    i = 0
    while time.perf_counter() < tally.end:
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError:
            tally.record(flow[i % len(flow)][0], time.perf_counter(), time.perf_counter(), False)
            await asyncio.sleep(0.05)
            continue
        try:
            while (started := time.perf_counter()) < tally.end:
                route, request = flow[i % len(flow)]
                writer.write(request)
                i += 1
                status = await _read_response(reader)
                tally.record(route, started, time.perf_counter(), status == 200)
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            tally.record(route, started, time.perf_counter(), False)
        finally:
            writer.close()


async def _run(
    host: str, port: int, model_id: int, buyers: Sequence[Buyer], warmup_s: float, duration_s: float
) -> _Tally:
    now = time.perf_counter()
    tally = _Tally(warm_until=now + warmup_s, end=now + warmup_s + duration_s)
    flows = [flow_requests(host, port, model_id, b) for b in buyers]
    # the buyers start at different steps of the flow, not all on the same route at once
    shifted = [f[k % len(f) :] + f[: k % len(f)] for k, f in enumerate(flows)]
    await asyncio.gather(*(_connection(host, port, f, tally) for f in shifted))
    return tally


def buyer_load(
    base_url: str, model_id: int, buyers: Sequence[Buyer], *, warmup_s: float, duration_s: float
) -> BuyerLoad:
    """Run ``buyers`` against the API at ``base_url`` (see the module docstring).

    Parameters
    ----------
    base_url : str
        ``http://host:port``.
    model_id : int
        The model they buy.
    buyers : sequence of Buyer
        One connection each.
    warmup_s, duration_s : float
        Unmeasured, then measured seconds.
    """
    host, _, port = base_url.split("://", 1)[1].rstrip("/").rpartition(":")
    tally = asyncio.run(_run(host, int(port), model_id, buyers, warmup_s, duration_s))
    everything = sorted(ms for route in ROUTES for ms in tally.latencies[route])
    routes = []
    for route in ROUTES:
        ms = sorted(tally.latencies[route])
        errors = tally.errors[route]
        routes.append(RouteFigures(route, len(ms) + errors, errors, percentile(ms, 50),
                                   percentile(ms, 99)))  # fmt: skip
    return BuyerLoad(
        concurrency=len(buyers),
        duration_s=duration_s,
        requests=sum(r.requests for r in routes),
        errors=sum(r.errors for r in routes),
        p50_ms=percentile(everything, 50),
        p99_ms=percentile(everything, 99),
        routes=tuple(routes),
    )


__all__ = ["ROUTES", "Buyer", "BuyerLoad", "RouteFigures", "buyer_load", "percentile"]
