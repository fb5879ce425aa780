"""Errors of the federated-learning layer."""

from __future__ import annotations

from fedmarket.errors import FedmarketError


class FlError(FedmarketError):
    """Root of the federated-learning errors."""


class SpecError(FlError, ValueError):
    """A task or model specification is malformed or does not match its on-chain hash."""


class ModelIntegrityError(FlError, ValueError):
    """A global model's bytes do not match the hash anchored on-chain, or cannot be parsed."""


class UpdateRejectedError(FlError, ValueError):
    """An update failed validation; ``reason`` is a short machine-readable code.

    Codes: ``missing`` (not retrievable), ``hash_mismatch`` (bytes differ from the on-chain
    anchor), ``cid_mismatch`` (bytes differ from their CID), ``malformed`` (not a valid
    safetensors update), ``wrong_task`` / ``wrong_round`` / ``wrong_participant`` /
    ``wrong_base`` (metadata disagrees with the chain), ``samples_mismatch``, ``shape_mismatch``,
    ``non_finite``, ``too_large``.
    """

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}")


class DataError(FlError, ValueError):
    """A dataset is missing, fails its checksum, or has the wrong shape."""
