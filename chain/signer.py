"""Signing and sending transactions from one party's own key.

Every write goes through a :class:`Signer`, obtained with :func:`signer_for` (one per address
per backend, so a nonce counter is never shared between two objects). The transaction is
simulated first (gas estimation), so a revert surfaces before anything is sent, as
:class:`~chain.errors.ChainRevertError` with the custom error's name and arguments; then it is
signed locally with the party's key (the node never sees the key) and sent raw.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any, cast
from weakref import WeakKeyDictionary

from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from hexbytes import HexBytes
from web3.exceptions import ContractLogicError
from web3.types import TxParams

from chain._cache import chain_moved
from chain.artifacts import error_decoder
from chain.backends import ChainBackend
from chain.errors import ChainError, ChainRevertError, FundingError, TransactionFailedError

log = logging.getLogger(__name__)

GAS_MARGIN = 1.2
"""Gas limit = estimate x this margin."""

RECEIPT_TIMEOUT_S = 120.0

CALLDATA_GAS_PER_BYTE = 40
"""Gas reserved per calldata byte of a plain transfer: EIP-7623's floor for a non-zero byte."""


@dataclass(frozen=True)
class TxResult:
    """What a mined transaction left behind."""

    tx_hash: str
    block_number: int
    gas_used: int
    contract_address: str | None
    receipt: Any


def revert_error(exc: ContractLogicError) -> ChainRevertError:
    """Decode a web3 revert (from any backend) into a :class:`ChainRevertError`."""
    data = exc.data
    if isinstance(data, str) and data.startswith("0x"):
        return error_decoder().decode(bytes.fromhex(data[2:]))
    if isinstance(data, dict) and isinstance(data.get("data"), str):
        return error_decoder().decode(bytes.fromhex(str(data["data"])[2:]))
    return ChainRevertError("Error", {"reason": str(exc.message or exc)}, b"")


def _revert_on_send(exc: Exception) -> ChainRevertError | None:
    """The revert a node that mines on send (Hardhat) answered a transaction with, if any.

    The simulation runs on the latest block; the transaction is mined in the next one, with a
    later timestamp, so a deadline can pass in between. Hardhat then answers
    ``send_raw_transaction`` with an RPC error carrying the revert data (code 3), which web3
    raises as a plain RPC error.
    """
    response = getattr(exc, "rpc_response", None)
    error = response.get("error") if isinstance(response, dict) else None
    data = error.get("data") if isinstance(error, dict) else None
    if isinstance(data, str) and data.startswith("0x") and len(data) >= 10:
        return error_decoder().decode(bytes.fromhex(data[2:]))
    return None


def call_view(fn: Any, block: int | None = None) -> Any:
    """Call a view (at ``block``, else at the latest), a revert as :class:`ChainRevertError`."""
    try:
        return fn.call() if block is None else fn.call(block_identifier=block)
    except ContractLogicError as exc:
        raise revert_error(exc) from None


class Signer:
    """One account sending transactions on one backend.

    Obtain it with :func:`signer_for`, which keeps one per address per backend so the local
    nonce counter is never shared between two objects.

    Attributes
    ----------
    gas_used : int
        Gas used by every transaction this signer sent.
    """

    def __init__(self, backend: ChainBackend, account: LocalAccount) -> None:
        self.backend = backend
        self.account = account
        self.address: ChecksumAddress = account.address
        self.gas_used = 0
        self.tx_count = 0
        self._nonce: int | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Signer({self.address})"

    def _next_nonce(self) -> int:
        if self._nonce is None:
            self._nonce = int(self.backend.w3.eth.get_transaction_count(self.address, "pending"))
        return self._nonce

    def transact(self, fn: Any, *, value: int = 0, label: str | None = None) -> TxResult:
        """Simulate, sign and send a contract call or constructor; wait for it to be mined.

        Parameters
        ----------
        fn : ContractFunction or ContractConstructor
            The bound call, e.g. ``contract.functions.joinTask(1)``.
        value : int, default 0
            Ether (wei) to attach.
        label : str or None, default None
            Name used in logs (defaults to the function name).

        Raises
        ------
        ChainRevertError
            The simulation reverted (nothing was sent) or the mined transaction reverted.
        TransactionFailedError
            The transaction failed without recoverable revert data.
        """
        name = label or getattr(fn, "fn_name", None) or "constructor"
        w3 = self.backend.w3
        with self._lock:
            nonce = self._next_nonce()
            params: dict[str, Any] = {"from": self.address, "nonce": nonce, "value": value}
            # constructors have no eth_call form: they are always estimated
            fixed = self.backend.fixed_gas_limit if hasattr(fn, "call") else None
            try:
                if fixed is not None:
                    fn.call({"from": self.address, "value": value})  # surfaces a revert
                    params["gas"] = fixed
                tx = fn.build_transaction(params)
            except ContractLogicError as exc:
                raise revert_error(exc) from None
            except Exception as exc:
                self._raise_if_unfunded(exc, name)
                raise
            if fixed is None:
                tx["gas"] = int(int(tx["gas"]) * GAS_MARGIN)
            signed = self.account.sign_transaction(tx)
            try:
                tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
            except ContractLogicError as exc:  # eth-tester mines on send
                self._nonce = None
                raise revert_error(exc) from None
            except Exception as exc:
                self._nonce = None  # resynchronise from the node next time
                self._raise_if_unfunded(exc, name)
                revert = _revert_on_send(exc)
                if revert is not None:
                    raise revert from None
                raise
            self._nonce = nonce + 1
        return self._wait(tx_hash, tx, name)

    def _raise_if_unfunded(self, exc: Exception, name: str) -> None:
        """Raise :class:`FundingError` when ``exc`` says the account cannot pay the gas.

        Nodes answer an account short of ether with an RPC error (anvil and geth: "insufficient
        funds for gas * price + value"; Hardhat: "doesn't have enough funds"; eth-tester:
        "cannot afford txn gas"), which would otherwise surface as an unexpected error; anything
        else is left to the caller.
        """
        text = str(exc).lower()
        if any(m in text for m in ("insufficient funds", "enough funds", "cannot afford txn gas")):
            raise FundingError(
                f"{self.address} has too little ether to pay the gas of {name}: fund it first"
            ) from None

    def send_value(
        self, to: str, wei: int, *, data: bytes = b"", label: str = "transfer"
    ) -> TxResult:
        """Send plain ether (gas money) to ``to``, with optional calldata.

        Parameters
        ----------
        to : str
            The recipient (an account: calldata to a contract would run its code).
        wei : int
            Ether to send (may be 0).
        data : bytes, default b""
            Calldata, e.g. the tag of an on-chain anchor (:mod:`chain.anchor`).
        label : str, default "transfer"
            Name used in logs.
        """
        w3 = self.backend.w3
        with self._lock:
            nonce = self._next_nonce()
            tx: dict[str, Any] = {
                "from": self.address,
                "to": to,
                "value": wei,
                "nonce": nonce,
                "chainId": self.backend.chain_id,
                # intrinsic gas; 40 per calldata byte covers EIP-7623's floor on any byte
                "gas": 21_000 + CALLDATA_GAS_PER_BYTE * len(data),
            }
            if data:
                tx["data"] = "0x" + data.hex()
            base_fee = int(w3.eth.get_block("latest").get("baseFeePerGas", 0) or 0)
            tx["maxPriorityFeePerGas"] = 10**9
            tx["maxFeePerGas"] = 2 * base_fee + 10**9
            signed = self.account.sign_transaction(tx)
            try:
                tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
            except Exception:
                self._nonce = None
                raise
            self._nonce = nonce + 1
        return self._wait(tx_hash, tx, label)

    def _wait(self, tx_hash: HexBytes, tx: dict[str, Any], name: str) -> TxResult:
        w3 = self.backend.w3
        receipt = w3.eth.wait_for_transaction_receipt(
            tx_hash, timeout=RECEIPT_TIMEOUT_S, poll_latency=0.05
        )
        chain_moved(self.backend)
        gas = int(receipt["gasUsed"])
        self.gas_used += gas
        self.tx_count += 1
        if int(receipt["status"]) != 1:
            raise self._failure(tx, int(receipt["blockNumber"]), name)
        log.debug("transact: %s by %s used %d gas", name, self.address, gas)
        address = receipt.get("contractAddress")
        return TxResult(
            tx_hash="0x" + bytes(tx_hash).hex(),
            block_number=int(receipt["blockNumber"]),
            gas_used=gas,
            contract_address=str(address) if address else None,
            receipt=receipt,
        )

    def _failure(self, tx: dict[str, Any], block: int, name: str) -> ChainError:
        """Replay a failed transaction as a call on the state it met to recover its reason."""
        call = {k: tx[k] for k in ("from", "to", "data", "value") if k in tx}
        try:
            self.backend.w3.eth.call(cast(TxParams, call), block_identifier=max(block - 1, 0))
        except ContractLogicError as exc:
            return revert_error(exc)
        except Exception as exc:  # the replay itself failed: report what we know
            log.debug("transact: replay of %s failed: %s", name, exc)
        return TransactionFailedError(f"{name}: transaction failed in block {block}")


_SIGNERS: WeakKeyDictionary[ChainBackend, dict[str, Signer]] = WeakKeyDictionary()
_SIGNERS_LOCK = threading.Lock()


def signer_for(backend: ChainBackend, account: LocalAccount) -> Signer:
    """The :class:`Signer` of ``account`` on ``backend``: one per address per backend.

    Parameters
    ----------
    backend : ChainBackend
        Where the transactions go.
    account : LocalAccount
        The key that signs them.
    """
    with _SIGNERS_LOCK:
        by_address = _SIGNERS.setdefault(backend, {})
        found = by_address.get(account.address)
        if found is None:
            found = Signer(backend, account)
            by_address[account.address] = found
        return found


def fund(backend: ChainBackend, address: str, wei: int) -> TxResult:
    """Send ``wei`` of ether for gas to ``address`` from the chain's faucet.

    Parameters
    ----------
    backend : ChainBackend
        The chain.
    address : str
        Who receives the gas money.
    wei : int
        How much.

    Raises
    ------
    FundingError
        When this chain has no faucet (fund the account by other means).
    """
    faucet = backend.faucet_account()
    if faucet is None:
        raise FundingError(f"fund: {backend.describe()} has no faucet account")
    return signer_for(backend, faucet).send_value(address, wei)
