"""Chain backends: where transactions go. The same client code runs over each.

- :class:`InProcessBackend`: an Ethereum chain inside this process (eth-tester on py-evm). The
  embedded default: nothing to install or start, state lost at exit.
- :class:`RpcBackend`: any JSON-RPC endpoint (anvil or a Hardhat node on 127.0.0.1, a testnet,
  an L2), over ``https://`` with the certificates of :class:`kernel.tls.TlsConfig` (CA and client
  certificate, from ``FEDMARKET_TLS_*`` unless given); plain ``http://`` to another machine works
  but logs that the channel is unencrypted.

Both are wrapped in a :class:`web3.Web3`; the in-process provider is made to answer reverts
exactly as a JSON-RPC node does (error code 3 with the revert data), so one error path serves
both.

Protocol v2 runs on deadlines, so a backend also tells the time: :meth:`ChainBackend.chain_time`
is the timestamp the next block will have at least, :meth:`ChainBackend.travel_to` moves the
clock of a chain that allows it (the in-process chain, anvil and the Hardhat node) and
:meth:`ChainBackend.wait_until` travels or waits until a deadline is reached.
"""

from __future__ import annotations

import ast
import logging
import threading
import time
from abc import ABC, abstractmethod
from typing import Any

import requests
from eth_abi.abi import encode as abi_encode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import HTTPProvider, Web3
from web3.exceptions import BlockNotFound
from web3.providers.eth_tester import EthereumTesterProvider
from web3.types import RPCEndpoint, RPCResponse

from chain._cache import chain_moved
from chain.errors import ChainConnectionError, ChainTimeoutError, TimeTravelError
from kernel.tls import TlsConfig, tls_failure, warn_if_unencrypted

log = logging.getLogger(__name__)

DEV_CHAIN_ID = 31337
"""Chain id of anvil and the Hardhat node."""

# The first account of the well-known development mnemonic ("test test ... junk") that anvil and
# Hardhat fund at start. Public knowledge, worthless outside a local dev chain, and only ever used
# when the endpoint reports chain id 31337.
_DEV_FAUCET_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"

_ERROR_SELECTOR = bytes.fromhex("08c379a0")


class ChainBackend(ABC):
    """A connection to one chain, shared by every party of this process.

    Attributes
    ----------
    w3 : Web3
        The web3 instance; use it for reads. Writes go through :meth:`signer`.
    name : str
        ``"in-process"`` or ``"json-rpc"``.
    """

    name: str
    w3: Web3
    fixed_gas_limit: int | None = None
    """When set, transactions are simulated once with ``eth_call`` and sent with this gas limit
    instead of being estimated: py-evm's estimate is a binary search of about a dozen executions,
    which dominates the in-process chain's cost. Gas *used* is unaffected."""
    cache_reads: bool = True
    """Serve view calls and event scans from a cache kept per chain head (:mod:`chain._cache`);
    ``False`` reads the chain every time."""

    @property
    def chain_id(self) -> int:
        """The chain id the node reports."""
        return int(self.w3.eth.chain_id)

    @abstractmethod
    def faucet_account(self) -> LocalAccount | None:
        """An account funded with ether for gas, where the chain has one (dev chains)."""

    @abstractmethod
    def describe(self) -> str:
        """A one-line description for logs and summaries (no secrets)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the connection (nothing to do for most backends)."""

    def latest_timestamp(self) -> int:
        """Timestamp of the latest mined block."""
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def head(self) -> tuple[int, bytes]:
        """Number and hash of the latest mined block."""
        block = self.w3.eth.get_block("latest")
        return int(block["number"]), bytes(block["hash"])

    def block_hash(self, number: int) -> bytes | None:
        """Hash of the block ``number`` on the chain now, or ``None`` past the head.

        Parameters
        ----------
        number : int
            The block.
        """
        try:
            return bytes(self.w3.eth.get_block(number)["hash"])
        except BlockNotFound:
            return None

    @abstractmethod
    def chain_time(self) -> int:
        """The timestamp the next block will have at least (seconds since the epoch).

        A deadline ``D`` of the contracts is met by a transaction sent while
        ``chain_time() < D`` (roughly: the node picks the block's time), and an action allowed
        "not before ``T``" succeeds once ``chain_time() >= T``.
        """

    @property
    @abstractmethod
    def can_travel(self) -> bool:
        """Whether :meth:`travel_to` may move this chain's clock (dev chains only)."""

    @abstractmethod
    def travel_to(self, timestamp: int) -> None:
        """Move the chain's clock so that :meth:`chain_time` is at least ``timestamp``.

        Mines a block at ``timestamp``; a time already reached is left alone (time never goes
        back).

        Parameters
        ----------
        timestamp : int
            Seconds since the epoch.

        Raises
        ------
        TimeTravelError
            The chain's clock cannot be moved (not a dev chain): wait instead.
        """

    def wait_until(
        self,
        timestamp: int,
        *,
        travel: bool = False,
        poll: float = 1.0,
        timeout: float | None = None,
    ) -> int:
        """Return once :meth:`chain_time` reaches ``timestamp``: travel there, or wait.

        Parameters
        ----------
        timestamp : int
            Seconds since the epoch, e.g. a round's ``reveal_deadline``.
        travel : bool, default False
            Travel there at once when the chain allows it (:attr:`can_travel`); otherwise (or
            when ``False``) sleep until the chain's time gets there.
        poll : float, default 1.0
            Seconds between two looks at the chain's time while waiting.
        timeout : float or None, default None
            Give up after this many seconds of waiting; ``None`` waits as long as it takes.

        Returns
        -------
        int
            The chain time reached.

        Raises
        ------
        ChainTimeoutError
            ``timeout`` passed first.
        """
        if travel and self.can_travel:
            self.travel_to(timestamp)
            chain_moved(self)
            return self.chain_time()
        started = time.monotonic()
        now = self.chain_time()
        while now < timestamp:
            waited = time.monotonic() - started
            if timeout is not None and waited >= timeout:
                raise ChainTimeoutError(
                    f"wait_until: chain time {now} still before {timestamp} after {waited:.1f}s"
                )
            time.sleep(max(0.0, min(poll, timestamp - now)))
            self._tick()
            chain_moved(self)
            now = self.chain_time()
        while self._lags(timestamp):  # calls run on the latest block: it must show the time too
            time.sleep(0.2)
            self._tick()
            chain_moved(self)
        return now

    def _tick(self) -> None:  # noqa: B027 - optional hook
        """Let the chain's clock move while :meth:`wait_until` sleeps (nothing to do for most)."""

    def _lags(self, timestamp: int) -> bool:
        """Whether a chain that mines on demand has no block at ``timestamp`` or later yet.

        :meth:`chain_time` may pass a deadline by this machine's clock a moment before the last
        mined block does; a call simulated on that block would still see the chain before the
        deadline (``TaskTooEarly``). Chains that mine on their own never lag this way.
        """
        return False


class _InProcessProvider(EthereumTesterProvider):
    """eth-tester provider that is thread-safe and answers reverts like a JSON-RPC node.

    eth-tester raises ``TransactionFailed`` with the revert data rendered into its message; web3's
    JSON-RPC path instead receives ``{"code": 3, "data": "0x..."}`` and raises
    ``ContractLogicError`` with the raw data. Converting here lets one error path serve both.
    """

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.RLock()
        self._chain_id: RPCResponse | None = None

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        from eth_tester.exceptions import TransactionFailed

        if method == "eth_chainId" and self._chain_id is not None:
            return self._chain_id  # web3 asks before every call and transaction
        with self._lock:
            if method == "eth_chainId":
                self._chain_id = super().make_request(method, params)
                return self._chain_id
            try:
                return super().make_request(method, params)
            except TransactionFailed as exc:
                data = _revert_data_from_message(str(exc.args[0]) if exc.args else "")
                return {
                    "jsonrpc": "2.0",
                    "id": 0,
                    "error": {
                        "code": 3,
                        "message": "execution reverted",
                        "data": "0x" + data.hex(),
                    },
                }


def _revert_data_from_message(message: str) -> bytes:
    """Recover revert data from eth-tester's ``execution reverted: <reason or bytes repr>``."""
    reason = message.removeprefix("execution reverted: ").removeprefix("execution reverted")
    if reason.startswith(("b'", 'b"')):
        try:
            value = ast.literal_eval(reason)
        except (ValueError, SyntaxError):
            value = None
        if isinstance(value, bytes):
            return value
    if not reason:
        return b""
    return _ERROR_SELECTOR + abi_encode(["string"], [reason])


def _cache_receipts(backend: Any) -> None:
    """Memoise py-evm's receipt lookup on ``backend`` (an eth-tester ``PyEVMBackend``).

    eth-tester answers ``eth_getLogs`` by rebuilding the receipt of every transaction in the
    block range, each a full block decode in py-evm; event scans over a few hundred blocks took
    about a second each. Receipts of mined transactions never change here (this chain never
    reverts to snapshots), so each is built once. Lookups that fail (not mined yet) are not cached.
    """
    original = backend.get_transaction_receipt
    cache: dict[bytes, Any] = {}
    lock = threading.Lock()

    def cached(transaction_hash: bytes) -> Any:
        with lock:
            found = cache.get(transaction_hash)
        if found is None:
            found = original(transaction_hash)
            with lock:
                cache[transaction_hash] = found
        return found

    backend.get_transaction_receipt = cached


class InProcessBackend(ChainBackend):
    """A fresh chain inside this process (eth-tester + py-evm), the embedded default.

    Thread-safe: the marketplace API may serve from another thread of the same process.
    """

    name = "in-process"
    fixed_gas_limit = 8_000_000

    def __init__(self) -> None:
        provider = _InProcessProvider()
        self.w3 = Web3(provider)
        tester = provider.ethereum_tester
        assert tester is not None
        self._tester: Any = tester
        self._lock = provider._lock
        keys = tester.backend.account_keys  # funded genesis accounts
        self._faucet: LocalAccount = Account.from_key(keys[0].to_bytes())
        # a call without a sender is made from the first account, as eth-tester would pick it
        # (it asks eth_accounts twice per call to do so)
        self.w3.eth.default_account = self._faucet.address
        _cache_receipts(tester.backend)

    @property
    def _chain(self) -> Any:
        """py-evm's chain (eth-tester replaces it when it resets to a snapshot)."""
        return self._tester.backend.chain

    def faucet_account(self) -> LocalAccount:
        """The first genesis account of the in-process chain."""
        return self._faucet

    def chain_time(self) -> int:
        """The latest block's timestamp (the next block's is later)."""
        return self.latest_timestamp()

    def latest_timestamp(self) -> int:
        """Timestamp of the latest mined block, read from py-evm without a JSON-RPC round trip."""
        with self._lock:
            return int(self._chain.get_canonical_head().timestamp)

    def head(self) -> tuple[int, bytes]:
        """Number and hash of the latest mined block, read from py-evm directly."""
        with self._lock:
            header = self._chain.get_canonical_head()
            return int(header.block_number), bytes(header.hash)

    def block_hash(self, number: int) -> bytes | None:
        """Hash of the canonical block ``number``, or ``None`` past the head."""
        from eth.exceptions import HeaderNotFound

        with self._lock:
            try:
                return bytes(self._chain.get_canonical_block_header_by_number(number).hash)
            except HeaderNotFound:
                return None

    @property
    def can_travel(self) -> bool:
        """Always: the chain lives in this process."""
        return True

    def travel_to(self, timestamp: int) -> None:
        """Mine a block at ``timestamp`` with eth-tester's time travel (no-op if reached).

        When the pending block is already stamped at or after ``timestamp`` (its stamp is taken
        when the block before it is mined), mining it is enough.
        """
        if timestamp <= self.chain_time():
            return
        pending = int(self.w3.eth.get_block("pending")["timestamp"])
        if pending >= timestamp:
            self._tester.mine_blocks()
        else:  # eth-tester mines the travel block one second before the time it is given
            self._tester.time_travel(timestamp + 1)
        chain_moved(self)
        log.debug("travel_to: in-process chain at %d", timestamp)

    def _tick(self) -> None:
        """Mine an empty block: this chain mines only on demand, so its clock would stand still."""
        self._tester.mine_blocks()

    def describe(self) -> str:
        """``in-process py-evm (chain <id>)``."""
        return f"in-process py-evm (chain {self.chain_id})"


class _RpcProvider(HTTPProvider):
    """web3's HTTP provider that asks the node for its chain id once.

    web3 validates every call and transaction against ``eth_chainId``: one more round trip each,
    for an answer that never changes on a connection.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._chain_id: RPCResponse | None = None

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        if method != "eth_chainId":
            return self._send(method, params)
        if self._chain_id is None:
            answer = self._send(method, params)
            if "error" in answer:
                return answer
            self._chain_id = answer
        return self._chain_id

    def _send(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        """One request; a node that cannot be reached is :class:`ChainConnectionError`.

        A node restarted, a link cut or a request timed out: the caller may try again later
        (long-running parties ride the outage out, :mod:`kernel.retry`).
        """
        try:
            return super().make_request(method, params)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise ChainConnectionError(
                f"lost the chain node at {self.endpoint_uri} ({_unreachable(exc)}) during {method}"
            ) from exc


def _unreachable(exc: BaseException) -> str:
    """Why a node could not be reached, in a few words (TLS failures named)."""
    cause = exc.__cause__ if isinstance(exc, ChainConnectionError) and exc.__cause__ else exc
    if "refused" in str(cause).lower():
        return "connection refused"
    return tls_failure(cause) or type(cause).__name__


class RpcBackend(ChainBackend):
    """A JSON-RPC endpoint.

    Parameters
    ----------
    url : str
        ``http://`` or ``https://`` URL of the node.
    faucet_key : str or None, default None
        Hex private key of an account funded for gas. On a dev chain (chain id 31337) the
        well-known first dev account is used when none is given.
    timeout : float, default 30.0
        Seconds per JSON-RPC request.
    tls : TlsConfig or None, default None
        Certificates for an ``https://`` URL: the CA that signed the node's certificate (the
        system's trust store when absent) and a client certificate, if the node requires one.
        ``None`` reads ``FEDMARKET_TLS_*`` (:meth:`~kernel.tls.TlsConfig.from_env`). Unused over
        ``http://``.

    Raises
    ------
    ChainConnectionError
        When the node cannot be reached, TLS failures included (named in the message).
    ConfigurationError
        When a configured certificate file is missing or not valid PEM.
    """

    name = "json-rpc"

    def __init__(
        self,
        url: str,
        *,
        faucet_key: str | None = None,
        timeout: float = 30.0,
        tls: TlsConfig | None = None,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ChainConnectionError(f"RpcBackend: not an http(s) URL: {url!r}")
        self.url = url
        kwargs = _request_kwargs(url, timeout, tls)
        self.w3 = Web3(_RpcProvider(url, request_kwargs=kwargs))
        try:
            chain_id = int(self.w3.eth.chain_id)
        except Exception as exc:  # connection refused, DNS, TLS...: one readable error
            reason = _unreachable(exc)
            raise ChainConnectionError(f"cannot reach the chain node at {url} ({reason})") from exc
        self._chain_id = chain_id
        if faucet_key is None and chain_id == DEV_CHAIN_ID:
            faucet_key = _DEV_FAUCET_KEY
        self._faucet = Account.from_key(faucet_key) if faucet_key else None

    @property
    def chain_id(self) -> int:
        """The chain id read at connection time."""
        return self._chain_id

    def faucet_account(self) -> LocalAccount | None:
        """The configured (or dev-chain) gas faucet, if any."""
        return self._faucet

    def _latest(self) -> dict[str, Any]:
        """The latest block's header fields as the node sends them (hex strings, no formatting)."""
        result = self._block("latest")
        if result is None:
            raise ChainConnectionError(f"{self.describe()}: no latest block")
        return result

    def _block(self, tag: str) -> dict[str, Any] | None:
        """The header fields of block ``tag`` as the node sends them, or ``None`` if it has none."""
        response = self.w3.provider.make_request(RPCEndpoint("eth_getBlockByNumber"), [tag, False])
        result = response.get("result")
        return result if isinstance(result, dict) else None

    def latest_timestamp(self) -> int:
        """Timestamp of the latest mined block, from one raw request.

        web3's block formatting costs more than anvil's answer.
        """
        return int(self._latest()["timestamp"], 16)

    def head(self) -> tuple[int, bytes]:
        """Number and hash of the latest mined block (one raw request)."""
        latest = self._latest()
        return int(latest["number"], 16), bytes.fromhex(str(latest["hash"])[2:])

    def chain_time(self) -> int:
        """The time by the node's own clock: the stamp of the block it would mine next.

        The node's pending block carries it (anvil and the Hardhat node stamp it with their
        clock, a travelled one included; a live node with the present). This machine's clock is
        never read: a host whose clock runs ahead of the node's would otherwise believe a
        deadline passed and skip a round it could still make. A node without a pending block
        answers with its latest block's stamp, which is late by at most one block interval.
        """
        pending = self._block("pending")
        if pending is None or "timestamp" not in pending:
            return self.latest_timestamp()
        return int(pending["timestamp"], 16)

    @property
    def can_travel(self) -> bool:
        """On dev chains only (chain id 31337: anvil, the Hardhat node)."""
        return self._chain_id == DEV_CHAIN_ID

    def travel_to(self, timestamp: int) -> None:
        """Mine a block at ``timestamp`` (``evm_setNextBlockTimestamp`` + ``evm_mine``).

        Anvil and the Hardhat node both implement these methods; a time already reached is left
        alone.
        """
        if not self.can_travel:
            raise TimeTravelError(
                f"travel_to: {self.describe()} is not a dev chain: its clock cannot be moved"
            )
        if timestamp <= self.chain_time():
            return
        self._rpc("evm_setNextBlockTimestamp", [timestamp])
        self._rpc("evm_mine", [])
        chain_moved(self)
        log.debug("travel_to: %s at %d", self.url, timestamp)

    def _lags(self, timestamp: int) -> bool:
        """On a dev chain (it mines on demand): whether its latest block is before ``timestamp``."""
        return self.can_travel and self.latest_timestamp() < timestamp

    def _tick(self) -> None:
        """On a dev chain, mine an empty block (it mines only on demand).

        After a travel its clock runs ahead of this machine's, so only a new block shows that its
        time moves on.
        """
        if self.can_travel:
            self._rpc("evm_mine", [])

    def _rpc(self, method: str, params: list[Any]) -> Any:
        """Send a raw JSON-RPC request; an error answer becomes :class:`TimeTravelError`."""
        response = self.w3.provider.make_request(RPCEndpoint(method), params)
        error = response.get("error")
        if error:
            message = error.get("message", error) if isinstance(error, dict) else error
            raise TimeTravelError(f"{method}: {self.describe()} refused: {message}")
        return response.get("result")

    def describe(self) -> str:
        """``json-rpc <url> (chain <id>)``."""
        return f"json-rpc {self.url} (chain {self._chain_id})"


def _request_kwargs(url: str, timeout: float, tls: TlsConfig | None) -> dict[str, Any]:
    """The ``requests`` arguments of every JSON-RPC call: timeout, and over https the certificates.

    ``tls=None`` reads ``FEDMARKET_TLS_*`` (over https only). The context is built once here so
    that a missing or malformed file is a :class:`~kernel.errors.ConfigurationError` now, not a
    connection error later.
    """
    kwargs: dict[str, Any] = {"timeout": timeout}
    if not url.startswith("https://"):
        warn_if_unencrypted("chain RPC", url)
        return kwargs
    tls = TlsConfig.from_env() if tls is None else tls
    tls.client_context()
    if tls.ca_file is not None:
        kwargs["verify"] = str(tls.ca_file)
    if tls.cert_file is not None and tls.key_file is not None:
        kwargs["cert"] = (str(tls.cert_file), str(tls.key_file))
    return kwargs


def connect(url: str | None = None, *, faucet_key: str | None = None) -> ChainBackend:
    """Open the backend named by ``url``.

    Parameters
    ----------
    url : str or None, default None
        ``None``, ``""`` or ``"inprocess"`` for a fresh in-process chain; otherwise a JSON-RPC URL.
    faucet_key : str or None, default None
        See :class:`RpcBackend`.
    """
    if not url or url == "inprocess":
        return InProcessBackend()
    return RpcBackend(url, faucet_key=faucet_key)
