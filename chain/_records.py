"""Typed records of contract events and structs, filled by field name from what web3 decodes.

An event record is a frozen dataclass named after its event with an ``Event`` suffix
(``TaskJoinedEvent`` records ``TaskJoined``; a class attribute ``event_name`` overrides it) whose
fields are the event's arguments in ``snake_case`` (``taskId`` -> ``task_id``), then
``meta: EventMeta`` (where it was emitted), as every client of this package shapes them. A struct
record lists the struct's members in ABI order. Values are normalised on the way in: bytes-like
values become plain ``bytes``, arrays become tuples, and a field annotated with an ``IntEnum`` gets
the enum member.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import fields
from enum import IntEnum
from typing import Any, TypeVar, get_type_hints

from chain._access import PausableClient, event_meta
from chain.signer import TxResult

R = TypeVar("R")

_HINTS: dict[type[Any], dict[str, Any]] = {}


def event_name(kind: type[Any]) -> str:
    """The ABI name of the event that the record class ``kind`` holds.

    Parameters
    ----------
    kind : type
        An event record class.
    """
    explicit = getattr(kind, "event_name", None)
    return str(explicit) if explicit else kind.__name__.removesuffix("Event")


def camel(name: str) -> str:
    """``task_id`` -> ``taskId``: the ABI name of a record field.

    Parameters
    ----------
    name : str
        A ``snake_case`` name.
    """
    return re.sub(r"_([a-z])", lambda m: m.group(1).upper(), name)


def _hints(kind: type[Any]) -> dict[str, Any]:
    """``kind``'s resolved field annotations (cached: records are read by the hundred)."""
    found = _HINTS.get(kind)
    if found is None:
        found = _HINTS[kind] = get_type_hints(kind)
    return found


def _convert(value: Any, hint: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, list | tuple):
        return tuple(_convert(v, None) for v in value)
    if isinstance(hint, type) and issubclass(hint, IntEnum):
        return hint(int(value))
    return value


def from_log(kind: type[R], log: Mapping[str, Any]) -> R:
    """The record of one decoded log (``event.get_logs`` or ``process_receipt``).

    Parameters
    ----------
    kind : type
        The event record class (a dataclass whose last field is ``meta``).
    log : mapping
        web3's decoded log (``args``, ``blockNumber``, ``transactionHash``, ``logIndex``).
    """
    hints = _hints(kind)
    args = log["args"]
    values = {
        f.name: _convert(args[camel(f.name)], hints.get(f.name))
        for f in fields(kind)  # type: ignore[arg-type]
        if f.name != "meta"
    }
    values["meta"] = event_meta(log)
    return kind(**values)


def from_struct(kind: type[R], raw: Sequence[Any], **known: Any) -> R:
    """The record of a struct returned by a view, its members taken in ABI order.

    Parameters
    ----------
    kind : type
        A dataclass whose fields, after those given in ``known``, are the struct's members.
    raw : sequence
        The struct as web3 decodes it (a tuple).
    **known : Any
        Fields that are not in the struct (e.g. the ``task_id`` it was read for).
    """
    hints = _hints(kind)
    members = [f.name for f in fields(kind) if f.name not in known]  # type: ignore[arg-type]
    values = {name: _convert(v, hints.get(name)) for name, v in zip(members, raw, strict=True)}
    return kind(**known, **values)


class RecordsClient(PausableClient):
    """A pausable AccessControl client whose events are read into typed records."""

    def events(self, kind: type[R], *, from_block: int | None = None, **filters: Any) -> list[R]:
        """Every event of record class ``kind`` since the deployment block, oldest first.

        Parameters
        ----------
        kind : type
            The event record class (e.g. ``TaskJoinedEvent``).
        from_block : int or None, default None
            Scan from this block instead (never before the deployment block).
        **filters : Any
            Values of indexed arguments by ``snake_case`` name (``task_id=3``); ``None`` values
            are ignored.
        """
        wanted = {camel(k): v for k, v in filters.items() if v is not None}
        logs = self._logs(event_name(kind), from_block=from_block, **wanted)
        return [from_log(kind, e) for e in logs]

    def rescan(self, kind: type[R]) -> None:
        """Read every event of record class ``kind`` from the chain again at the next read.

        Parameters
        ----------
        kind : type
            The event record class whose kept logs are dropped.
        """
        self._rescan(event_name(kind))

    def events_in(self, result: TxResult, kind: type[R]) -> list[R]:
        """The events of record class ``kind`` that this contract emitted in one transaction.

        Parameters
        ----------
        result : TxResult
            The mined transaction.
        kind : type
            The event record class.
        """
        return [from_log(kind, e) for e in self._emitted(result, event_name(kind))]
