"""Decoding the logs of the deployment's contracts into JSON-ready events.

Logs are decoded here with ``eth_abi`` from the contracts' ABIs (one lookup by address and first
topic), not with web3's ``process_log``: a string that is not UTF-8 (anyone can list such a CID
on-chain) would make web3 refuse the whole log, and the indexer must mirror every event. Strings
are decoded from their bytes with invalid sequences replaced; everything else is exact: integers
as Python ints (JSON keeps them whole), addresses checksummed, ``bytes`` and ``bytesN`` as ``0x``
hex, arrays as lists.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_abi.exceptions import DecodingError
from eth_utils.abi import event_abi_to_log_topic
from eth_utils.address import to_checksum_address

from chain import Deployment, load_artifact
from marketplace_api.indexer.errors import UndecodableLogError

CONTRACTS: dict[str, str] = {
    "registry": "DatasetRegistry",
    "market": "ModelMarket",
    "fed_task": "FedTask",
    "court": "ChallengeCourt",
}
"""The contracts whose events are indexed, by the name the index gives them -> artifact name."""


@dataclass(frozen=True)
class DecodedEvent:
    """One event as the index stores it.

    Attributes
    ----------
    contract : str
        ``registry``, ``market``, ``fed_task`` or ``court``.
    name : str
        The event's name in the ABI.
    block : int
        The block number.
    block_hash : str
        The block's hash, ``0x`` hex.
    tx_hash : str
        The transaction's hash, ``0x`` hex.
    log_index : int
        The log's index in its block.
    args : dict
        The arguments by ABI name, JSON-ready.
    """

    contract: str
    name: str
    block: int
    block_hash: str
    tx_hash: str
    log_index: int
    args: dict[str, Any]


@dataclass(frozen=True)
class _EventAbi:
    contract: str
    name: str
    indexed: tuple[tuple[str, str], ...]
    data: tuple[tuple[str, str], ...]


def _hex(value: Any) -> str:
    if isinstance(value, str):
        return value if value.startswith("0x") else "0x" + value
    return "0x" + bytes(value).hex()


def _lenient(abi_type: str) -> str:
    """The type decoded in place of ``abi_type``: strings as bytes (same encoding)."""
    return abi_type.replace("string", "bytes") if abi_type.startswith("string") else abi_type


def _jsonable(abi_type: str, value: Any) -> Any:
    """A decoded value in its stored form (see the module docstring)."""
    if abi_type.endswith("]"):
        inner = abi_type[: abi_type.rindex("[")]
        return [_jsonable(inner, v) for v in value]
    if abi_type == "address":
        return str(to_checksum_address(value))
    if abi_type == "string":
        raw = value if isinstance(value, bytes | bytearray) else str(value).encode()
        return bytes(raw).decode("utf-8", errors="replace")
    if abi_type.startswith("bytes"):
        return _hex(value)
    if abi_type == "bool":
        return bool(value)
    return int(value)


class EventDecoder:
    """Decodes the logs of one deployment's registry, market, FedTask and court.

    Parameters
    ----------
    deployment : Deployment
        The contracts' addresses.
    """

    def __init__(self, deployment: Deployment) -> None:
        self.addresses: dict[str, str] = {
            getattr(deployment, key).lower(): key for key in CONTRACTS
        }
        self._events: dict[tuple[str, bytes], _EventAbi] = {}
        for key, artifact in CONTRACTS.items():
            address = getattr(deployment, key).lower()
            for item in load_artifact(artifact).abi:
                if item.get("type") != "event" or item.get("anonymous"):
                    continue
                inputs = item.get("inputs", [])
                spec = _EventAbi(
                    contract=key,
                    name=str(item["name"]),
                    indexed=tuple((i["name"], i["type"]) for i in inputs if i.get("indexed")),
                    data=tuple((i["name"], i["type"]) for i in inputs if not i.get("indexed")),
                )
                topic = event_abi_to_log_topic(item)  # type: ignore[arg-type]
                self._events[(address, bytes(topic))] = spec

    @property
    def watched(self) -> list[str]:
        """The contract addresses whose logs are asked for (checksummed)."""
        return [str(to_checksum_address(a)) for a in self.addresses]

    def decode(self, log: Mapping[str, Any]) -> DecodedEvent | None:
        """The event of one raw log (``eth_getLogs``), or ``None`` for a log of no known event.

        Parameters
        ----------
        log : mapping
            A log as the node returns it (``address``, ``topics``, ``data``, ``blockNumber``,
            ``blockHash``, ``transactionHash``, ``logIndex``).

        Raises
        ------
        UndecodableLogError
            When the log's data or topics do not fit its event's ABI.
        """
        topics: Sequence[Any] = log.get("topics") or []
        if not topics:
            return None
        spec = self._events.get((str(log["address"]).lower(), bytes(topics[0])))
        if spec is None:
            return None
        return DecodedEvent(
            contract=spec.contract,
            name=spec.name,
            block=int(log["blockNumber"]),
            block_hash=_hex(log["blockHash"]),
            tx_hash=_hex(log["transactionHash"]),
            log_index=int(log["logIndex"]),
            args=self._args(spec, topics, bytes(log["data"])),
        )

    def _args(self, spec: _EventAbi, topics: Sequence[Any], data: bytes) -> dict[str, Any]:
        if len(topics) != len(spec.indexed) + 1:
            raise UndecodableLogError(f"decode: {spec.name} has {len(topics) - 1} indexed topics")
        args: dict[str, Any] = {}
        for (name, abi_type), topic in zip(spec.indexed, topics[1:], strict=True):
            if abi_type in ("string", "bytes") or abi_type.endswith("]"):
                args[name] = _hex(topic)  # a dynamic indexed value is only its hash
                continue
            args[name] = _jsonable(abi_type, self._decode([abi_type], bytes(topic))[0])
        types = [t for _, t in spec.data]
        values = self._decode([_lenient(t) for t in types], data)
        for (name, abi_type), value in zip(spec.data, values, strict=True):
            args[name] = _jsonable(abi_type, value)
        return args

    @staticmethod
    def _decode(types: list[str], data: bytes) -> tuple[Any, ...]:
        try:
            return tuple(abi_decode(types, data))
        except (DecodingError, ValueError, OverflowError) as exc:
            raise UndecodableLogError(f"decode: {types} do not fit the log: {exc}") from None


__all__ = ["CONTRACTS", "DecodedEvent", "EventDecoder"]
