"""A strategy's server state between rounds, as deterministic safetensors bytes.

Adaptive strategies (the FedOpt family) carry moment estimates from one round to the next. The
coordinator stores the state after every round in the content store, so the audit can recompute a
round from the evidence alone: previous model + previous state + accepted updates gives the next
model and the next state, byte for byte.

The tensors are float32, as stored: a strategy computes in float64 and rounds its state to float32
before returning it, so what is read back from the bytes is exactly what the next round used.
Stateless strategies (FedAvg, FedSGD, FedProx) carry :meth:`ServerState.empty`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import torch
from safetensors.torch import load as st_load

from fl_node.errors import MalformedArtifactError
from fl_node.serialization import FORMAT, _parse_header, _st_encode

KIND = "server_state"


@dataclass(frozen=True, eq=False)
class ServerState:
    """Named float32 tensors a strategy carries across rounds, tagged with the strategy's name.

    Parameters
    ----------
    strategy : str
        Name of the strategy the state belongs to (``"fedadam"`` ...).
    tensors : mapping of str to torch.Tensor, default empty
        The state, e.g. ``"m/<param>"`` and ``"v/<param>"``; never mutated in place.
    """

    strategy: str
    tensors: Mapping[str, torch.Tensor] = field(default_factory=dict)

    @classmethod
    def empty(cls, strategy: str) -> ServerState:
        """The state of a stateless strategy: no tensors."""
        return cls(strategy, {})

    def __eq__(self, other: object) -> bool:
        """Same strategy, same tensor names, dtypes, shapes and values (bit for bit)."""
        if not isinstance(other, ServerState):
            return NotImplemented
        if self.strategy != other.strategy or set(self.tensors) != set(other.tensors):
            return False
        return all(
            self.tensors[k].dtype == other.tensors[k].dtype
            and torch.equal(self.tensors[k].cpu(), other.tensors[k].cpu())
            for k in self.tensors
        )

    __hash__ = None  # type: ignore[assignment]  # holds tensors: not hashable

    def to_bytes(self) -> bytes:
        """Deterministic safetensors bytes (the same state always gives the same bytes)."""
        meta = {"fedmarket.format": FORMAT, "fedmarket.kind": KIND, "strategy": self.strategy}
        return _st_encode(self.tensors, meta)

    @classmethod
    def from_bytes(
        cls,
        data: bytes,
        *,
        strategy: str | None = None,
        expected_shapes: Mapping[str, tuple[int, ...]] | None = None,
    ) -> ServerState:
        """Parse :meth:`to_bytes` output, validating everything.

        Parameters
        ----------
        data : bytes
            The stored bytes.
        strategy : str, optional
            When given, the state must belong to this strategy.
        expected_shapes : mapping of str to tuple of int, optional
            When given, the state's tensor names and shapes must be exactly these.

        Raises
        ------
        MalformedArtifactError
            Not a server state, another strategy's, other tensors, or a non-finite value.
        """
        try:
            header, meta = _parse_header(data)
            tensors = dict(st_load(data)) if header else {}
        except MalformedArtifactError:
            raise
        except Exception as exc:  # json and safetensors raise their own error types
            raise MalformedArtifactError(f"ServerState.from_bytes: {exc}") from None
        if meta.get("fedmarket.kind") != KIND or meta.get("fedmarket.format") != FORMAT:
            raise MalformedArtifactError("ServerState.from_bytes: not a fedmarket server state")
        name = meta.get("strategy", "")
        if strategy is not None and name != strategy:
            raise MalformedArtifactError(
                f"ServerState.from_bytes: state of {name!r}, expected {strategy!r}"
            )
        if expected_shapes is not None:
            shapes = {k: tuple(v.shape) for k, v in tensors.items()}
            if shapes != dict(expected_shapes):
                raise MalformedArtifactError("ServerState.from_bytes: tensors do not fit")
        for key, tensor in tensors.items():
            if not bool(torch.isfinite(tensor).all()):
                raise MalformedArtifactError(f"ServerState.from_bytes: {key} is not finite")
        return cls(name, tensors)
