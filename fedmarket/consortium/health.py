"""Health checks of the consortium's services, and waiting for one to pass.

A :class:`HealthCheck` is a probe that returns when the service answers as it should and raises
(anything) when it does not yet. :func:`wait_healthy` polls it until it passes, the service's
process exits (:class:`ServiceStartError`), its startup timeout passes
(:class:`ServiceTimeoutError`) or a stop is requested.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from fedmarket.consortium.errors import (
    ServiceNotReadyError,
    ServiceStartError,
    ServiceTimeoutError,
)
from fedmarket.consortium.process import ManagedProcess

log = logging.getLogger(__name__)

PROBE_TIMEOUT = 3.0
"""Seconds one probe may take."""


@dataclass(frozen=True)
class HealthCheck:
    """What makes a service healthy.

    Attributes
    ----------
    what : str
        The check in words, for messages (``eth_chainId at http://...``).
    probe : callable
        Returns when the service is healthy; raises otherwise.
    """

    what: str
    probe: Callable[[], None]


def _rpc_probe(url: str) -> None:
    payload = {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}
    answer = httpx.post(url, json=payload, timeout=PROBE_TIMEOUT).json()
    if "result" not in answer:
        raise ServiceNotReadyError(f"no chain id in {answer!r:.200}")


def rpc_check(url: str) -> HealthCheck:
    """The chain node answers JSON-RPC ``eth_chainId``.

    Parameters
    ----------
    url : str
        JSON-RPC URL.
    """
    return HealthCheck(f"eth_chainId at {url}", lambda: _rpc_probe(url))


def _ok_probe(method: str, url: str) -> None:
    status = httpx.request(method, url, timeout=PROBE_TIMEOUT).status_code
    if status != 200:
        raise ServiceNotReadyError(f"{method} {url}: HTTP {status}")


def ipfs_check(api_url: str) -> HealthCheck:
    """The IPFS daemon answers ``POST /api/v0/version``.

    Parameters
    ----------
    api_url : str
        Base URL of its RPC API.
    """
    url = f"{api_url}/api/v0/version"
    return HealthCheck(f"POST {url}", lambda: _ok_probe("POST", url))


def http_check(url: str) -> HealthCheck:
    """``GET url`` answers 200 (the marketplace API's ``/health``).

    Parameters
    ----------
    url : str
        The URL.
    """
    return HealthCheck(f"GET {url}", lambda: _ok_probe("GET", url))


def wait_healthy(
    check: HealthCheck,
    *,
    timeout: float,
    process: ManagedProcess | None = None,
    stop: threading.Event | None = None,
    interval: float = 0.2,
) -> bool:
    """Poll ``check`` until it passes; ``False`` when ``stop`` was set first.

    Parameters
    ----------
    check : HealthCheck
        The check.
    timeout : float
        Seconds to wait.
    process : ManagedProcess or None, default None
        The service's process: its exit ends the wait with an error.
    stop : threading.Event or None, default None
        Set to give up waiting (a stop was requested).
    interval : float, default 0.2
        Seconds between probes.

    Raises
    ------
    ServiceStartError
        When ``process`` exits before the check passes.
    ServiceTimeoutError
        When the check has not passed after ``timeout`` seconds.
    """
    name = process.spec.name if process is not None else check.what
    deadline = time.monotonic() + timeout
    reason = "no answer"
    while stop is None or not stop.is_set():
        if process is not None and process.exited():
            raise ServiceStartError(
                f"{name} exited while starting (status {process.returncode}); "
                f"log {process.spec.log}: {process.log_tail()}"
            )
        try:
            check.probe()
            log.info("wait_healthy: %s passed", check.what)
            return True
        except Exception as exc:  # any failure of a probe means "not yet"
            reason = f"{type(exc).__name__}: {exc}"[:300]
        if time.monotonic() >= deadline:
            raise ServiceTimeoutError(
                f"{name} not healthy after {timeout:g}s ({check.what}: {reason})"
            )
        if stop is not None:
            stop.wait(interval)
        else:
            time.sleep(interval)
    return False


__all__ = ["HealthCheck", "http_check", "ipfs_check", "rpc_check", "wait_healthy"]
