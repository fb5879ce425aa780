"""Frames on a channel: a 12-byte header, then the payload.

The header is ``magic "FMVC" | version u8 | flags u8 | type u16 | payload length u32``
(big-endian). Unknown versions, flags or types and payloads above the channel's
``max_frame`` are refused before the payload is read; the typed decoding of payloads happens
one layer up (:mod:`fl_node.vertical.transport.messages`).

Type ``0xFFFF`` is reserved for the heartbeat, a header with an empty payload
(:data:`HEARTBEAT_FRAME`) that a party sends on each channel every quarter of the liveness
timeout, busy or not; the channel consumes it and never hands it to the protocol.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping

from fl_node.vertical.transport._errors import ChannelProtocolError

MAGIC = b"FMVC"
VERSION = 1
HEADER = struct.Struct(">4sBBHI")
"""The frame header; ``HEADER.size`` bytes are counted with every frame."""
DEFAULT_MAX_FRAME = 64 * 1024 * 1024
"""Largest payload accepted by default (64 MiB)."""
ACCEPT_TAG = 0
"""Frame type the listener sends after it has authenticated the client."""
HEARTBEAT_TAG = 0xFFFF
"""Frame type of the heartbeat (reserved: a protocol may not declare it)."""
DEFAULT_LIVENESS_TIMEOUT = 60.0
"""Seconds without a byte from a peer (frames or heartbeats) before it counts as stopped.

Heartbeats go every quarter of it, so only a stopped, dead or cut-off peer stays silent that
long; a minute also absorbs the pauses of a loaded machine or a slow link (see ``docs/vfl.md``).
"""


def pack_header(tag: int, length: int) -> bytes:
    """The header of a frame of type ``tag`` with a ``length``-byte payload.

    Parameters
    ----------
    tag : int
        Frame type.
    length : int
        Payload size in bytes.
    """
    return HEADER.pack(MAGIC, VERSION, 0, tag, length)


HEARTBEAT_FRAME = HEADER.pack(MAGIC, VERSION, 0, HEARTBEAT_TAG, 0)
"""The heartbeat, whole: a header and no payload."""


def check_size(length: int, max_frame: int, who: object) -> None:
    """Refuse a payload above ``max_frame`` bytes.

    Parameters
    ----------
    length : int
        Payload size.
    max_frame : int
        The limit.
    who : object
        Named in the message (the channel).

    Raises
    ------
    ChannelProtocolError
        When the payload is too large.
    """
    if length > max_frame:
        raise ChannelProtocolError(
            f"{who}: frame of {length} bytes exceeds the {max_frame}-byte limit"
        )


def parse_header(
    header: bytes, type_names: Mapping[int, str], max_frame: int, who: object
) -> tuple[int, int]:
    """Validate a frame header and return ``(type, payload length)``.

    Parameters
    ----------
    header : bytes
        ``HEADER.size`` bytes.
    type_names : mapping of int to str
        Frame types accepted.
    max_frame : int
        Largest payload accepted.
    who : object
        Named in error messages (the channel).

    Raises
    ------
    ChannelProtocolError
        Bad magic, version, flags or type, or an oversized payload.
    """
    magic, version, flags, tag, length = HEADER.unpack(header)
    if magic != MAGIC:
        raise ChannelProtocolError(f"{who}: bad frame magic")
    if version != VERSION or flags != 0:
        raise ChannelProtocolError(f"{who}: unsupported frame version {version}/{flags}")
    if tag not in type_names:
        raise ChannelProtocolError(f"{who}: unknown frame type {tag}")
    check_size(length, max_frame, who)
    return tag, length
