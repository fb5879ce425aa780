"""A lean HTTP/1.1 load generator: asyncio, raw keep-alive connections, per-request latency.

Each of ``concurrency`` connections sends one ``GET`` at a time (a closed loop), cycling through
its share of the paths, and times each request from the first byte written to the last byte of
the body read. Responses are parsed just enough to find their end (``Content-Length`` or chunked);
any status other than 200, a malformed response or a dropped connection counts as an error (the
connection is then opened again). The first ``warmup_s`` seconds are not counted.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

WARMUP_LIMIT_S = 120.0
"""Longest wait for the warm-up's requests (a server that answers nothing ends the run)."""


@dataclass(frozen=True)
class LoadResult:
    """Figures of one load run.

    Parameters
    ----------
    name : str
        The query shape.
    requests : int
        Requests completed (errors included) in the measured window.
    errors : int
        Requests that did not end in a 200.
    duration_s : float
        Length of the measured window.
    latencies_ms : list of float
        Every measured request's latency, sorted.
    concurrency : int
        Connections used.
    """

    name: str
    requests: int
    errors: int
    duration_s: float
    latencies_ms: list[float] = field(repr=False)
    concurrency: int = 1
    cpu_ms: dict[str, float] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        """Requests per second over the measured window."""
        return self.requests / self.duration_s if self.duration_s > 0 else 0.0

    def percentile(self, q: float) -> float:
        """The ``q``-th percentile of the latencies, in ms (nearest rank; 0 when none)."""
        if not self.latencies_ms:
            return 0.0
        rank = max(0, min(len(self.latencies_ms) - 1, round(q / 100 * len(self.latencies_ms)) - 1))
        return self.latencies_ms[rank]

    def summary(self) -> dict[str, float | int | str]:
        """The figures as a flat record (for JSON)."""
        return {
            "name": self.name,
            "requests": self.requests,
            "errors": self.errors,
            "duration_s": round(self.duration_s, 3),
            "rps": round(self.rps, 1),
            "p50_ms": round(self.percentile(50), 2),
            "p90_ms": round(self.percentile(90), 2),
            "p99_ms": round(self.percentile(99), 2),
            "max_ms": round(self.latencies_ms[-1], 2) if self.latencies_ms else 0.0,
            "concurrency": self.concurrency,
            **{
                f"cpu_ms_per_req_{k}": round(v / max(1, self.requests), 3)
                for k, v in self.cpu_ms.items()
            },
        }


class _Tally:
    """Counts requests; the measured window opens once the warm-up's time and requests passed."""

    def __init__(
        self,
        warm_until: float,
        warm_requests: int,
        duration_s: float,
        on_open: Callable[[], None] | None = None,
    ) -> None:
        self.warm_until = warm_until
        self.warm_requests = warm_requests
        self.duration_s = duration_s
        self.on_open = on_open
        self.measure_from = float("inf")
        self.deadline = warm_until + WARMUP_LIMIT_S + duration_s  # until the window opens
        self.warm_seen = 0
        self.latencies: list[float] = []
        self.errors = 0
        self.requests = 0

    def record(self, started: float, ended: float, ok: bool) -> None:
        if started < self.measure_from:
            self.warm_seen += 1
            if self.measure_from == float("inf") and self._warm(ended):
                self.measure_from = ended
                self.deadline = ended + self.duration_s
                if self.on_open is not None:
                    self.on_open()
            return
        self.requests += 1
        if ok:
            self.latencies.append((ended - started) * 1000.0)
        else:
            self.errors += 1

    def _warm(self, now: float) -> bool:
        return now >= self.warm_until and self.warm_seen >= self.warm_requests


async def _read_response(reader: asyncio.StreamReader) -> int:
    """Read one response to its end; return its status code."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = -1
    chunked = False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        lowered = name.strip().lower()
        if lowered == b"content-length":
            length = int(value)
        elif lowered == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length > 0:
        await reader.readexactly(length)
    return status


async def _connection(host: str, port: int, requests: Sequence[bytes], tally: _Tally) -> None:
    i = 0
    while time.perf_counter() < tally.deadline:
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError:
            tally.errors += 1
            await asyncio.sleep(0.05)
            continue
        try:
            while (started := time.perf_counter()) < tally.deadline:
                writer.write(requests[i % len(requests)])
                i += 1
                status = await _read_response(reader)
                tally.record(started, time.perf_counter(), status == 200)
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            tally.record(started, time.perf_counter(), False)
        finally:
            writer.close()


def request_bytes(host: str, port: int, path: str) -> bytes:
    """A keep-alive ``GET`` of ``path``."""
    return (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: application/json\r\n"
        "User-Agent: fedmarket-bench\r\n\r\n"
    ).encode()


async def run_load(
    name: str,
    host: str,
    port: int,
    paths: Sequence[str],
    *,
    concurrency: int = 16,
    duration_s: float = 10.0,
    warmup_s: float = 1.0,
    warmup_rounds: int = 0,
    cpu: Callable[[], dict[str, float]] | None = None,
) -> LoadResult:
    """Send ``GET`` requests for ``paths`` over ``concurrency`` connections for a while.

    Parameters
    ----------
    name : str
        The query shape (reported).
    host, port : str, int
        The server.
    paths : sequence of str
        Paths to ask for, in turn (the connections start spread evenly over them).
    concurrency : int, default 16
        Connections, each with one request in flight.
    duration_s : float, default 10.0
        Measured seconds.
    warmup_s : float, default 1.0
        Seconds before the measured window (requests sent then are not counted).
    warmup_rounds : int, default 0
        The window also waits until ``warmup_rounds * len(paths)`` requests were answered (a
        cache sees every path a few times before it is measured).
    cpu : callable or None, default None
        CPU seconds used so far, by party; read when the window opens and when it closes (the
        result's ``cpu_ms`` is the difference, in ms).
    """
    encoded = [request_bytes(host, port, p) for p in paths]
    readings: list[dict[str, float]] = []
    on_open = None if cpu is None else (lambda: readings.append(cpu()))
    tally = _Tally(time.perf_counter() + warmup_s, warmup_rounds * len(paths), duration_s, on_open)
    # Connections start spread evenly over the paths: in lock-step from neighbouring paths, the
    # warm-up would cover only its own number of paths, not every path several times.
    starts = [c * len(encoded) // concurrency for c in range(concurrency)]
    shares = [list(encoded[s:]) + list(encoded[:s]) for s in starts]
    await asyncio.gather(*(_connection(host, port, s, tally) for s in shares))
    measured = max(0.0, time.perf_counter() - tally.measure_from)
    if cpu is not None and readings:
        readings.append(cpu())
    tally.latencies.sort()
    return LoadResult(
        name=name,
        requests=tally.requests,
        errors=tally.errors,
        duration_s=measured,
        latencies_ms=tally.latencies,
        concurrency=concurrency,
        cpu_ms=_cpu_used(readings),
    )


def _cpu_used(readings: list[dict[str, float]]) -> dict[str, float]:
    """CPU ms by party between the window's two readings (empty without both)."""
    if len(readings) != 2:
        return {}
    return {k: 1000.0 * (readings[1][k] - readings[0].get(k, 0.0)) for k in readings[1]}


def load(
    name: str,
    base_url: str,
    paths: Sequence[str],
    *,
    concurrency: int = 16,
    duration_s: float = 10.0,
    warmup_s: float = 1.0,
    warmup_rounds: int = 0,
    cpu: Callable[[], dict[str, float]] | None = None,
) -> LoadResult:
    """:func:`run_load` on a fresh event loop (uvloop's when installed).

    Parameters
    ----------
    name : str
        The query shape.
    base_url : str
        ``http://host:port`` of the server.
    paths : sequence of str
        Paths to ask for.
    concurrency : int, default 16
        Connections.
    duration_s : float, default 10.0
        Measured seconds.
    warmup_s : float, default 1.0
        Unmeasured seconds first.
    warmup_rounds : int, default 0
        Unmeasured requests first, per path (see :func:`run_load`).
    cpu : callable or None, default None
        See :func:`run_load`.
    """
    hostport = base_url.split("://", 1)[1].rstrip("/")
    host, _, port = hostport.rpartition(":")
    coro = run_load(
        name,
        host,
        int(port),
        paths,
        concurrency=concurrency,
        duration_s=duration_s,
        warmup_s=warmup_s,
        warmup_rounds=warmup_rounds,
        cpu=cpu,
    )
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


__all__ = ["LoadResult", "load", "request_bytes", "run_load"]
