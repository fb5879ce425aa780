"""A test wallet for the browser tests: an EIP-1193 provider whose key stays in Python.

:func:`install_wallet` injects ``window.ethereum`` into a Playwright page before any of its
scripts run. The page's own code calls ``window.ethereum.request({method, params})`` as it would
MetaMask's; the call crosses to :class:`TestWallet` (``page.expose_function``), which signs with
a test key and talks to a real chain node. So the page signs and sends for real; only the
person clicking "Confirm" is replaced by :attr:`TestWallet.approve` (set it to ``False`` and
every signature or transaction is refused with EIP-1193's code 4001, as a user would).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from eth_account.messages import encode_defunct, encode_typed_data
from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3 import Web3

log = logging.getLogger(__name__)

USER_REJECTED = 4001
UNKNOWN_CHAIN = 4902

PROVIDER_SCRIPT = """
(() => {
  const listeners = {};
  window.ethereum = {
    isFedmarketTestWallet: true,
    async request({ method, params }) {
      const raw = await window.__fedmarketWallet(method, JSON.stringify(params || []));
      const answer = JSON.parse(raw);
      if (answer.error) {
        const error = new Error(answer.error.message);
        error.code = answer.error.code;
        throw error;
      }
      return answer.result;
    },
    on(event, handler) { (listeners[event] = listeners[event] || []).push(handler); },
    removeListener(event, handler) {
      listeners[event] = (listeners[event] || []).filter((h) => h !== handler);
    },
  };
})();
"""


class WalletRefusal(Exception):
    """An EIP-1193 error answered to the page (``code`` and ``message``)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def _jsonable(value: Any) -> Any:
    if isinstance(value, (bytes, HexBytes)):
        return "0x" + bytes(value).hex()
    if isinstance(value, int) and not isinstance(value, bool):
        return hex(value)
    if isinstance(value, dict) or hasattr(value, "items"):
        return {k: _jsonable(v) for k, v in dict(value).items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


@dataclass
class TestWallet:
    """The Python side of the injected provider: one account on one chain node.

    Attributes
    ----------
    account : LocalAccount
        The key that signs.
    w3 : Web3
        The chain node transactions go to.
    approve : bool
        ``False`` refuses every signature and transaction (code 4001), as a user would.
    chain_id : int or None
        The chain the wallet says it is on (``None``: the node's); another one makes the page
        meet a wrong network, and ``wallet_switchEthereumChain`` is refused.
    calls : list of str
        Every method the page asked for, in order.
    sent : list of str
        Hashes of the transactions sent.
    """

    __test__ = False  # not a test class, despite its name

    account: LocalAccount
    w3: Web3
    approve: bool = True
    chain_id: int | None = None
    calls: list[str] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)

    def handle(self, method: str, params_json: str) -> str:
        """Answer one ``request`` of the page as JSON (``result`` or ``error``)."""
        self.calls.append(method)
        try:
            result = self._dispatch(method, json.loads(params_json))
        except WalletRefusal as refusal:
            return json.dumps({"error": {"code": refusal.code, "message": str(refusal)}})
        except Exception as exc:  # the page sees what a wallet would say: an RPC error
            log.info("wallet %s failed: %s", method, exc)
            error = {"code": -32603, "message": f"{type(exc).__name__}: {exc}"}
            return json.dumps({"error": error})
        return json.dumps({"result": _jsonable(result)})

    @property
    def node_chain_id(self) -> int:
        return int(self.w3.eth.chain_id)

    def _consent(self, what: str) -> None:
        if not self.approve:
            raise WalletRefusal(USER_REJECTED, f"User rejected the {what}.")

    def _dispatch(self, method: str, params: list[Any]) -> Any:
        own = {
            "eth_requestAccounts": lambda: [self.account.address],
            "eth_accounts": lambda: [self.account.address],
            "eth_chainId": lambda: hex(self.chain_id or self.node_chain_id),
            "personal_sign": lambda: self._personal_sign(params),
            "eth_signTypedData_v4": lambda: self._sign_typed(params),
            "eth_sendTransaction": lambda: self._send(params[0]),
            "wallet_switchEthereumChain": lambda: self._switch(params[0]),
        }
        if method in own:
            return own[method]()
        return self.w3.provider.make_request(method, params).get("result")  # type: ignore[arg-type]

    def _personal_sign(self, params: list[Any]) -> str:
        message_hex, address = params
        if address.lower() != self.account.address.lower():
            raise WalletRefusal(4100, "not this wallet's account")
        self._consent("signature")
        signed = self.account.sign_message(encode_defunct(hexstr=message_hex))
        return "0x" + bytes(signed.signature).hex()

    def _sign_typed(self, params: list[Any]) -> str:
        address, typed = params
        if address.lower() != self.account.address.lower():
            raise WalletRefusal(4100, "not this wallet's account")
        self._consent("signature")
        signed = self.account.sign_message(encode_typed_data(full_message=json.loads(typed)))
        return "0x" + bytes(signed.signature).hex()

    def _switch(self, target: dict[str, str]) -> None:
        if int(target["chainId"], 16) != (self.chain_id or self.node_chain_id):
            raise WalletRefusal(UNKNOWN_CHAIN, "Unrecognized chain ID.")

    def _send(self, tx: dict[str, Any]) -> str:
        if str(tx.get("from", "")).lower() != self.account.address.lower():
            raise WalletRefusal(4100, "not this wallet's account")
        self._consent("transaction")
        call = {
            "from": self.account.address,
            "to": Web3.to_checksum_address(tx["to"]),
            "data": tx.get("data", "0x"),
            "value": int(tx.get("value", "0x0"), 16),
        }
        gas = self.w3.eth.estimate_gas(call)  # type: ignore[arg-type]
        full = {
            **call,
            "gas": gas + gas // 5,
            "nonce": self.w3.eth.get_transaction_count(self.account.address, "pending"),
            "chainId": self.node_chain_id,
            "maxFeePerGas": self.w3.eth.gas_price * 2 + 1,
            "maxPriorityFeePerGas": 1,
        }
        signed = self.account.sign_transaction(full)
        tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
        self.sent.append("0x" + bytes(tx_hash).hex())
        return self.sent[-1]


def install_wallet(page: Any, wallet: TestWallet) -> None:
    """Inject ``wallet`` as ``window.ethereum`` into ``page`` (before any of its scripts run)."""
    page.expose_function("__fedmarketWallet", wallet.handle)
    page.add_init_script(PROVIDER_SCRIPT)


__all__ = ["PROVIDER_SCRIPT", "TestWallet", "WalletRefusal", "install_wallet"]
