"""A party without ether for gas gets a :class:`FundingError`, on every backend.

Regression: the node's answer (anvil's and geth's "insufficient funds for gas * price +
value", eth-tester's "cannot afford txn gas") surfaced as a raw web3 or eth-utils error, which
the command line reports as an unexpected error (exit 70) instead of a configuration fault
naming the account (exit 2).
"""

from __future__ import annotations

import pytest

from chain import ChainBackend, deploy, fund, new_account, signer_for
from chain.errors import FundingError


def test_a_signer_without_gas_money_is_a_funding_error(backend: ChainBackend) -> None:
    faucet = backend.faucet_account()
    assert faucet is not None
    deployment = deploy(signer_for(backend, faucet))
    broke = new_account()
    token = deployment.token_client(backend, signer_for(backend, broke))
    with pytest.raises(FundingError) as refused:
        token.approve(deployment.market, 1)
    assert str(refused.value) == (
        f"{broke.address} has too little ether to pay the gas of approve: fund it first"
    )
    fund(backend, broke.address, 10**18)  # the signer resynchronises its nonce and goes on
    token.approve(deployment.market, 1)
    assert deployment.token_client(backend).allowance(broke.address, deployment.market) == 1
