"""``/transactions``: unsigned transactions for the user's wallet (buy, claim, stake, withdraw).

Each answer is a :class:`TransactionPlan`: the steps the wallet sends in order from ``account``
(see :mod:`marketplace_api.transactions`). Nothing is signed or sent by the service, and no
session is needed: a plan only encodes what anyone could encode from the chain and the index.
What cannot succeed is refused here with the reason (a model not for sale, nothing to claim,
a task no longer joining; otherwise the first step is simulated and a revert is answered as every
revert is, by the contract error's name), so the wallet is not asked to sign a transaction that
would revert.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from eth_utils.address import to_checksum_address
from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field
from web3 import Web3
from web3.contract import Contract

from chain.artifacts import load_artifact
from marketplace_api import crud
from marketplace_api.api.deps import (
    FedTaskDep,
    MarketDep,
    ScopeDep,
    ServicesDep,
    SessionDep,
)
from marketplace_api.api.routes.content import ItemId
from marketplace_api.errors import ConflictError, NotFoundError
from marketplace_api.indexer import TaskSnapshot
from marketplace_api.schemas import AddressStr
from marketplace_api.transactions import (
    Step,
    approval,
    call,
    claim_step,
    due_rewards,
    simulate,
)

router = APIRouter(prefix="/transactions", tags=["transactions"])

AccountQuery = Annotated[AddressStr, Query(description="The wallet that will send the steps.")]
_REFUSED: dict[int | str, dict[str, Any]] = {
    404: {"description": "The item does not exist."},
    409: {"description": "The transaction would revert now (the detail says why)."},
}


class StepPublic(BaseModel):
    """One transaction: send ``data`` to ``to`` with no ether attached."""

    to: AddressStr
    data: str = Field(description="Calldata, 0x hex.")
    label: str = Field(description="What it does, for the person signing.")


class TransactionPlan(BaseModel):
    """The transactions to send from ``account``, in order, on chain ``chain_id``."""

    chain_id: int
    account: AddressStr
    steps: list[StepPublic]


def _plan(
    scope: crud.Scope, account: str, steps: list[Step], w3: Web3 | None = None
) -> TransactionPlan:
    """The plan of ``steps``; with ``w3``, its first step is simulated first (see ``simulate``)."""
    if w3 is not None and steps:
        simulate(w3, account, steps[0])
    public = [StepPublic(to=s.to, data=s.data, label=s.label) for s in steps]
    return TransactionPlan(chain_id=scope.chain_id, account=account, steps=public)


@router.get("/models/{model_id}/buy", response_model=TransactionPlan, responses=_REFUSED)
def buy_model(
    model_id: ItemId, account: AccountQuery, scope: ScopeDep, services: ServicesDep,
    market: MarketDep,
) -> Any:  # fmt: skip
    """Approve the price (when the allowance is short), then ``buy(modelId, maxPrice)``.

    ``maxPrice`` is the price read now: a listing repriced upwards before the purchase is mined
    reverts instead of charging more.
    """
    listing = market.model(model_id)
    if not listing.active:
        raise ConflictError(f"model {model_id} is not for sale")
    if market.has_licence(model_id, account):
        raise ConflictError(f"{account} already holds a licence of model {model_id}")
    token = services.token.contract
    allowance = services.token.allowance(account, str(market.contract.address))
    steps = approval(token, str(market.contract.address), listing.price, allowance, "ModelMarket")
    steps.append(call(market.contract, "buy", [model_id, listing.price], f"Buy model {model_id}"))
    return _plan(scope, account, steps, services.backend.w3 if len(steps) == 1 else None)


@router.get("/models/{model_id}/claim-proceeds", response_model=TransactionPlan,
            responses=_REFUSED)  # fmt: skip
def claim_proceeds(
    model_id: ItemId, account: AccountQuery, scope: ScopeDep, market: MarketDep
) -> Any:
    """``claimProceeds(modelId)``: a contributor's part of the model's sales so far."""
    if market.claimable_proceeds(model_id, account) <= 0:
        raise ConflictError(f"{account} has no proceeds of model {model_id} to claim")
    step = call(market.contract, "claimProceeds", [model_id], f"Claim proceeds of model {model_id}")
    return _plan(scope, account, [step], market.backend.w3)


def _snapshot(session: SessionDep, scope: crud.Scope, task_id: int) -> TaskSnapshot:
    row = crud.get_task(session, scope, task_id)
    if row is None:
        raise NotFoundError(f"task {task_id} does not exist")
    return TaskSnapshot.model_validate(row.detail)


@router.get("/tasks/{task_id}/claim", response_model=TransactionPlan, responses=_REFUSED)
def claim_rewards(
    task_id: ItemId, account: AccountQuery, session: SessionDep, scope: ScopeDep,
    fed_task: FedTaskDep,
) -> Any:  # fmt: skip
    """``claimMany`` of every round of the task whose reward ``account`` can claim now."""
    head = crud.index_head(session, scope)
    snapshot = _snapshot(session, scope, task_id)
    due = due_rewards(snapshot, account, head.timestamp if head else 0)
    if not due:
        raise ConflictError(f"{account} has no reward of task {task_id} to claim now")
    return _plan(scope, account, [claim_step(fed_task.contract, task_id, due)], fed_task.backend.w3)


@router.get("/tasks/{task_id}/join", response_model=TransactionPlan, responses=_REFUSED)
def join_task(
    task_id: ItemId, account: AccountQuery, session: SessionDep, scope: ScopeDep,
    services: ServicesDep, fed_task: FedTaskDep,
) -> Any:  # fmt: skip
    """Approve the participant stake (when short), then ``joinTask`` (open tasks only)."""
    snapshot = _snapshot(session, scope, task_id)
    if snapshot.status != "joining":
        raise ConflictError(f"task {task_id} is {snapshot.status}, not joining")
    if snapshot.permissioned:
        raise ConflictError(f"task {task_id} admits participants by invitation only")
    spender = str(fed_task.contract.address)
    allowance = services.token.allowance(account, spender)
    steps = approval(
        services.token.contract, spender, snapshot.participant_stake, allowance, "FedTask"
    )
    steps.append(call(fed_task.contract, "joinTask", [task_id, 0, b""], f"Join task {task_id}"))
    return _plan(scope, account, steps, services.backend.w3 if len(steps) == 1 else None)


@router.get("/tasks/{task_id}/withdraw-stake", response_model=TransactionPlan,
            responses=_REFUSED)  # fmt: skip
def withdraw_stake(
    task_id: ItemId, account: AccountQuery, session: SessionDep, scope: ScopeDep,
    fed_task: FedTaskDep,
) -> Any:  # fmt: skip
    """``withdrawStake(taskId)``: a stake back once the task ended and its cooldown passed."""
    _snapshot(session, scope, task_id)
    if fed_task.stake_of(task_id, account) <= 0:
        raise ConflictError(f"{account} has no stake in task {task_id}")
    step = call(
        fed_task.contract, "withdrawStake", [task_id], f"Take back the stake of task {task_id}"
    )
    return _plan(scope, account, [step], fed_task.backend.w3)


@router.get("/withdraw/{contract}", response_model=TransactionPlan, responses=_REFUSED)
def withdraw_balance(
    contract: Annotated[Literal["registry", "market", "court"], Path()],
    account: AccountQuery,
    scope: ScopeDep,
    services: ServicesDep,
) -> Any:
    """``withdraw()`` of the account's balance in the registry, the market or the court."""
    clients = {"registry": services.registry, "market": services.market}
    target = clients[contract].contract if contract in clients else _court(services)
    step = call(target, "withdraw", [], f"Withdraw from the {contract}")
    return _plan(scope, account, [step], services.backend.w3)


def _court(services: ServicesDep) -> Contract:
    abi = load_artifact("ChallengeCourt").abi
    address = to_checksum_address(services.contracts["court"])
    return services.backend.w3.eth.contract(address=address, abi=abi)


__all__ = ["StepPublic", "TransactionPlan", "router"]
