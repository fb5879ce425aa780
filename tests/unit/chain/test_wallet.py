"""The faucet's refusals, made before anything is sent (no chain needed: stub backends).

An attacker's view: on a chain that is not a development chain the faucet hands out nothing,
whoever asks and whatever key they configure; a minter without the role or a mint above the cap
is refused before the first transaction, ether included.
"""

from __future__ import annotations

from typing import Any

import pytest
from eth_account import Account

from chain.errors import NotDevChainError, NotMinterError, TokenCapError
from chain.wallet import DEV_CHAIN_IDS, dev_faucet_account, faucet, is_dev_chain
from fedmarket.cli.errors import exit_code

DEV_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
RECIPIENT = "0x" + "ab" * 20


class StubBackend:
    """A backend that says which chain it is and refuses to be used for anything else."""

    def __init__(self, chain_id: int, faucet_key: str | None) -> None:
        self.chain_id = chain_id
        self._faucet = Account.from_key(faucet_key) if faucet_key else None

    def faucet_account(self) -> Any:
        return self._faucet

    def describe(self) -> str:
        return f"stub (chain {self.chain_id})"

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the faucet touched backend.{name} before refusing")


class StubToken:
    """A token that answers the role and cap checks and fails on any write."""

    def __init__(self, backend: StubBackend, *, minter: bool = True, room: int = 10**30) -> None:
        self.backend = backend
        self._minter = minter
        self._room = room

    def is_minter(self, account: str) -> bool:
        return self._minter

    def mintable(self) -> int:
        return self._room

    def cap(self) -> int:
        return self._room

    def as_signer(self, signer: Any) -> Any:
        raise AssertionError("the faucet tried to send")


@pytest.mark.parametrize(
    ("chain_id", "has_faucet", "in_process", "dev"),
    [
        (31337, True, False, True),
        (1337, True, False, True),
        (31337, False, False, False),  # a dev chain id with no funded account: nothing to give
        (1, True, False, False),  # mainnet, even with a key configured as the faucet
        (11155111, True, False, False),  # a testnet
        (131277322940537, False, True, True),  # the in-process chain
    ],
)
def test_what_counts_as_a_dev_chain(chain_id: int, has_faucet: bool, in_process: bool, dev: bool):
    assert is_dev_chain(chain_id, has_faucet=has_faucet, in_process=in_process) is dev
    assert {31337, 1337} == set(DEV_CHAIN_IDS)


@pytest.mark.parametrize(
    ("chain_id", "key", "says"),
    [
        (1, None, "has no funded faucet account"),
        (1, DEV_KEY, "is not a development chain"),
        (5, DEV_KEY, "is not a development chain"),
        (31337, None, "has no funded faucet account"),
    ],
)
def test_the_faucet_gives_nothing_on_a_chain_that_is_not_a_dev_chain(chain_id, key, says):
    backend = StubBackend(chain_id, key)
    with pytest.raises(NotDevChainError) as refused:
        dev_faucet_account(backend)  # type: ignore[arg-type]
    assert says in str(refused.value) and "nothing was sent" in str(refused.value)
    # the token's real minter, named by the caller, changes nothing
    minter = Account.from_key(DEV_KEY)
    with pytest.raises(NotDevChainError):
        faucet(StubToken(backend), RECIPIENT, eth=10**18, tokens=10**18, minter=minter)  # type: ignore[arg-type]
    assert exit_code(refused.value) == 5


def test_a_minter_without_the_role_is_refused_before_any_ether_moves() -> None:
    token = StubToken(StubBackend(31337, DEV_KEY), minter=False)
    with pytest.raises(NotMinterError) as refused:
        faucet(token, RECIPIENT, eth=10**18, tokens=1)  # type: ignore[arg-type]
    assert "MINTER_ROLE" in str(refused.value) and exit_code(refused.value) == 5


def test_a_mint_above_the_cap_is_refused_before_any_ether_moves() -> None:
    token = StubToken(StubBackend(31337, DEV_KEY), room=10**18)
    with pytest.raises(TokenCapError) as refused:
        faucet(token, RECIPIENT, eth=10**18, tokens=10**18 + 1)  # type: ignore[arg-type]
    assert "cap" in str(refused.value) and "1 left" in str(refused.value)
    assert exit_code(refused.value) == 5
