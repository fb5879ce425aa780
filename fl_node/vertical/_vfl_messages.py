"""Typed wire messages of the vertical-FL protocol, with strict validation on decode.

Each message is a frozen dataclass with a frame type (:class:`MsgType`). Its payload is::

    u32 meta_len | meta (UTF-8 JSON object) | u16 n_blobs | (u32 blob_len | blob) * n_blobs

Scalar fields (``int``, ``float``, ``bool``, ``str``, ``float | None``, ``list[int]``) live in
the JSON object, ``bytes`` and numeric arrays in blobs. :meth:`Message.decode` checks that the
JSON object has exactly the declared keys, that every value has the declared type (``bool`` is
not an ``int``; floats are finite; strings and lists are bounded), that arrays have a whole
number of items of the declared dtype and finite values, and then calls the message's own
``validate`` for its semantic constraints. Ciphertext blobs are validated by the cipher suite
that loads them (key fingerprint, range, count, declared bound).
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import struct
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

import numpy as np
import numpy.typing as npt

U32Array = npt.NDArray[np.uint32]
F64Array = npt.NDArray[np.float64]

_META_LEN = struct.Struct(">I")
_BLOB_COUNT = struct.Struct(">H")
_MAX_META = 1 << 20
_MAX_STR = 128
_MAX_LIST = 1 << 16
_MAX_INT_BITS = 8192
PROTOCOL_VERSION = 1


class MessageError(ValueError):
    """A payload does not decode to a valid message."""


class MsgType(enum.IntEnum):
    """Frame types of the vertical-FL protocol (``0`` is the channel's ``accept``)."""

    PSI_KEY = 10
    PSI_BLINDED = 11
    PSI_EVALUATED = 12
    PSI_HOST_SET = 13
    PSI_INDICES = 14
    PSI_SALT = 15
    SPLIT = 20
    SESSION = 21
    HOST_INFO = 22
    PUBLIC_KEY = 23
    EPOCH_PLAN = 30
    FORWARD = 31
    RESIDUAL = 32
    GRADIENT = 33
    MASKED = 34
    EPOCH_RESULT = 35
    PREDICT_REQUEST = 40
    PARTIAL_SCORES = 41


#: Frame type -> name, for the channel's statistics.
TYPE_NAMES: dict[int, str] = {int(t): t.name.lower() for t in MsgType}


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

    TAG: ClassVar[MsgType]

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


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise MessageError(message)


# --------------------------------------------------------------------------- PSI


@dataclass(frozen=True)
class PsiStep(Message):
    """A serialized PSI message (validated by :mod:`fl_node.vertical.crypto.psi` on parse)."""

    data: bytes


@dataclass(frozen=True)
class PsiKeyMsg(PsiStep):
    """Host -> guest: the OPRF public key."""

    TAG = MsgType.PSI_KEY


@dataclass(frozen=True)
class PsiBlindedMsg(PsiStep):
    """Guest -> host: the guest's blinded ids."""

    TAG = MsgType.PSI_BLINDED


@dataclass(frozen=True)
class PsiEvaluatedMsg(PsiStep):
    """Host -> guest: the OPRF evaluations of the guest's blinded ids."""

    TAG = MsgType.PSI_EVALUATED


@dataclass(frozen=True)
class PsiHostSetMsg(PsiStep):
    """Host -> guest: the truncated OPRF values of the host's ids."""

    TAG = MsgType.PSI_HOST_SET


@dataclass(frozen=True)
class PsiIndicesMsg(PsiStep):
    """Guest -> host: which of the host's values matched."""

    TAG = MsgType.PSI_INDICES


@dataclass(frozen=True)
class PsiSaltMsg(Message):
    """Guest -> host: the secret salt of the on-chain intersection commitment."""

    TAG = MsgType.PSI_SALT
    salt: bytes

    def validate(self) -> None:
        """Check the salt length."""
        _require(len(self.salt) == 32, "PsiSaltMsg: the salt must be 32 bytes")


# --------------------------------------------------------------------------- setup


@dataclass(frozen=True)
class SplitMsg(Message):
    """Guest -> host: train / validation / test positions over the aligned order."""

    TAG = MsgType.SPLIT
    n_aligned: int
    train: U32Array = u32_field()
    validation: U32Array = u32_field()
    test: U32Array = u32_field()

    def validate(self) -> None:
        """Positions must be sorted, disjoint and inside the aligned rows."""
        _require(self.n_aligned > 0, "SplitMsg: empty intersection")
        _require(self.train.size > 0, "SplitMsg: no training rows")
        allpos = np.concatenate([self.train, self.validation, self.test]).astype(np.int64)
        _require(int(allpos.max()) < self.n_aligned, "SplitMsg: position out of range")
        _require(np.unique(allpos).size == allpos.size, "SplitMsg: parts overlap")
        for part in (self.train, self.validation, self.test):
            _require(bool(np.all(np.diff(part.astype(np.int64)) > 0)), "SplitMsg: unsorted part")


@dataclass(frozen=True)
class SessionMsg(Message):
    """Guest -> host, arbiter: a training session's public parameters."""

    TAG = MsgType.SESSION
    session: str
    version: int
    cipher: str
    n_train: int
    batch_size: int
    max_epochs: int
    max_batches: int
    guest_values: int

    def validate(self) -> None:
        """Check ranges."""
        _require(self.version == PROTOCOL_VERSION, "SessionMsg: protocol version mismatch")
        _require(self.cipher in ("ours", "phe"), "SessionMsg: unknown cipher")
        _require(self.n_train > 0 and self.batch_size > 0, "SessionMsg: empty training set")
        _require(self.max_epochs > 0 and self.max_batches >= 0, "SessionMsg: bad limits")
        _require(1 <= self.guest_values <= 4096, "SessionMsg: bad guest width")


@dataclass(frozen=True)
class HostInfoMsg(Message):
    """Host -> guest, arbiter: the number of host features used in this session."""

    TAG = MsgType.HOST_INFO
    session: str
    n_features: int

    def validate(self) -> None:
        """Check ranges."""
        _require(0 <= self.n_features <= 4096, "HostInfoMsg: bad feature count")


@dataclass(frozen=True)
class PublicKeyMsg(Message):
    """Arbiter -> guest, host: the session's Paillier public key."""

    TAG = MsgType.PUBLIC_KEY
    session: str
    cipher: str
    key_bits: int
    fingerprint: bytes
    key: bytes

    def validate(self) -> None:
        """Check ranges (the key itself is parsed by the cipher suite)."""
        _require(self.cipher in ("ours", "phe"), "PublicKeyMsg: unknown cipher")
        _require(256 <= self.key_bits <= 16384, "PublicKeyMsg: bad key size")
        _require(len(self.fingerprint) == 16, "PublicKeyMsg: bad fingerprint")


# --------------------------------------------------------------------------- training


@dataclass(frozen=True)
class EpochPlanMsg(Message):
    """Guest -> host: the order of the training rows in this epoch (positions in train)."""

    TAG = MsgType.EPOCH_PLAN
    epoch: int
    order: U32Array = u32_field()

    def validate(self) -> None:
        """The order must be a permutation."""
        _require(self.epoch >= 0, "EpochPlanMsg: negative epoch")
        n = self.order.size
        _require(n > 0, "EpochPlanMsg: empty order")
        seen = np.zeros(n, dtype=bool)
        idx = self.order.astype(np.int64)
        _require(int(idx.max()) < n, "EpochPlanMsg: position out of range")
        seen[idx] = True
        _require(bool(seen.all()), "EpochPlanMsg: not a permutation")


@dataclass(frozen=True)
class ForwardMsg(Message):
    """Host -> guest: ``[[z_h / 4]]`` per batch row and ``[[q_h]]`` (loss term), encrypted."""

    TAG = MsgType.FORWARD
    epoch: int
    batch: int
    scores: bytes
    loss_term: bytes


@dataclass(frozen=True)
class ResidualMsg(Message):
    """Guest -> host: the encrypted, re-randomised residuals ``[[d_i]]`` of the batch."""

    TAG = MsgType.RESIDUAL
    epoch: int
    batch: int
    residuals: bytes


@dataclass(frozen=True)
class GradientMsg(Message):
    """Guest/host -> arbiter: masked encrypted gradient sums (guest: plus the loss)."""

    TAG = MsgType.GRADIENT
    epoch: int
    batch: int
    n_values: int
    has_loss: bool
    data: bytes

    def validate(self) -> None:
        """Check ranges."""
        _require(0 <= self.n_values <= 4097, "GradientMsg: bad value count")


@dataclass(frozen=True)
class MaskedMsg(Message):
    """Arbiter -> guest/host: decrypted *masked* values (``value * base**exponent``)."""

    TAG = MsgType.MASKED
    epoch: int
    batch: int
    base: int
    values: list[int]
    exponents: list[int]

    def validate(self) -> None:
        """Check shapes."""
        _require(self.base in (2, 16), "MaskedMsg: base must be 2 or 16")
        _require(len(self.values) == len(self.exponents), "MaskedMsg: length mismatch")
        _require(all(abs(e) <= 4096 for e in self.exponents), "MaskedMsg: exponent range")


@dataclass(frozen=True)
class EpochResultMsg(Message):
    """Arbiter -> guest/host: end of an epoch (the loss goes to the guest only)."""

    TAG = MsgType.EPOCH_RESULT
    epoch: int
    converged: bool
    stop: bool
    loss: float | None


# --------------------------------------------------------------------------- prediction


@dataclass(frozen=True)
class PredictRequestMsg(Message):
    """Guest -> host: score these rows (validation or test positions only)."""

    TAG = MsgType.PREDICT_REQUEST
    model: str
    part: str
    positions: U32Array = u32_field()

    def validate(self) -> None:
        """Check the part name."""
        _require(self.part in ("validation", "test"), "PredictRequestMsg: bad part")


@dataclass(frozen=True)
class PartialScoresMsg(Message):
    """Host -> guest: the host's partial scores ``x_h . w_h`` of the requested rows."""

    TAG = MsgType.PARTIAL_SCORES
    model: str
    part: str
    scores: F64Array = f64_field()


MESSAGE_CLASSES: dict[int, type[Message]] = {
    int(cls.TAG): cls
    for cls in (
        PsiKeyMsg,
        PsiBlindedMsg,
        PsiEvaluatedMsg,
        PsiHostSetMsg,
        PsiIndicesMsg,
        PsiSaltMsg,
        SplitMsg,
        SessionMsg,
        HostInfoMsg,
        PublicKeyMsg,
        EpochPlanMsg,
        ForwardMsg,
        ResidualMsg,
        GradientMsg,
        MaskedMsg,
        EpochResultMsg,
        PredictRequestMsg,
        PartialScoresMsg,
    )
}


def decode_message(tag: int, payload: bytes) -> Message:
    """Decode a frame payload of type ``tag``.

    Parameters
    ----------
    tag : int
        Frame type.
    payload : bytes
        Frame payload.

    Returns
    -------
    Message
        The validated message.
    """
    cls = MESSAGE_CLASSES.get(tag)
    if cls is None:
        raise MessageError(f"unknown message type {tag}")
    return cls.decode(payload)
