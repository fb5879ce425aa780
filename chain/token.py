"""Typed wrapper of the RewardToken (ERC-20)."""

from __future__ import annotations

from chain._client import ContractClient
from chain.signer import TxResult
from kernel.types import Wei


class RewardTokenClient(ContractClient):
    """Balances, allowances, transfers and (owner-only) minting."""

    artifact_name = "RewardToken"

    def balance_of(self, account: str) -> Wei:
        """Token balance of ``account``."""
        return Wei(int(self._call(self.contract.functions.balanceOf(account))))

    def total_supply(self) -> Wei:
        """All tokens in existence."""
        return Wei(int(self._call(self.contract.functions.totalSupply())))

    def allowance(self, owner: str, spender: str) -> Wei:
        """What ``spender`` may move from ``owner``."""
        return Wei(int(self._call(self.contract.functions.allowance(owner, spender))))

    def mint(self, to: str, amount: int) -> TxResult:
        """Create ``amount`` for ``to`` (token owner only)."""
        return self._send(self.contract.functions.mint(to, amount))

    def approve(self, spender: str, amount: int) -> TxResult:
        """Let ``spender`` move ``amount`` of the signer's tokens."""
        return self._send(self.contract.functions.approve(spender, amount))

    def transfer(self, to: str, amount: int) -> TxResult:
        """Send ``amount`` to ``to``."""
        return self._send(self.contract.functions.transfer(to, amount))
