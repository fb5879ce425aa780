"""Model artifacts and updates as safetensors bytes, parsed defensively.

Everything that arrives from another party (a global model from the store, a participant's update)
is validated before use: the safetensors header is parsed by hand first (size bounds, dtypes,
offsets), metadata must agree with what the chain says, tensor names and shapes must match the
model, and every value must be finite.

Files are written by :func:`_st_encode`, not by the safetensors library: the library keeps
metadata in a hash map whose order changes between processes, so the same model would get
different bytes, hence a different CID, each time. Ours sorts the header, so the same tensors and
metadata always give the same bytes (and any safetensors reader reads them).
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from safetensors.torch import load as st_load

from fl_node.errors import MalformedArtifactError, ModelIntegrityError, UpdateRejectedError
from fl_node.models import ModelSpec, build_model, full_state

FORMAT = "fedmarket/1"
_ALLOWED_DTYPES = {"F32"}
_MAX_HEADER = 1 << 20


def _st_encode(tensors: Mapping[str, torch.Tensor], metadata: Mapping[str, str]) -> bytes:
    """Deterministic safetensors bytes: tensors in name order, header with sorted keys.

    Only float32 tensors are written (the only dtype :func:`_parse_header` accepts).
    """
    header: dict[str, Any] = {"__metadata__": dict(sorted(metadata.items()))}
    blobs: list[bytes] = []
    offset = 0
    for name in sorted(tensors):
        tensor = tensors[name].detach().to("cpu", torch.float32).contiguous()
        raw = tensor.numpy().astype("<f4", copy=False).tobytes()  # the format is little-endian
        header[name] = {
            "dtype": "F32",
            "shape": list(tensor.shape),
            "data_offsets": [offset, offset + len(raw)],
        }
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)  # the format pads the header to 8-byte alignment
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def _parse_header(data: bytes) -> tuple[dict[str, Any], dict[str, str]]:
    """Validate a safetensors header; return (tensor entries, metadata)."""
    if len(data) < 8:
        raise MalformedArtifactError("shorter than a safetensors header")
    (size,) = struct.unpack("<Q", data[:8])
    if size > _MAX_HEADER or 8 + size > len(data):
        raise MalformedArtifactError(f"header length {size} out of bounds")
    header = json.loads(data[8 : 8 + size])
    if not isinstance(header, dict):
        raise MalformedArtifactError("header is not an object")
    meta = header.pop("__metadata__", {}) or {}
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise MalformedArtifactError("metadata must map strings to strings")
    body = len(data) - 8 - size
    for name, entry in header.items():
        if entry.get("dtype") not in _ALLOWED_DTYPES:
            raise MalformedArtifactError(f"tensor {name}: dtype {entry.get('dtype')} not allowed")
        start, end = entry["data_offsets"]
        count = math.prod(entry["shape"]) if entry["shape"] else 1
        if not 0 <= start <= end <= body or end - start != 4 * count:
            raise MalformedArtifactError(f"tensor {name}: offsets do not match its shape")
    return header, meta


@dataclass(frozen=True)
class UpdateMeta:
    """What a participant declares about its update; checked against the chain."""

    task_id: int
    round: int
    participant: str
    base_model_hash: str  # 0x-hex keccak of the global model the update starts from
    samples: int
    train_loss: float
    strategy: str

    def to_metadata(self) -> dict[str, str]:
        """String-to-string safetensors metadata."""
        return {
            "fedmarket.format": FORMAT,
            "fedmarket.kind": "update",
            "task_id": str(self.task_id),
            "round": str(self.round),
            "participant": self.participant,
            "base_model_hash": self.base_model_hash,
            "samples": str(self.samples),
            "train_loss": repr(float(self.train_loss)),
            "strategy": self.strategy,
        }

    @classmethod
    def from_metadata(cls, meta: Mapping[str, str]) -> UpdateMeta:
        """Parse :meth:`to_metadata` output."""
        if meta.get("fedmarket.kind") != "update" or meta.get("fedmarket.format") != FORMAT:
            raise MalformedArtifactError("not a fedmarket update")
        return cls(
            task_id=int(meta["task_id"]),
            round=int(meta["round"]),
            participant=meta["participant"],
            base_model_hash=meta["base_model_hash"],
            samples=int(meta["samples"]),
            train_loss=float(meta["train_loss"]),
            strategy=meta["strategy"],
        )


def encode_update(delta: Mapping[str, torch.Tensor], meta: UpdateMeta) -> bytes:
    """Serialise an update (parameter deltas, float32) with its metadata."""
    return _st_encode(delta, meta.to_metadata())


def decode_update(
    data: bytes, expected_shapes: Mapping[str, tuple[int, ...]]
) -> tuple[dict[str, torch.Tensor], UpdateMeta]:
    """Parse and validate an update's bytes.

    Raises
    ------
    UpdateRejectedError
        ``malformed``, ``shape_mismatch`` or ``non_finite``.
    """
    try:
        header, raw_meta = _parse_header(data)
        meta = UpdateMeta.from_metadata(raw_meta)
    except (ValueError, KeyError, TypeError) as exc:
        raise UpdateRejectedError("malformed", str(exc)) from None
    shapes = {name: tuple(int(d) for d in entry["shape"]) for name, entry in header.items()}
    if shapes != dict(expected_shapes):
        raise UpdateRejectedError(
            "shape_mismatch", f"tensors {sorted(shapes)} do not fit the model"
        )
    try:
        tensors = st_load(data)
    except Exception as exc:  # safetensors raises its own error types
        raise UpdateRejectedError("malformed", str(exc)) from None
    for name, tensor in tensors.items():
        if not bool(torch.isfinite(tensor).all()):
            raise UpdateRejectedError("non_finite", f"tensor {name} holds NaN or infinity")
    return dict(tensors), meta


def encode_model(model: torch.nn.Module, spec: ModelSpec, *, round: int, task_id: int) -> bytes:
    """Serialise a global model: every parameter and buffer, plus its spec as metadata."""
    meta = {
        "fedmarket.format": FORMAT,
        "fedmarket.kind": "model",
        "spec": json.dumps(spec.to_dict(), sort_keys=True),
        "round": str(round),
        "task_id": str(task_id),
    }
    return _st_encode(full_state(model), meta)


@dataclass(frozen=True)
class LoadedModel:
    """A model rebuilt from its artifact."""

    spec: ModelSpec
    module: torch.nn.Module
    round: int
    task_id: int


def decode_model(data: bytes) -> LoadedModel:
    """Rebuild a model from :func:`encode_model` bytes, validating everything.

    Raises
    ------
    ModelIntegrityError
        When the bytes are not a fedmarket model or do not fit their own spec.
    """
    try:
        header, meta = _parse_header(data)
        if meta.get("fedmarket.kind") != "model" or meta.get("fedmarket.format") != FORMAT:
            raise MalformedArtifactError("not a fedmarket model")
        spec = ModelSpec.from_dict(json.loads(meta["spec"]))
        module = build_model(spec)
        expected = {k: tuple(v.shape) for k, v in full_state(module).items()}
        shapes = {n: tuple(int(d) for d in e["shape"]) for n, e in header.items()}
        if shapes != expected:
            raise MalformedArtifactError("tensors do not fit the spec")
        tensors = st_load(data)
        if not all(bool(torch.isfinite(t).all()) for t in tensors.values()):
            raise MalformedArtifactError("non-finite weights")
        module.load_state_dict(tensors)
        return LoadedModel(spec, module, int(meta["round"]), int(meta["task_id"]))
    except (ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise ModelIntegrityError(f"decode_model: {exc}") from None
