"""Typed messages: frozen dataclasses with a frame type, encoded to and strictly decoded from bytes.

A protocol declares its messages as subclasses of :class:`Message` (each with a ``TAG``) and
gathers them in a :class:`MessageCodec`, which the transports use to decode what arrives.
A message's payload is::

    u32 meta_len | meta (UTF-8 JSON object) | u16 n_blobs | (u32 blob_len | blob) * n_blobs

Scalar fields (``int``, ``float``, ``bool``, ``str``, ``float | None``, ``list[int]``) live in
the JSON object, ``bytes`` and numeric arrays in blobs. :meth:`Message.decode` checks that the
JSON object has exactly the declared keys, that every value has the declared type (``bool`` is
not an ``int``; floats are finite; strings and lists are bounded), that arrays have a whole
number of items of the declared dtype and finite values, and then calls the message's own
``validate`` for its semantic constraints.
"""

from __future__ import annotations

import dataclasses
import json
import math
import struct
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

import numpy as np
import numpy.typing as npt

from fl_node.vertical.transport._errors import MessageError, TransportUsageError

_META_LEN = struct.Struct(">I")
_BLOB_COUNT = struct.Struct(">H")
_MAX_META = 1 << 20
_MAX_STR = 128
_MAX_LIST = 1 << 16
_MAX_INT_BITS = 8192


def u32_field() -> Any:
    """Declare a ``uint32`` array field (little-endian blob)."""
    return field(metadata={"dtype": "<u4"})


def f64_field() -> Any:
    """Declare a finite ``float64`` array field (little-endian blob)."""
    return field(metadata={"dtype": "<f8"})


def _check_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise MessageError(f"{name}: expected an integer")
    if value.bit_length() > _MAX_INT_BITS:
        raise MessageError(f"{name}: integer too large")
    return value


@dataclass(frozen=True)
class Message:
    """Base class: subclasses declare ``TAG`` and their fields."""

    TAG: ClassVar[int]

    def validate(self) -> None:
        """Check semantic constraints (overridden by subclasses); raise :class:`MessageError`."""

    # ---------------------------------------------------------------- encoding

    def encode(self) -> bytes:
        """Serialize to a payload."""
        meta: dict[str, Any] = {}
        blobs: list[bytes] = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if "dtype" in f.metadata:
                arr = np.ascontiguousarray(value, dtype=np.dtype(f.metadata["dtype"]))
                if arr.ndim != 1:
                    raise MessageError(f"{f.name}: arrays must be 1-D")
                blobs.append(arr.tobytes())
            elif isinstance(value, bytes):
                blobs.append(value)
            elif isinstance(value, list):
                meta[f.name] = [int(v) for v in value]
            else:
                meta[f.name] = value
        raw = json.dumps(meta, separators=(",", ":"), allow_nan=False).encode("utf-8")
        parts = [_META_LEN.pack(len(raw)), raw, _BLOB_COUNT.pack(len(blobs))]
        for blob in blobs:
            parts.append(_META_LEN.pack(len(blob)))
            parts.append(blob)
        return b"".join(parts)

    @classmethod
    def decode(cls, payload: bytes) -> Self:
        """Parse and validate a payload.

        Parameters
        ----------
        payload : bytes
            Frame payload.

        Returns
        -------
        Message
            The message.

        Raises
        ------
        MessageError
            On any structural or semantic violation.
        """
        meta, blobs = _split_payload(payload)
        hints = typing.get_type_hints(cls)
        values: dict[str, Any] = {}
        blob_fields = [
            f for f in dataclasses.fields(cls) if "dtype" in f.metadata or hints[f.name] is bytes
        ]
        meta_fields = [f for f in dataclasses.fields(cls) if f not in blob_fields]
        if set(meta) != {f.name for f in meta_fields}:
            raise MessageError(f"{cls.__name__}: fields {sorted(meta)} do not match")
        if len(blobs) != len(blob_fields):
            raise MessageError(f"{cls.__name__}: {len(blobs)} blobs, expected {len(blob_fields)}")
        for f in meta_fields:
            values[f.name] = _decode_scalar(f"{cls.__name__}.{f.name}", hints[f.name], meta[f.name])
        for f, blob in zip(blob_fields, blobs, strict=True):
            if "dtype" in f.metadata:
                values[f.name] = _decode_array(f"{cls.__name__}.{f.name}", f.metadata, blob)
            else:
                values[f.name] = blob
        try:
            message = cls(**values)
            message.validate()
        except MessageError:
            raise
        except (TypeError, ValueError) as exc:
            raise MessageError(f"{cls.__name__}: {exc}") from exc
        return message


def _split_payload(payload: bytes) -> tuple[dict[str, Any], list[bytes]]:
    if not isinstance(payload, bytes | bytearray | memoryview):
        raise MessageError("payload must be bytes")
    data = memoryview(payload)
    if len(data) < _META_LEN.size:
        raise MessageError("payload shorter than its header")
    (meta_len,) = _META_LEN.unpack_from(data, 0)
    if meta_len > _MAX_META or _META_LEN.size + meta_len + _BLOB_COUNT.size > len(data):
        raise MessageError("bad metadata length")
    pos = _META_LEN.size
    try:
        meta = json.loads(
            bytes(data[pos : pos + meta_len]).decode("utf-8"),
            parse_constant=_reject_constant,
        )
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MessageError(f"bad metadata: {exc}") from exc
    if not isinstance(meta, dict):
        raise MessageError("metadata must be a JSON object")
    pos += meta_len
    (count,) = _BLOB_COUNT.unpack_from(data, pos)
    pos += _BLOB_COUNT.size
    blobs: list[bytes] = []
    for _ in range(count):
        if pos + _META_LEN.size > len(data):
            raise MessageError("truncated blob header")
        (size,) = _META_LEN.unpack_from(data, pos)
        pos += _META_LEN.size
        if pos + size > len(data):
            raise MessageError("truncated blob")
        blobs.append(bytes(data[pos : pos + size]))
        pos += size
    if pos != len(data):
        raise MessageError("trailing bytes after the last blob")
    return meta, blobs


def _reject_constant(name: str) -> Any:
    raise MessageError(f"non-finite number {name} in metadata")


def _decode_scalar(name: str, hint: Any, value: Any) -> Any:
    if hint is bool:
        if not isinstance(value, bool):
            raise MessageError(f"{name}: expected a boolean")
        return value
    if hint is int:
        return _check_int(name, value)
    if hint is float or hint == (float | None):
        if value is None and hint is not float:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise MessageError(f"{name}: expected a number")
        if not math.isfinite(float(value)):
            raise MessageError(f"{name}: expected a finite number")
        return float(value)
    if hint is str:
        if not isinstance(value, str) or len(value) > _MAX_STR:
            raise MessageError(f"{name}: expected a string of at most {_MAX_STR} characters")
        return value
    if typing.get_origin(hint) is list:
        if not isinstance(value, list) or len(value) > _MAX_LIST:
            raise MessageError(f"{name}: expected a list of at most {_MAX_LIST} items")
        return [_check_int(f"{name}[{i}]", v) for i, v in enumerate(value)]
    raise MessageError(f"{name}: unsupported field type {hint!r}")  # pragma: no cover


def _decode_array(name: str, metadata: Mapping[str, Any], blob: bytes) -> npt.NDArray[Any]:
    dtype = np.dtype(metadata["dtype"])
    if len(blob) % dtype.itemsize:
        raise MessageError(f"{name}: {len(blob)} bytes is not a whole number of items")
    arr = np.frombuffer(blob, dtype=dtype)
    if dtype.kind == "f" and not np.isfinite(arr).all():
        raise MessageError(f"{name}: non-finite values")
    return arr.astype(dtype.newbyteorder("="))


def require(condition: bool, message: str) -> None:
    """Raise :class:`MessageError` with ``message`` unless ``condition`` holds (for ``validate``).

    Parameters
    ----------
    condition : bool
        The constraint.
    message : str
        What is wrong when it does not hold.
    """
    if not condition:
        raise MessageError(message)


class MessageCodec:
    """The message classes of one protocol, by frame type.

    Parameters
    ----------
    classes : iterable of Message subclasses
        Each with a distinct ``TAG``.
    names : mapping of int to str or None, default None
        Frame type -> name used in the statistics (default: the lower-cased name of an enum
        ``TAG``, else the class name).

    Raises
    ------
    TransportUsageError
        When two classes share a tag.
    """

    def __init__(
        self, classes: Iterable[type[Message]], names: Mapping[int, str] | None = None
    ) -> None:
        self.classes: dict[int, type[Message]] = {}
        for cls in classes:
            tag = int(cls.TAG)
            if tag in self.classes:
                raise TransportUsageError(f"message tag {tag} is used twice")
            self.classes[tag] = cls
        self.type_names: dict[int, str] = {
            tag: str(getattr(cls.TAG, "name", cls.__name__)).lower()
            for tag, cls in self.classes.items()
        }
        self.type_names.update(names or {})

    def decode(self, tag: int, payload: bytes) -> Message:
        """Decode a frame payload of type ``tag``.

        Parameters
        ----------
        tag : int
            Frame type.
        payload : bytes
            Frame payload.

        Raises
        ------
        MessageError
            Unknown type, or a payload that is not a valid message of that type.
        """
        cls = self.classes.get(tag)
        if cls is None:
            raise MessageError(f"unknown message type {tag}")
        return cls.decode(payload)
