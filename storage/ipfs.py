"""An IPFS daemon as a content store: an async client of its RPC API and a synchronous facade.

:class:`IpfsClient` speaks the Kubo RPC API (``POST /api/v0/...``, also served by js-ipfs) over
httpx; :class:`IpfsStore` runs it on a private event loop so that it is a plain
:class:`~storage.base.ContentStore` and every caller of the local store works unchanged.

The daemon is not trusted:

- objects are added as ``--cid-version=1 --raw-leaves`` with the importer settings spelled out
  (256 KiB chunks, sha2-256), and the CID the daemon answers must equal the one computed locally;
- bytes read back are re-hashed to the CID asked for (by :meth:`ContentStore.get`, or by
  :meth:`IpfsClient.cat` when ``verify`` is set);
- an object larger than the caller allows is refused from its size (``files/stat``) before any of
  it is read, and the read itself stops one byte past the limit, whatever the stat said.

Lookups never search the network: they pass ``offline=true`` (honoured by Kubo) and a
``timeout`` (honoured by both daemons; js-ipfs waits for a missing block until it), so a CID the
daemon does not hold is :class:`~storage.errors.ContentNotFoundError` after at most
``lookup_timeout`` seconds. Only the root block is looked up that way: a DAG whose root the
daemon holds but not every leaf makes ``cat`` wait for the missing leaf until the request's read
``timeout``, and is then retried like any transport failure.

Channel: ``https://`` URLs use the certificates of :class:`kernel.tls.TlsConfig` (the CA that
signed the daemon's, or its proxy's, certificate, and a client certificate; from
``FEDMARKET_TLS_*`` unless given); plain ``http://`` to another machine works but logs that the
channel is unencrypted. A TLS failure (certificate not accepted, client certificate required) is
definitive: :class:`~storage.errors.StoreUnavailableError` at once, naming the TLS reason.

Errors: transport failures and 5xx answers are retried with exponential backoff
(:class:`RetryPolicy`), then raise :class:`~storage.errors.StoreUnavailableError`; the daemon's
definitive answers are not retried ("not found" is ``ContentNotFoundError``); a 4xx answer or a
malformed body is :class:`~storage.errors.StoreProtocolError`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
import threading
import weakref
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final, Self, TypeVar

import httpx

from kernel.alerts import raise_alert
from kernel.errors import ConfigurationError
from kernel.retry import Backoff
from kernel.tls import TlsConfig, tls_failure, warn_if_unencrypted
from kernel.types import Cid
from storage._cid import CHUNK_SIZE, cid_of
from storage.base import ContentStore, validate_cid
from storage.errors import (
    ContentIntegrityError,
    ContentNotFoundError,
    ContentTooLargeError,
    InvalidCidError,
    StoreProtocolError,
    StoreUnavailableError,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_API_URL: Final = "http://127.0.0.1:5001"
"""Where a Kubo daemon serves its RPC API by default."""

ADD_PARAMS: Final = {
    "cid-version": "1",
    "raw-leaves": "true",
    "cid-base": "base32",
    "chunker": f"size-{CHUNK_SIZE}",
    "hash": "sha2-256",
    "trickle": "false",
}
"""The importer settings of ``add``: those :func:`storage.base.compute_cid` reproduces."""

_NOT_FOUND: Final = (
    "not found",
    "could not find",
    "timed out",
    "deadline exceeded",
    "no link named",
)
"""Fragments of the daemons' messages for a CID they do not hold (or not within the timeout)."""

_NOT_PINNED: Final = "not pinned"
_THREADED_HASH_BYTES: Final = 1 << 20
"""Above this size the local CID is computed in a worker thread, off the event loop."""


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a failed request is tried again.

    Attempt ``n`` (from 1) waits up to ``min(max_delay, initial_delay * multiplier ** (n - 2))``
    seconds before it starts, less a random fraction (at most ``jitter``) of it, so that parties
    cut off by the same failure do not all come back at once; the first attempt starts at once.

    Parameters
    ----------
    attempts : int, default 5
        Tries in all, the first included (at least 1).
    initial_delay : float, default 0.1
        Seconds before the second try.
    max_delay : float, default 2.0
        Longest wait between two tries.
    multiplier : float, default 2.0
        Growth of the wait from one try to the next (at least 1).
    jitter : float, default 0.5
        Largest fraction of each wait left out at random (0: every wait is exact).
    """

    attempts: int = 5
    initial_delay: float = 0.1
    max_delay: float = 2.0
    multiplier: float = 2.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.initial_delay < 0 or self.max_delay < 0:
            raise ConfigurationError(f"RetryPolicy: invalid {self}")
        if self.multiplier < 1:
            raise ConfigurationError(f"RetryPolicy: multiplier {self.multiplier} is below 1")
        if not 0 <= self.jitter <= 1:
            raise ConfigurationError(f"RetryPolicy: jitter {self.jitter} is not in [0, 1]")

    @property
    def backoff(self) -> Backoff:
        """The waits between tries (:class:`kernel.retry.Backoff`)."""
        return Backoff(self.initial_delay, self.max_delay, self.multiplier, self.jitter)

    def ceiling(self, retry: int) -> float:
        """The longest wait before retry number ``retry`` (0 for the first retry).

        Parameters
        ----------
        retry : int
            How many retries came before this one.
        """
        return self.backoff.ceiling(retry)

    def delay(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry``: the ceiling, less the jitter drawn.

        Parameters
        ----------
        retry : int
            How many retries came before this one.
        """
        return self.backoff.delay(retry)

    def total_delay(self) -> float:
        """Seconds spent waiting, at most, when every attempt fails."""
        return sum(self.ceiling(i) for i in range(self.attempts - 1))

    def least_total_delay(self) -> float:
        """Seconds spent waiting, at least, when every attempt fails."""
        return self.total_delay() * (1 - self.jitter)


@dataclass(frozen=True)
class ObjectStat:
    """What the daemon says about a stored object (``files/stat``).

    Attributes
    ----------
    cid : Cid
        The object's CID.
    size : int
        Bytes of content (what ``cat`` returns).
    cumulative_size : int
        Bytes of every block of the object's DAG, encoding included.
    blocks : int
        Links from the root block (0 for a single raw block).
    """

    cid: Cid
    size: int
    cumulative_size: int
    blocks: int


class _AttemptFailedError(StoreUnavailableError):
    """One try failed in a way worth retrying (transport error, 5xx); never leaves this module."""


class _NotPinnedError(ContentNotFoundError):
    """``pin/rm`` of a CID that is not pinned; never leaves this module."""


def _message(response: httpx.Response) -> str:
    """The error message in a daemon's answer: ``Message`` of its JSON body, else the text."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if isinstance(body, dict) and isinstance(body.get("Message"), str):
        return str(body["Message"])
    return response.text[:200]


def _check(op: str, response: httpx.Response) -> None:
    """Raise the project error that ``response`` stands for; return if it is a success."""
    if response.is_success:
        return
    message = _message(response)
    lowered = message.lower()
    if response.status_code == 500 and _NOT_PINNED in lowered:
        raise _NotPinnedError(f"{op}: {message}")
    if response.status_code == 500 and any(hint in lowered for hint in _NOT_FOUND):
        raise ContentNotFoundError(f"{op}: the daemon does not hold it: {message}")
    if response.is_server_error:
        raise _AttemptFailedError(f"{op}: HTTP {response.status_code}: {message}")
    raise StoreProtocolError(f"{op}: the daemon refused it: HTTP {response.status_code}: {message}")


def _transport_failure(op: str, exc: Exception) -> StoreUnavailableError:
    """The error a transport failure stands for: retried, unless TLS refused the channel.

    httpx wraps most failures in ``httpx.TransportError``, but a TLS alert read after the
    handshake (TLS 1.3's "certificate required") arrives as a bare ``ssl.SSLError``.
    """
    reason = tls_failure(exc)
    if reason is not None:
        return StoreUnavailableError(f"{op}: {reason}")
    return _AttemptFailedError(f"{op}: {type(exc).__name__}: {exc}")


def _json(op: str, response: httpx.Response) -> dict[str, Any]:
    """The last JSON object of a (possibly newline-delimited) answer."""
    lines = [line for line in response.text.splitlines() if line.strip()]
    try:
        body = json.loads(lines[-1]) if lines else None
    except ValueError as exc:
        raise StoreProtocolError(f"{op}: the daemon answered malformed JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise StoreProtocolError(f"{op}: the daemon answered {response.text[:200]!r}")
    return body


def _int_field(op: str, body: dict[str, Any], name: str) -> int:
    value = body.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise StoreProtocolError(f"{op}: the daemon answered {name}={value!r}")
    return value


def _verify(api_url: str, tls: TlsConfig | None) -> ssl.SSLContext | bool:
    """The ``verify`` of httpx: the configured client context over https, the default else."""
    if not api_url.startswith("https://"):
        warn_if_unencrypted("IPFS API", api_url)
        return True
    return (TlsConfig.from_env() if tls is None else tls).client_context()


class IpfsClient:
    """Async client of an IPFS daemon's RPC API (Kubo's ``/api/v0``; js-ipfs serves it too).

    Use it as an async context manager, or call :meth:`aclose` when done.

    Parameters
    ----------
    api_url : str, default DEFAULT_API_URL
        Base URL of the RPC API, e.g. ``http://127.0.0.1:5001``.
    retry : RetryPolicy, default RetryPolicy()
        Tries and backoff for transport errors and 5xx answers.
    timeout : float, default 60.0
        Seconds a request may wait for the daemon (connecting: at most 5).
    lookup_timeout : float, default 5.0
        Seconds the daemon may look for a CID before the answer is "not found".
    local_only : bool, default True
        Ask the daemon to answer from its own blocks only (``offline=true``), never from the
        network.
    transport : httpx.AsyncBaseTransport or None, default None
        A transport to use instead of the network (tests).
    tls : TlsConfig or None, default None
        Certificates for an ``https://`` URL (CA, client certificate); ``None`` reads
        ``FEDMARKET_TLS_*``. Unused over ``http://``.
    """

    def __init__(
        self,
        api_url: str = DEFAULT_API_URL,
        *,
        retry: RetryPolicy | None = None,
        timeout: float = 60.0,
        lookup_timeout: float = 5.0,
        local_only: bool = True,
        transport: httpx.AsyncBaseTransport | None = None,
        tls: TlsConfig | None = None,
    ) -> None:
        if timeout <= 0 or lookup_timeout <= 0:
            raise ConfigurationError("IpfsClient: timeouts must be positive")
        self.api_url = api_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self._lookup = {"timeout": f"{int(lookup_timeout * 1000)}ms"}
        if local_only:
            self._lookup["offline"] = "true"
        self._http = httpx.AsyncClient(
            base_url=f"{self.api_url}/api/v0/",
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            transport=transport,
            verify=_verify(self.api_url, tls),
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connections to the daemon."""
        await self._http.aclose()

    async def _with_retries(self, op: str, attempt: Callable[[], Awaitable[T]]) -> T:
        """Run ``attempt`` until it succeeds or the policy's tries are spent."""
        failure: _AttemptFailedError | None = None
        for n in range(self.retry.attempts):
            if n:
                await asyncio.sleep(self.retry.delay(n - 1))
            try:
                return await attempt()
            except _AttemptFailedError as exc:
                failure = exc
                log.warning("%s: try %d of %d failed: %s", op, n + 1, self.retry.attempts, exc)
        raise StoreUnavailableError(
            f"{op}: the IPFS daemon at {self.api_url} is unavailable "
            f"({self.retry.attempts} tries): {failure}"
        ) from failure

    async def _post(
        self, op: str, params: dict[str, str], files: dict[str, Any] | None = None
    ) -> httpx.Response:
        """POST ``/api/v0/<op>`` with retries; return the successful answer, read whole."""

        async def attempt() -> httpx.Response:
            try:
                response = await self._http.post(op, params=params, files=files)
            except (httpx.TransportError, ssl.SSLError) as exc:  # TLS alerts read raw
                raise _transport_failure(op, exc) from exc
            _check(op, response)
            return response

        return await self._with_retries(op, attempt)

    async def version(self) -> str:
        """The daemon's version string (a cheap liveness check)."""
        body = _json("version", await self._post("version", {}))
        version = body.get("Version")
        if not isinstance(version, str):
            raise StoreProtocolError(f"version: the daemon answered {body!r}")
        return version

    async def add(self, data: bytes, *, pin: bool = False) -> Cid:
        """Add ``data`` as one file and return its CID, checked against the local computation.

        Parameters
        ----------
        data : bytes
            The object's bytes.
        pin : bool, default False
            Pin it as it is added.

        Raises
        ------
        ContentIntegrityError
            The daemon named the bytes with another CID than :func:`compute_cid` (it imported
            them with other settings, or it is lying).
        StoreUnavailableError, StoreProtocolError
        """
        if len(data) > _THREADED_HASH_BYTES:
            expected = await asyncio.to_thread(cid_of, data)
        else:
            expected = cid_of(data)
        params = {**ADD_PARAMS, "pin": "true" if pin else "false"}
        files = {"file": ("blob", data, "application/octet-stream")}
        body = _json("add", await self._post("add", params, files))
        if body.get("Hash") != expected:
            raise ContentIntegrityError(
                f"add: the daemon named {len(data)} bytes {body.get('Hash')!r}, "
                f"computed locally {expected}"
            )
        log.debug("add: %s (%d bytes)", expected, len(data))
        return Cid(expected)

    async def stat(self, cid: Cid) -> ObjectStat:
        """Size and shape of the object ``cid``, as the daemon reports it (``files/stat``).

        Parameters
        ----------
        cid : Cid
            A validated CID.

        Raises
        ------
        ContentNotFoundError
            The daemon does not hold it (within the lookup timeout).
        StoreUnavailableError, StoreProtocolError
        """
        params = {"arg": f"/ipfs/{cid}", **self._lookup}
        body = _json("files/stat", await self._post("files/stat", params))
        return ObjectStat(
            cid=cid,
            size=_int_field("files/stat", body, "Size"),
            cumulative_size=_int_field("files/stat", body, "CumulativeSize"),
            blocks=_int_field("files/stat", body, "Blocks"),
        )

    async def has(self, cid: Cid) -> bool:
        """Whether the daemon holds the root block of ``cid`` (``block/stat``).

        Parameters
        ----------
        cid : Cid
            A validated CID.
        """
        try:
            await self._post("block/stat", {"arg": cid, **self._lookup})
        except ContentNotFoundError:
            return False
        return True

    async def cat(self, cid: Cid, *, max_bytes: int, verify: bool = True) -> bytes:
        """The content of ``cid``, refused early when it is larger than ``max_bytes``.

        Parameters
        ----------
        cid : Cid
            A validated CID.
        max_bytes : int
            Largest object accepted: a bigger one is refused from its stat, before any of it is
            read, and the read stops one byte past the limit whatever the stat said.
        verify : bool, default True
            Re-hash the bytes read to ``cid``.

        Raises
        ------
        ContentNotFoundError, ContentTooLargeError, ContentIntegrityError
        StoreUnavailableError, StoreProtocolError
        """
        stat = await self.stat(cid)
        if stat.size > max_bytes:
            raise ContentTooLargeError(f"cat: {cid} is {stat.size} bytes, above {max_bytes}")
        data = await self._with_retries("cat", lambda: self._cat_once(cid, max_bytes))
        if verify:
            actual = await asyncio.to_thread(cid_of, data)
            if actual != cid:
                detail = f"cat: the daemon's bytes for {cid} hash to {actual}"
                raise_alert("integrity_failure", detail, source=__name__)
                raise ContentIntegrityError(detail)
        return data

    async def _cat_once(self, cid: Cid, max_bytes: int) -> bytes:
        """One streaming ``cat`` that stops reading one byte past ``max_bytes``."""
        params = {"arg": cid, "length": str(max_bytes + 1), **self._lookup}
        params.pop("timeout")  # a whole-request timeout would cut long reads short
        chunks: list[bytes] = []
        received = 0
        try:
            async with self._http.stream("POST", "cat", params=params) as response:
                if not response.is_success:
                    await response.aread()
                    _check("cat", response)
                async for chunk in response.aiter_bytes():
                    received += len(chunk)
                    if received > max_bytes:
                        raise ContentTooLargeError(
                            f"cat: {cid} is larger than {max_bytes} bytes (its stat said less)"
                        )
                    chunks.append(chunk)
        except (httpx.TransportError, ssl.SSLError) as exc:
            raise _transport_failure("cat", exc) from exc
        return b"".join(chunks)

    async def pin_add(self, cid: Cid) -> None:
        """Pin ``cid`` recursively (every block of its DAG must already be on the daemon).

        Parameters
        ----------
        cid : Cid
            A validated CID.

        Raises
        ------
        ContentNotFoundError
            The daemon does not hold it (within the lookup timeout).
        StoreUnavailableError, StoreProtocolError
        """
        params = {"arg": cid, "recursive": "true", "cid-base": "base32", **self._lookup}
        await self._post("pin/add", params)
        log.debug("pin_add: %s", cid)

    async def pin_rm(self, cid: Cid) -> bool:
        """Remove the recursive pin of ``cid``; return whether there was one.

        Parameters
        ----------
        cid : Cid
            A validated CID.
        """
        try:
            await self._post("pin/rm", {"arg": cid, "recursive": "true", **self._lookup})
        except _NotPinnedError:
            return False
        log.debug("pin_rm: %s", cid)
        return True

    async def pin_ls(self) -> frozenset[Cid]:
        """The CIDs pinned recursively on the daemon (pins that are not CIDv1 are left out)."""
        params = {"type": "recursive", "cid-base": "base32"}
        keys = _json("pin/ls", await self._post("pin/ls", params)).get("Keys", {})
        if not isinstance(keys, dict):
            raise StoreProtocolError(f"pin/ls: the daemon answered Keys={keys!r}")
        pins: set[Cid] = set()
        for key in keys:
            try:
                pins.add(validate_cid(key))
            except InvalidCidError:
                log.debug("pin_ls: leaving out %s", key)
        return frozenset(pins)


class _LoopThread:
    """An event loop running in its own daemon thread, for synchronous callers."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the loop and wait for its result (from any thread but the loop's)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def stop(self) -> None:
        """Stop the loop and its thread; idempotent."""
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()


class IpfsStore(ContentStore):
    """A :class:`ContentStore` on an IPFS daemon, through :class:`IpfsClient`.

    Synchronous, like every store: the client runs on a private event loop in a background
    thread, so the store may be used from any thread, including one that runs an event loop of
    its own (that loop blocks while the store works). Call :meth:`close` (or use ``with``) when
    done.

    Parameters
    ----------
    api_url : str, default DEFAULT_API_URL
        Base URL of the daemon's RPC API.
    retry : RetryPolicy or None, default None
        Tries and backoff (``RetryPolicy()`` when ``None``).
    timeout : float, default 60.0
        Seconds a request may wait for the daemon.
    lookup_timeout : float, default 5.0
        Seconds the daemon may look for a CID before the answer is "not found".
    local_only : bool, default True
        Answer from the daemon's own blocks only, never from the network.
    pin_on_put : bool, default False
        Pin every object as it is put (a daemon that collects garbage then keeps them all).
    transport : httpx.AsyncBaseTransport or None, default None
        A transport to use instead of the network (tests).
    tls : TlsConfig or None, default None
        Certificates for an ``https://`` URL; ``None`` reads ``FEDMARKET_TLS_*``.
    """

    name = "ipfs"

    def __init__(
        self,
        api_url: str = DEFAULT_API_URL,
        *,
        retry: RetryPolicy | None = None,
        timeout: float = 60.0,
        lookup_timeout: float = 5.0,
        local_only: bool = True,
        pin_on_put: bool = False,
        transport: httpx.AsyncBaseTransport | None = None,
        tls: TlsConfig | None = None,
    ) -> None:
        self.pin_on_put = pin_on_put
        self._runner = _LoopThread(f"ipfs-store-{api_url}")
        self._finalizer = weakref.finalize(self, self._runner.stop)
        self.client = self._runner.run(
            self._open(api_url, retry, timeout, lookup_timeout, local_only, transport, tls)
        )

    @staticmethod
    async def _open(
        api_url: str,
        retry: RetryPolicy | None,
        timeout: float,
        lookup_timeout: float,
        local_only: bool,
        transport: httpx.AsyncBaseTransport | None,
        tls: TlsConfig | None,
    ) -> IpfsClient:
        """Make the client on the store's own loop, where it will be used."""
        return IpfsClient(
            api_url,
            retry=retry,
            timeout=timeout,
            lookup_timeout=lookup_timeout,
            local_only=local_only,
            transport=transport,
            tls=tls,
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections and stop the background loop; idempotent."""
        if self._finalizer.alive:
            self._runner.run(self.client.aclose())
            self._finalizer()

    def version(self) -> str:
        """The daemon's version (raises StoreUnavailableError when it cannot be reached)."""
        return self._runner.run(self.client.version())

    def put(self, data: bytes) -> Cid:
        """Add ``data`` to the daemon and return its CID (checked against the local CID).

        Parameters
        ----------
        data : bytes
            The object's bytes.
        """
        return self._runner.run(self.client.add(data, pin=self.pin_on_put))

    def has(self, cid: Cid) -> bool:
        """Whether the daemon holds ``cid`` (its root block).

        Parameters
        ----------
        cid : Cid
            A validated CID.
        """
        return self._runner.run(self.client.has(cid))

    def stat(self, cid: str) -> ObjectStat:
        """The daemon's size information for ``cid``.

        Parameters
        ----------
        cid : str
            The object's CID.
        """
        return self._runner.run(self.client.stat(validate_cid(cid)))

    def _read(self, cid: Cid, max_bytes: int) -> bytes:
        # unverified here: ContentStore.get re-hashes unless its caller asked it not to
        return self._runner.run(self.client.cat(cid, max_bytes=max_bytes, verify=False))

    def _pin(self, cid: Cid) -> None:
        self._runner.run(self.client.pin_add(cid))

    def _unpin(self, cid: Cid) -> bool:
        return self._runner.run(self.client.pin_rm(cid))

    def pinned(self) -> frozenset[Cid]:
        """The CIDs pinned recursively on the daemon (CIDv1 only)."""
        return self._runner.run(self.client.pin_ls())


__all__ = ["ADD_PARAMS", "DEFAULT_API_URL", "IpfsClient", "IpfsStore", "ObjectStat", "RetryPolicy"]
