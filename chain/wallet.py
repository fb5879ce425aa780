"""An account's balances, token transfers checked before sending, and the dev-chain faucet.

- :func:`balances_of`: an account's ether (for gas) and reward tokens.
- :func:`send_tokens`: an ERC-20 transfer from the signer's account, refused with
  :class:`~chain.errors.InsufficientBalanceError` *before* anything is sent when the account
  holds too little (never a raw ``ERC20InsufficientBalance`` revert).
- :func:`faucet`: on a development chain only, ether from the node's funded account and freshly
  minted tokens, every check made before the first transaction: the chain is a dev chain
  (:func:`dev_faucet_account`: an in-process chain, or a node with a funded faucet account and
  chain id 31337 or 1337), the minter holds ``MINTER_ROLE`` and the cap leaves room. On any other
  chain it refuses with :class:`~chain.errors.NotDevChainError` whoever asks, the token's real
  minter included: minting on a live chain is an administrator's transaction, not a faucet's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from eth_account.signers.local import LocalAccount

from chain.backends import ChainBackend, InProcessBackend
from chain.errors import InsufficientBalanceError, NotDevChainError, NotMinterError, TokenCapError
from chain.signer import signer_for
from chain.token import RewardTokenClient
from chain.units import format_amount
from kernel.errors import ConfigurationError
from kernel.types import Address, Wei

log = logging.getLogger(__name__)

DEV_CHAIN_IDS = frozenset({31337, 1337})
"""Chain ids of development nodes: anvil and the Hardhat node (31337), Ganache and geth --dev
(1337)."""


@dataclass(frozen=True)
class Balances:
    """What an account holds.

    Attributes
    ----------
    account : Address
        The account.
    eth : Wei
        Ether, in wei (pays the gas).
    tokens : Wei
        Reward tokens (FMT), in token wei.
    """

    account: Address
    eth: Wei
    tokens: Wei

    def to_dict(self) -> dict[str, str]:
        """JSON-ready: wei as decimal strings, and the same in whole units."""
        return {
            "account": self.account,
            "eth_wei": str(self.eth),
            "eth": format_amount(self.eth),
            "fmt_wei": str(self.tokens),
            "fmt": format_amount(self.tokens),
        }


def balances_of(backend: ChainBackend, token: RewardTokenClient, account: str) -> Balances:
    """``account``'s ether and reward tokens now.

    Parameters
    ----------
    backend : ChainBackend
        The chain.
    token : RewardTokenClient
        The deployment's token (read-only is enough).
    account : str
        The account.
    """
    checksummed = backend.w3.to_checksum_address(account)
    return Balances(
        account=Address(checksummed),
        eth=Wei(int(backend.w3.eth.get_balance(checksummed))),
        tokens=token.balance_of(checksummed),
    )


@dataclass(frozen=True)
class Sent:
    """One transaction of :func:`send_tokens` or :func:`faucet`.

    Attributes
    ----------
    what : str
        ``"transfer"``, ``"ether"`` or ``"mint"``.
    sender, recipient : Address
        Who paid (the minter, for a mint) and who received.
    amount : Wei
        How much, in wei.
    tx_hash : str
        The transaction.
    block : int
        Its block.
    """

    what: str
    sender: Address
    recipient: Address
    amount: Wei
    tx_hash: str
    block: int

    def to_dict(self) -> dict[str, object]:
        """JSON-ready."""
        return {
            "what": self.what,
            "from": self.sender,
            "to": self.recipient,
            "amount_wei": str(self.amount),
            "amount": format_amount(self.amount),
            "tx": self.tx_hash,
            "block": self.block,
        }


def send_tokens(token: RewardTokenClient, to: str, amount: int) -> Sent:
    """Transfer ``amount`` token wei from ``token``'s signer to ``to``, its balance checked first.

    Parameters
    ----------
    token : RewardTokenClient
        The token, sending as the payer.
    to : str
        The recipient.
    amount : int
        Token wei (> 0).

    Raises
    ------
    InsufficientBalanceError
        The payer holds less than ``amount``: nothing was sent.
    """
    signer = token.signer
    if signer is None:
        raise ConfigurationError("send_tokens: a read-only token client cannot send")
    held = token.balance_of(signer.address)
    if held < amount:
        raise InsufficientBalanceError(
            f"{signer.address} holds {format_amount(held)} FMT, less than the "
            f"{format_amount(amount)} FMT to send: nothing was sent"
        )
    tx = token.transfer(to, amount)
    log.info("send_tokens: %s -> %s, %s wei", signer.address, to, amount)
    return Sent(
        "transfer", Address(signer.address), Address(to), Wei(amount), tx.tx_hash, tx.block_number
    )


def is_dev_chain(chain_id: int, *, has_faucet: bool, in_process: bool = False) -> bool:
    """Whether a chain is a development chain, whose faucet may hand out ether and tokens.

    Parameters
    ----------
    chain_id : int
        The chain id the node reports.
    has_faucet : bool
        Whether the backend has a funded faucet account (a JSON-RPC backend has one only on
        chain 31337, or when given a key).
    in_process : bool, default False
        Whether the chain lives in this process (always a dev chain).
    """
    return in_process or (has_faucet and chain_id in DEV_CHAIN_IDS)


def dev_faucet_account(backend: ChainBackend) -> LocalAccount:
    """The funded account of a development chain.

    Parameters
    ----------
    backend : ChainBackend
        The chain.

    Raises
    ------
    NotDevChainError
        The chain has no faucet account, or its chain id is not a development one.
    """
    account = backend.faucet_account()
    in_process = isinstance(backend, InProcessBackend)
    if account is None or not is_dev_chain(
        backend.chain_id, has_faucet=True, in_process=in_process
    ):
        why = "has no funded faucet account" if account is None else "is not a development chain"
        raise NotDevChainError(
            f"faucet: {backend.describe()} {why} (chain id {sorted(DEV_CHAIN_IDS)} only): "
            "nothing was sent"
        )
    return account


def check_mint(token: RewardTokenClient, minter: str, amount: int) -> None:
    """Refuse, before sending, a mint that would revert: no ``MINTER_ROLE``, or above the cap.

    Parameters
    ----------
    token : RewardTokenClient
        The token.
    minter : str
        The account that would mint.
    amount : int
        Token wei to mint.

    Raises
    ------
    NotMinterError
        ``minter`` lacks ``MINTER_ROLE``.
    TokenCapError
        The supply would pass the token's cap.
    """
    if not token.is_minter(minter):
        raise NotMinterError(
            f"{minter} does not hold the token's MINTER_ROLE: nothing was sent (give the "
            "minter's key, e.g. the deployer's, with --key-env)"
        )
    room = token.mintable()
    if amount > room:
        raise TokenCapError(
            f"minting {format_amount(amount)} FMT would pass the token's cap "
            f"({format_amount(token.cap())} FMT; {format_amount(room)} left): nothing was sent"
        )


def faucet(
    token: RewardTokenClient,
    to: str,
    *,
    eth: int,
    tokens: int,
    minter: LocalAccount | None = None,
) -> list[Sent]:
    """On a development chain: send ``to`` ether for gas and mint it ``tokens``.

    Every check is made before the first transaction (see the module's docstring).

    Parameters
    ----------
    token : RewardTokenClient
        The deployment's token (read-only is enough).
    to : str
        The recipient.
    eth : int
        Ether to send, in wei (0: none).
    tokens : int
        Tokens to mint, in token wei (0: none).
    minter : LocalAccount or None, default None
        Who mints; ``None`` for the chain's faucet account (the deployer on a dev chain).

    Raises
    ------
    NotDevChainError, NotMinterError, TokenCapError
        Nothing was sent.
    """
    backend = token.backend
    funded = dev_faucet_account(backend)
    mints_as = minter if minter is not None else funded
    if tokens:
        check_mint(token, mints_as.address, tokens)
    sent: list[Sent] = []
    if eth:
        tx = signer_for(backend, funded).send_value(to, eth, label="faucet ether")
        sent.append(
            Sent(
                "ether", Address(funded.address), Address(to), Wei(eth), tx.tx_hash, tx.block_number
            )
        )
    if tokens:
        tx = token.as_signer(signer_for(backend, mints_as)).mint(to, tokens)
        sent.append(
            Sent(
                "mint",
                Address(mints_as.address),
                Address(to),
                Wei(tokens),
                tx.tx_hash,
                tx.block_number,
            )
        )
    log.info("faucet: %s got %s wei of ether and %s token wei", to, eth, tokens)
    return sent


__all__ = [
    "DEV_CHAIN_IDS",
    "Balances",
    "Sent",
    "balances_of",
    "check_mint",
    "dev_faucet_account",
    "faucet",
    "is_dev_chain",
    "send_tokens",
]
