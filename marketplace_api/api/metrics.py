"""``GET /metrics``: the service's Prometheus metrics (text exposition format).

Requests are counted and timed by :class:`RequestMetrics` (ASGI middleware, outermost, so 405s,
413s and refused JSON count too), labelled by route *template* (``/datasets/{dataset_id}``,
never the raw path: ids would make one series each), method and status; requests no route
matched share the route label ``<unmatched>``. The chain-side figures are read when scraped, from
the app's :class:`~marketplace_api.services.Services`:

==========================================  ============================================
metric                                      meaning
==========================================  ============================================
``fedmarket_http_requests_total``           requests answered (counter)
``fedmarket_http_request_duration_seconds`` time to the end of the answer (histogram)
``fedmarket_chain_block``                   the chain's latest block
``fedmarket_index_block``                   the last block the index holds
``fedmarket_index_lag_blocks``              how far the index is behind the chain
``fedmarket_relayer_balance_wei``           what the relayer has left to pay gas with
``fedmarket_relayer_balance_floor_wei``     below it nothing is relayed (the relay guard's)
``fedmarket_metrics_source_up``             1 when a source (chain, index) could be read
==========================================  ============================================

Each app has its own registry (:class:`ApiMetrics`), so several apps in one process (tests, the
demo) never share counters.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

from fastapi import FastAPI
from fastapi.responses import Response
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from marketplace_api import crud
from marketplace_api.api.methods import RouteTable
from marketplace_api.services import Services

log = logging.getLogger(__name__)

METRICS_URL = "/metrics"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
"""The classic text exposition format, which every Prometheus scrapes."""
UNMATCHED = "<unmatched>"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Histogram buckets in seconds: the API's target p99 is 50 ms."""


class ChainCollector(Collector):
    """The chain head, the index's head and lag, and the relayer's balance, read at each scrape.

    Parameters
    ----------
    services : Services
        The app's services (nothing is read before a scrape).
    """

    def __init__(self, services: Services) -> None:
        self.services = services

    def describe(self) -> Iterator[Metric]:
        """The metrics this collector yields (without reading anything: registration)."""
        names = ("chain_block", "index_block", "index_lag_blocks")
        for name in (*names, "relayer_balance_wei", "relayer_balance_floor_wei"):
            yield GaugeMetricFamily(f"fedmarket_{name}", "")
        yield GaugeMetricFamily("fedmarket_metrics_source_up", "", labels=["source"])

    def collect(self) -> Iterator[Metric]:
        """Yield what could be read; ``fedmarket_metrics_source_up`` says what could not."""
        up = GaugeMetricFamily(
            "fedmarket_metrics_source_up", "1 when the source could be read.", labels=["source"]
        )
        chain_block = self._chain_block()
        up.add_metric(["chain"], 0.0 if chain_block is None else 1.0)
        index_block = self._index_block()
        up.add_metric(["index"], 0.0 if index_block is None else 1.0)
        if chain_block is not None:
            yield GaugeMetricFamily(
                "fedmarket_chain_block", "The chain's latest block.", value=chain_block
            )
            yield from self._relayer_gauges()
        if index_block is not None:
            yield GaugeMetricFamily(
                "fedmarket_index_block", "The last block the index holds.", value=index_block
            )
        if chain_block is not None and index_block is not None:
            yield GaugeMetricFamily(
                "fedmarket_index_lag_blocks",
                "Blocks mined that the index does not hold yet.",
                value=max(chain_block - index_block, 0),
            )
        yield up

    def _relayer_gauges(self) -> Iterator[Metric]:
        relayer = self._relayer_balance()
        if relayer is None:
            return
        balance, floor = relayer
        yield GaugeMetricFamily(
            "fedmarket_relayer_balance_wei",
            "The relayer's balance, which pays the gas of relayed listings.",
            value=balance,
        )
        if floor is not None:
            yield GaugeMetricFamily(
                "fedmarket_relayer_balance_floor_wei",
                "Below this balance the API relays nothing (503).",
                value=floor,
            )

    def _chain_block(self) -> int | None:
        try:
            return int(self.services.backend.w3.eth.block_number)
        except Exception as exc:  # a scrape reports the chain down, it never fails
            log.warning("metrics: chain unreadable: %s", type(exc).__name__)
            return None

    def _index_block(self) -> int | None:
        try:
            with self.services.database.session() as session:
                head = crud.index_head(session, self.services.scope)
        except Exception as exc:  # likewise for the database
            log.warning("metrics: index unreadable: %s", type(exc).__name__)
            return None
        return None if head is None else int(head.block)

    def _relayer_balance(self) -> tuple[int, int | None] | None:
        """The relayer's balance and floor, through the relay guard's watch when there is one."""
        try:
            watch = getattr(getattr(self.services, "relay", None), "balance_status", None)
            if callable(watch):  # the guard's cached reading (it stops relaying below the floor)
                status = watch()
                return int(status.balance_wei), int(status.floor_wei)
            address = self.services.relayer.address
            return int(self.services.backend.w3.eth.get_balance(address)), None
        except Exception as exc:  # likewise
            log.warning("metrics: relayer balance unreadable: %s", type(exc).__name__)
            return None


class ApiMetrics:
    """The metrics of one app, in a registry of its own.

    Parameters
    ----------
    services : Services or None, default None
        Read at each scrape for the chain-side gauges (``None``: HTTP metrics only).
    """

    def __init__(self, services: Services | None = None) -> None:
        self.registry = CollectorRegistry()
        labels = ("method", "route", "status")
        self.requests = Counter(
            "fedmarket_http_requests",
            "Requests answered, by route template, method and status.",
            labels,
            registry=self.registry,
        )
        self.latency = Histogram(
            "fedmarket_http_request_duration_seconds",
            "Time from the request to the end of its answer, by route template, method, status.",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        if services is not None:
            self.registry.register(ChainCollector(services))

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request."""
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route, str(status)).observe(seconds)

    def exposition(self) -> bytes:
        """Every metric, in the Prometheus text format."""
        return generate_latest(self.registry)


class RequestMetrics:
    """Count and time every HTTP request (ASGI middleware).

    Parameters
    ----------
    app : ASGIApp
        The wrapped application.
    metrics : ApiMetrics
        Where to record.
    routes : RouteTable
        The application's routes (what the route label is read from).
    """

    def __init__(self, app: ASGIApp, metrics: ApiMetrics, routes: RouteTable) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Time the request to its last body chunk, whatever answered it."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def recording(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, recording)
        finally:
            route = self.routes.template(scope["path"]) or UNMATCHED
            self.metrics.observe(scope["method"], route, status, time.perf_counter() - start)


def install(app: FastAPI, services: Services | None) -> ApiMetrics:
    """Serve ``GET /metrics`` and record every request of ``app`` (add it last: outermost)."""
    metrics = ApiMetrics(services)
    app.state.metrics = metrics

    @app.get(
        METRICS_URL,
        tags=["health"],
        response_class=Response,
        responses={
            200: {
                "description": "Prometheus text exposition format (version 0.0.4).",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            }
        },
    )
    def read_metrics() -> Response:
        """Request counts and latencies by route, the index's lag and the relayer's balance."""
        return Response(content=metrics.exposition(), media_type=CONTENT_TYPE)

    app.add_middleware(RequestMetrics, metrics=metrics, routes=RouteTable(app))
    return metrics


__all__ = [
    "CONTENT_TYPE",
    "LATENCY_BUCKETS",
    "METRICS_URL",
    "UNMATCHED",
    "ApiMetrics",
    "ChainCollector",
    "RequestMetrics",
    "install",
]
