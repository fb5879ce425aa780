"""Errors raised by the chain client, and the decoding of revert data into them.

Whichever backend raised it (py-evm in process, anvil, a Hardhat node, a remote node), a revert
surfaces as :class:`ChainRevertError` carrying the custom error's name and its decoded arguments,
e.g. ``TaskRoundNotOpen(taskId=1, round=3)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_utils.abi import function_signature_to_4byte_selector
from eth_utils.address import to_checksum_address

from kernel.errors import (
    ConfigurationError,
    FedmarketError,
    IntegrityError,
    NotFoundError,
    OperationTimeoutError,
    RefusedError,
    ServiceUnavailableError,
)

_ErrorEntry = tuple[str, tuple[str, ...], tuple[str, ...]]
_ERROR_STRING: _ErrorEntry = ("Error", ("string",), ("reason",))
_PANIC: _ErrorEntry = ("Panic", ("uint256",), ("code",))


class ChainError(FedmarketError):
    """Root of the chain client's errors (never raised itself: each error has a family)."""


class ChainConnectionError(ChainError, ServiceUnavailableError):
    """The JSON-RPC endpoint cannot be reached or is not the chain expected."""


class DeploymentError(ChainError, NotFoundError):
    """A deployment file is missing, malformed, or points at addresses without code."""


class FundingError(ChainError, ConfigurationError):
    """An account needs gas and the chain has no faucet: give that party's funded key."""


class TimeTravelError(ChainError, ConfigurationError):
    """The chain's clock cannot be moved on this chain.

    Only the in-process chain and dev chains (chain id 31337: anvil, the Hardhat node) allow it;
    anywhere else, wait for the deadline instead (:meth:`ChainBackend.wait_until`).
    """


class ChainTimeoutError(ChainError, OperationTimeoutError):
    """The chain did not reach the awaited time before the caller's timeout."""


class TransactionFailedError(ChainError, RefusedError):
    """A transaction was mined but failed, and no revert reason could be recovered."""


class NotListingOwnerError(ChainError, RefusedError):
    """A relayed edit names an owner who does not hold the listing (found before relaying)."""


class NotDevChainError(ChainError, RefusedError):
    """A development-only action (the faucet) was asked of a chain that is not a dev chain."""


class NotMinterError(ChainError, RefusedError):
    """The account that would mint lacks the token's ``MINTER_ROLE`` (found before sending)."""


class TokenCapError(ChainError, RefusedError):
    """A mint would take the token's supply above its cap (found before sending)."""


class InsufficientBalanceError(ChainError, RefusedError):
    """An account holds fewer tokens than it would send (found before sending)."""


class AnchorNotFoundError(ChainError, NotFoundError):
    """An anchor's transaction is not on this chain, or not mined yet."""


class AnchorMismatchError(ChainError, IntegrityError):
    """An anchor's transaction differs from its record: sender, block, chain, kind or root."""


class ChainRevertError(ChainError, RefusedError):
    """A call or transaction reverted with a recognised error.

    Attributes
    ----------
    error_name : str
        The custom error's name (``"TaskRoundNotOpen"``), or ``"Error"`` for ``require`` strings,
        ``"Panic"`` for assertion failures, ``"Unknown"`` when the selector is not in any ABI.
    error_args : dict[str, Any]
        The error's arguments by name, decoded with its ABI (addresses checksummed).
    data : bytes
        The raw revert data.
    """

    def __init__(self, error_name: str, error_args: Mapping[str, Any], data: bytes) -> None:
        self.error_name = error_name
        self.error_args = dict(error_args)
        self.data = data
        shown = ", ".join(f"{k}={_show(v)}" for k, v in self.error_args.items())
        super().__init__(f"{error_name}({shown})")


def _show(value: Any) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, str) and not value.startswith("0x"):
        return repr(value)
    return str(value)


def _canonical_type(item: Mapping[str, Any]) -> str:
    """ABI type string of an input, tuples expanded (``(uint256,address)[]``)."""
    typ = str(item["type"])
    if typ.startswith("tuple"):
        inner = ",".join(_canonical_type(c) for c in item["components"])
        return f"({inner}){typ[len('tuple') :]}"
    return typ


class ErrorDecoder:
    """Maps 4-byte selectors to custom errors, built from contract ABIs.

    Parameters
    ----------
    abis : iterable of ABI lists
        Every ABI whose errors may appear in revert data (a call may revert inside another
        contract, e.g. the token's ``ERC20InsufficientAllowance`` bubbling up through FedTask).
    """

    def __init__(self, abis: Iterable[Sequence[Mapping[str, Any]]]) -> None:
        self._errors: dict[bytes, _ErrorEntry] = {}
        for name, types, names in (_ERROR_STRING, _PANIC):
            self._errors[function_signature_to_4byte_selector(f"{name}({','.join(types)})")] = (
                name,
                types,
                names,
            )
        for abi in abis:
            for item in abi:
                if item.get("type") != "error":
                    continue
                types = tuple(_canonical_type(i) for i in item["inputs"])
                names = tuple(str(i["name"]) or f"arg{n}" for n, i in enumerate(item["inputs"]))
                selector = function_signature_to_4byte_selector(
                    f"{item['name']}({','.join(types)})"
                )
                self._errors[selector] = (str(item["name"]), types, names)

    def decode(self, data: bytes) -> ChainRevertError:
        """Turn raw revert data into a :class:`ChainRevertError`."""
        if len(data) < 4:
            return ChainRevertError("Unknown", {}, data)
        entry = self._errors.get(data[:4])
        if entry is None:
            return ChainRevertError("Unknown", {"selector": data[:4]}, data)
        name, types, names = entry
        try:
            values = abi_decode(list(types), data[4:])
        except Exception:  # malformed payload for a known selector
            return ChainRevertError(name, {"undecoded": data[4:]}, data)
        args = {n: _normalise(t, v) for n, t, v in zip(names, types, values, strict=True)}
        return ChainRevertError(name, args, data)


def _normalise(typ: str, value: Any) -> Any:
    if typ == "address":
        return to_checksum_address(value)
    return value
