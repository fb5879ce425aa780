"""Base of the typed contract wrappers."""

from __future__ import annotations

from typing import Any, Self

from web3.contract import Contract

from chain._cache import matches, read_cache
from chain.artifacts import load_artifact
from chain.backends import ChainBackend
from chain.errors import ChainError
from chain.signer import Signer, TxResult, call_view


class ContractClient:
    """A contract at an address, read through a backend and written by one signer.

    Parameters
    ----------
    backend : ChainBackend
        Where to read and send.
    address : str
        The contract's address.
    signer : Signer or None, default None
        Who sends transactions; ``None`` makes a read-only client.
    from_block : int, default 0
        First block event scans look at (the deployment block).
    """

    artifact_name: str = ""

    def __init__(
        self,
        backend: ChainBackend,
        address: str,
        signer: Signer | None = None,
        *,
        from_block: int = 0,
    ) -> None:
        self.backend = backend
        self.address = backend.w3.to_checksum_address(address)
        self.signer = signer
        self.from_block = from_block
        self.contract: Contract = backend.w3.eth.contract(
            address=self.address, abi=load_artifact(self.artifact_name).abi
        )

    def as_signer(self, signer: Signer) -> Self:
        """The same client, sending as ``signer``."""
        return type(self)(self.backend, self.address, signer, from_block=self.from_block)

    def _send(self, fn: Any, label: str | None = None) -> TxResult:
        if self.signer is None:
            raise ChainError(f"{type(self).__name__}: read-only client cannot send transactions")
        return self.signer.transact(fn, label=label)

    def _call(self, fn: Any) -> Any:
        """A view's answer, from the backend's per-head cache when it has one."""
        cache = read_cache(self.backend)
        if cache is None:
            return call_view(fn)
        # keyed by signature and arguments as given: encoding them costs 4x a cache hit (a
        # differently spelt equal argument only misses)
        key = f"{fn.signature}{fn.args!r}{fn.kwargs!r}"
        return cache.view((self.address, key), lambda block: call_view(fn, block))

    def _rescan(self, event: str) -> None:
        """Scan ``event``'s logs again from the deployment block at the next read."""
        cache = read_cache(self.backend)
        if cache is not None:
            cache.rescan((self.address, event, self.from_block))

    def _logs(self, event: str, *, from_block: int | None = None, **filters: Any) -> list[Any]:
        """Logs of ``event`` filtered on indexed arguments, oldest first.

        Scans from ``from_block`` (never before :attr:`from_block`, the deployment block). With
        the backend's read cache, every log of the event since the deployment block is kept and
        only new blocks are scanned; the filters are applied to the kept logs.
        """
        ev = getattr(self.contract.events, event)
        start = self.from_block if from_block is None else max(from_block, self.from_block)
        cache = read_cache(self.backend)
        if cache is None:
            logs: list[Any] = ev.get_logs(from_block=start, argument_filters=filters or None)
            return sorted(logs, key=lambda e: (e["blockNumber"], e["logIndex"]))

        def fetch(first: int, last: int) -> list[Any]:
            found: list[Any] = ev.get_logs(from_block=first, to_block=last)
            return found

        every = cache.logs((self.address, event, self.from_block), fetch)
        return [e for e in every if e["blockNumber"] >= start and matches(e["args"], filters)]
