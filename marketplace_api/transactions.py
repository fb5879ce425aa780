"""Unsigned transactions for the user's own wallet: buy, claim, stake, withdraw.

The service never holds a user's key. What only the user may do (pay for a licence, claim a
reward, lock or take back a stake, withdraw a balance) is sent from the user's wallet: the
service builds the calldata from the deployment's ABIs and the index (a reward's Merkle proof
is rebuilt from the round's verified allocations), and the wallet shows it, signs it and sends
it. A plan is a list of steps the wallet sends in order (an ERC-20 approval before the call that
spends it, when the allowance is short).

Each builder is a pure function of what it reads; nothing here writes to the chain. A plan whose
first step already spends is simulated (:func:`simulate`), so a step that would revert is refused
with the contract's reason before the wallet is asked to sign it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_typing import HexStr
from eth_utils.address import to_checksum_address
from eth_utils.exceptions import ValidationError
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractLogicError, Web3Exception

from chain.commitments import RewardTree
from chain.signer import revert_error
from marketplace_api.indexer import TaskSnapshot

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Step:
    """One transaction for the wallet to send.

    Attributes
    ----------
    to : str
        The contract called.
    data : str
        The calldata (0x hex).
    label : str
        What it does, in words the page shows.
    """

    to: str
    data: str
    label: str


def call(contract: Contract, function: str, args: Sequence[Any], label: str) -> Step:
    """A step calling ``function(*args)`` on ``contract``."""
    data = contract.encode_abi(function, args=list(args))
    return Step(to=str(contract.address), data=str(data), label=label)


def simulate(w3: Web3, account: str, step: Step) -> None:
    """Run ``step`` as ``account`` would send it now (``eth_call``); raise its revert, decoded.

    Raises
    ------
    ChainRevertError
        The step would revert: the error's name and arguments say why.
    """
    try:
        w3.eth.call({"from": to_checksum_address(account), "to": to_checksum_address(step.to),
                     "data": HexStr(step.data)})  # fmt: skip
    except ContractLogicError as exc:
        raise revert_error(exc) from None
    except (Web3Exception, ValidationError, ValueError) as exc:
        # a node that will not run the call at all (eth-tester charges the gas of an eth_call to
        # an account without ether): nothing is known, and the wallet estimates it again anyway
        log.info("simulate: %s not simulated: %s", step.label, type(exc).__name__)


def approval(token: Contract, spender: str, amount: int, allowance: int, what: str) -> list[Step]:
    """The approval step needed before spending ``amount`` (none when ``allowance`` covers it)."""
    if allowance >= amount or amount == 0:
        return []
    return [call(token, "approve", [spender, amount], f"Allow {what} to take the tokens")]


@dataclass(frozen=True)
class DueReward:
    """A round's reward an account can claim now: its amount and the proof of its leaf."""

    round: int
    amount: int
    proof: tuple[bytes, ...]


def due_rewards(snapshot: TaskSnapshot, account: str, now: int) -> list[DueReward]:
    """The rounds of ``snapshot`` whose reward ``account`` can claim at ``now``.

    A round counts when it is finalised, its challenge window has passed undisputed, its
    evidence's allocations rebuilt the on-chain rewards root (``allocations`` is set only then)
    and ``account`` has an amount in it it has not claimed.
    """
    due = []
    for r in snapshot.rounds:
        if not r.finalized or r.disputed or r.allocations is None or now < r.claimable_at:
            continue
        amount = r.allocations.get(account, 0)
        if amount <= 0 or r.claims.get(account):
            continue
        tree = RewardTree.build(snapshot.task_id, r.round, r.allocations)
        claim = tree.claim_for(account)
        due.append(DueReward(round=r.round, amount=amount, proof=tuple(claim.proof)))
    return due


def claim_step(fed_task: Contract, task_id: int, due: Sequence[DueReward]) -> Step:
    """One ``claimMany`` of every due round of a task (one transfer)."""
    total = sum(d.amount for d in due)
    return call(
        fed_task,
        "claimMany",
        [task_id, [d.round for d in due], [d.amount for d in due], [list(d.proof) for d in due]],
        f"Claim {len(due)} round{'s' if len(due) > 1 else ''} of task {task_id} ({total} wei)",
    )


__all__ = ["DueReward", "Step", "approval", "call", "claim_step", "due_rewards", "simulate"]
