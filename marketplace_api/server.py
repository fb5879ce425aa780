"""Serving the API from a thread of the current process with a real uvicorn server.

The demo does this so that its parties talk to the marketplace over HTTP while sharing the
in-process chain with it::

    server = serve_in_thread(create_app(services=services))
    try:
        MarketplaceClient(server.url).health()
    finally:
        server.stop()
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from dataclasses import dataclass, field

import uvicorn
from fastapi import FastAPI

from kernel.errors import ServiceUnavailableError

log = logging.getLogger(__name__)


class ServerStartError(ServiceUnavailableError):
    """The server thread ended, or did not accept connections in time."""


@dataclass
class ServerHandle:
    """A running server: its URL, and how to stop it.

    Attributes
    ----------
    url : str
        ``http://host:port`` (no trailing slash).
    """

    url: str
    server: uvicorn.Server = field(repr=False)
    thread: threading.Thread = field(repr=False)

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the server to finish its requests and exit, and wait for the thread.

        Parameters
        ----------
        timeout : float, default 10.0
            Seconds to wait for a graceful exit before forcing it.
        """
        self.server.should_exit = True
        self.thread.join(timeout)
        if self.thread.is_alive():
            log.warning("stop: %s did not exit in %.0f s; forcing", self.url, timeout)
            self.server.force_exit = True
            self.thread.join(timeout)

    def __enter__(self) -> ServerHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_in_thread(
    app: FastAPI,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    startup_timeout: float = 30.0,
    log_level: str = "warning",
) -> ServerHandle:
    """Serve ``app`` with uvicorn in a daemon thread; return once it accepts connections.

    Parameters
    ----------
    app : FastAPI
        The application (its lifespan runs: migrations are applied before this returns).
    host : str, default "127.0.0.1"
        Interface to bind.
    port : int, default 0
        Port; 0 picks a free one.
    startup_timeout : float, default 30.0
        Seconds to wait for the server to accept connections.
    log_level : str, default "warning"
        uvicorn's log level.

    Raises
    ------
    ServerStartError
        When the server fails to start (e.g. the lifespan failed) or is not up in time.
    """
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound_port = int(sock.getsockname()[1])
    config = uvicorn.Config(app, log_level=log_level, lifespan="on", access_log=False)
    server = uvicorn.Server(config)  # it leaves signals alone outside the main thread
    thread = threading.Thread(
        target=_run, args=(server, sock), name=f"marketplace-api:{bound_port}"
    )
    thread.daemon = True
    thread.start()
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{bound_port}"
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive():
            sock.close()
            raise ServerStartError(
                f"serve_in_thread: the server at {url} failed to start (see the log)"
            )
        if time.monotonic() > deadline:
            server.should_exit = True
            thread.join(5)
            sock.close()
            raise ServerStartError(f"serve_in_thread: {url} not up after {startup_timeout} s")
        time.sleep(0.02)
    _wait_accepting(host, bound_port, deadline)
    log.info("serve_in_thread: marketplace API at %s", url)
    return ServerHandle(url=url, server=server, thread=thread)


def _run(server: uvicorn.Server, sock: socket.socket) -> None:
    """Thread body: serve until asked to stop; a failed start ends the thread quietly."""
    try:
        server.run(sockets=[sock])
    except SystemExit as exc:  # uvicorn exits this way when the app's start-up fails
        log.error("serve_in_thread: the server stopped during start-up (exit code %s)", exc.code)
    finally:
        sock.close()


def _wait_accepting(host: str, port: int, deadline: float) -> None:
    while True:
        try:
            with socket.create_connection((host, port), timeout=1.0):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise ServerStartError(
                    f"serve_in_thread: {host}:{port} refuses connections"
                ) from None
            time.sleep(0.02)


__all__ = ["ServerHandle", "ServerStartError", "serve_in_thread"]
