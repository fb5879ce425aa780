"""``/participants/{address}``: what an account earned, staked and bought, from the index.

Everything comes from the index (the chain's events), as of the last block indexed:

- **rewards** of the tasks it joined: ``claimed_wei`` (``RewardsClaimed``), ``claimable_wei``
  (its allocations in finalised rounds whose challenge window passed undisputed, not claimed
  yet), ``pending_wei`` (allocations of rounds still in their window or disputed). Allocations
  count only where the round's evidence rebuilds the on-chain rewards root; rounds that pay but
  whose evidence could not be checked are counted in ``unverified_rounds``;
- **proceeds** of model sales for the tasks it contributed to: the ModelMarket's proceeds times
  its share, less what it claimed (``ProceedsClaimed``), per model;
- **balances** it can withdraw from the registry (its datasets' sales), the market (its models'
  sponsor cuts) and the court (bonds back and rewards), fees included where it was the fee
  recipient: credited less withdrawn (``Withdrawn``);
- **stakes** it holds in tasks (as participant, coordinator or former coordinator), and the
  **licences** it bought (datasets and models).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from marketplace_api import crud
from marketplace_api.api.deps import ScopeDep, SessionDep
from marketplace_api.crud import Scope
from marketplace_api.indexer import TaskSnapshot
from marketplace_api.models import ChainEvent, IndexedTask, TaskAccount
from marketplace_api.schemas import AddressStr, Hash32Hex, TaskStatusName, Wei

router = APIRouter(prefix="/participants", tags=["participants"])

BPS = 10_000
_SALES = {"registry": ("DatasetBought", "ownerAmount"), "market": ("ModelBought", "sponsorAmount")}


class RewardsPublic(BaseModel):
    """Task rewards of one account, summed over its tasks."""

    claimed_wei: Wei
    claimable_wei: Wei = Field(description="Allocated in rounds claimable now, not claimed.")
    pending_wei: Wei = Field(description="Allocated in rounds still in their window or disputed.")
    unverified_rounds: int = Field(description="Paying rounds whose evidence could not be checked.")


class ModelProceedsPublic(BaseModel):
    """A contributor's part of one model's sales."""

    model_id: int
    task_id: int
    share_bps: int
    claimed_wei: Wei
    claimable_wei: Wei


class ProceedsPublic(BaseModel):
    """Model sale proceeds of one contributor."""

    claimed_wei: Wei
    claimable_wei: Wei
    models: list[ModelProceedsPublic]


class BalancePublic(BaseModel):
    """A pull balance in one contract."""

    contract: Literal["registry", "market", "court"]
    credited_wei: Wei
    withdrawn_wei: Wei
    withdrawable_wei: Wei


class EarningsPublic(BaseModel):
    """Everything an account earned: claimed and claimable."""

    claimed_wei: Wei = Field(description="Rewards and proceeds claimed, balances withdrawn.")
    claimable_wei: Wei = Field(description="Rewards and proceeds claimable, balances withdrawable.")
    rewards: RewardsPublic
    proceeds: ProceedsPublic
    balances: list[BalancePublic]


class StakePublic(BaseModel):
    """A stake an account holds in a task."""

    task_id: int
    role: Literal["participant", "coordinator", "former_coordinator"]
    task_status: TaskStatusName
    stake_wei: Wei


class LicencePublic(BaseModel):
    """A licence an account bought."""

    kind: Literal["dataset", "model"]
    item_id: int
    paid_wei: Wei
    block: int
    tx_hash: Hash32Hex
    bought_at: int


class ParticipantPublic(BaseModel):
    """An account's earnings, stakes and licences, as of ``indexed_block``."""

    address: AddressStr
    indexed_block: int | None
    earnings: EarningsPublic
    stakes: list[StakePublic]
    licences: list[LicencePublic]


def task_rewards(
    address: str, accounts: Sequence[TaskAccount], tasks: dict[int, IndexedTask], now: int
) -> RewardsPublic:
    """Claimed, claimable and pending rewards of ``address`` over the tasks it joined."""
    claimed = claimable = pending = unverified = 0
    for account in accounts:
        if account.role != "participant" or account.task_id not in tasks:
            continue
        claimed += int(account.claimed_wei)
        snapshot = TaskSnapshot.model_validate(tasks[account.task_id].detail)
        for r in snapshot.rounds:
            if not r.finalized or r.budget == 0:
                continue
            if r.allocations is None:
                unverified += 1
                continue
            amount = r.allocations.get(address, 0)
            if not amount or r.claims.get(address):
                continue
            if now >= r.claimable_at and not r.disputed:
                claimable += amount
            else:
                pending += amount
    return RewardsPublic(
        claimed_wei=claimed,
        claimable_wei=claimable,
        pending_wei=pending,
        unverified_rounds=unverified,
    )


def model_proceeds(
    session: Session, scope: Scope, address: str, accounts: Sequence[TaskAccount]
) -> ProceedsPublic:
    """``address``'s part of the sales of the models of the tasks it has a share in."""
    shares = {a.task_id: a.share_bps for a in accounts if a.share_bps}
    models = crud.market_models(session, scope, task_ids=list(shares)) if shares else []
    paid: dict[int, int] = {}
    for e in crud.events(
        session, scope, contract="market", names=["ProceedsClaimed"], account=address
    ):
        paid[int(e.item_id or 0)] = paid.get(int(e.item_id or 0), 0) + int(e.args["amount"])
    items = []
    for m in models:
        bps = int(shares[m.task_id] or 0)
        claimed = paid.get(m.model_id, 0)
        claimable = max(int(m.proceeds_wei) * bps // BPS - claimed, 0)
        items.append(
            ModelProceedsPublic(
                model_id=m.model_id,
                task_id=m.task_id,
                share_bps=bps,
                claimed_wei=claimed,
                claimable_wei=claimable,
            )
        )
    return ProceedsPublic(
        claimed_wei=sum(paid.values()),
        claimable_wei=sum(i.claimable_wei for i in items),
        models=items,
    )


def _fees(session: Session, scope: Scope, contract: str, address: str) -> int:
    """Fees credited to ``address`` while it was ``contract``'s fee recipient."""
    changes = crud.events(session, scope, contract=contract, names=["FeeRecipientChanged"])
    if not any(c.account == address for c in changes):
        return 0
    sales = crud.events(session, scope, contract=contract, names=[_SALES[contract][0]])
    total = 0
    for sale in sales:
        before = [c for c in changes if (c.block, c.log_index) < (sale.block, sale.log_index)]
        if before and before[-1].account == address:
            total += int(sale.args["fee"])
    return total


def _credits(session: Session, scope: Scope, contract: str, address: str) -> int:
    """What the contract credited ``address``'s pull balance with."""
    if contract == "court":
        opened = crud.events(
            session, scope, contract="court", names=["ChallengeOpened"], account=address
        )
        resolved = crud.events(
            session,
            scope,
            contract="court",
            names=["ChallengeResolved"],
            item_ids=[int(e.item_id or 0) for e in opened],
        )
        judged = crud.events(
            session, scope, contract="court", names=["ValidatorJudged"], account=address
        )
        return sum(int(e.args["challengerPaid"]) for e in resolved) + sum(
            int(e.args["reward"]) for e in judged
        )
    if contract == "registry":
        items = crud.dataset_ids_of(session, scope, address)
    else:
        items = [m.model_id for m in crud.market_models(session, scope, lister=address)]
    name, field = _SALES[contract]
    sales: list[ChainEvent] = (
        crud.events(session, scope, contract=contract, names=[name], item_ids=items)
        if items
        else []
    )
    return sum(int(e.args[field]) for e in sales) + _fees(session, scope, contract, address)


def balances(session: Session, scope: Scope, address: str) -> list[BalancePublic]:
    """``address``'s pull balances in the registry, the market and the court."""
    found = []
    for contract in ("registry", "market", "court"):
        credited = _credits(session, scope, contract, address)
        withdrawn = sum(
            int(e.args["amount"])
            for e in crud.events(
                session, scope, contract=contract, names=["Withdrawn"], account=address
            )
        )
        found.append(
            BalancePublic(
                contract=contract,
                credited_wei=credited,
                withdrawn_wei=withdrawn,
                withdrawable_wei=max(credited - withdrawn, 0),
            )
        )
    return found


def earnings(
    session: Session, scope: Scope, address: str, accounts: Sequence[TaskAccount], now: int
) -> EarningsPublic:
    """Rewards, proceeds and balances of ``address``."""
    tasks = crud.tasks_by_id(session, scope, [a.task_id for a in accounts])
    rewards = task_rewards(address, accounts, tasks, now)
    proceeds = model_proceeds(session, scope, address, accounts)
    held = balances(session, scope, address)
    return EarningsPublic(
        claimed_wei=rewards.claimed_wei + proceeds.claimed_wei + sum(b.withdrawn_wei for b in held),
        claimable_wei=rewards.claimable_wei
        + proceeds.claimable_wei
        + sum(b.withdrawable_wei for b in held),
        rewards=rewards,
        proceeds=proceeds,
        balances=held,
    )


@router.get("/{address}", response_model=ParticipantPublic)
def read_participant(
    address: Annotated[AddressStr, Path()], session: SessionDep, scope: ScopeDep
) -> Any:
    """An account's earnings (claimed and claimable), stakes and licences, from the index."""
    head = crud.index_head(session, scope)
    accounts = crud.task_accounts_of(session, scope, address)
    tasks = crud.tasks_by_id(session, scope, [a.task_id for a in accounts])
    return ParticipantPublic(
        address=address,
        indexed_block=head.block if head else None,
        earnings=earnings(session, scope, address, accounts, head.timestamp if head else 0),
        stakes=[
            StakePublic(
                task_id=a.task_id,
                role=a.role,
                task_status=tasks[a.task_id].status,
                stake_wei=int(a.stake_wei),
            )
            for a in accounts
            if int(a.stake_wei) and a.task_id in tasks
        ],
        licences=[
            LicencePublic(
                kind=lic.kind,
                item_id=lic.item_id,
                paid_wei=int(lic.paid_wei),
                block=lic.block,
                tx_hash=lic.tx_hash,
                bought_at=lic.bought_at,
            )
            for lic in crud.licences_of(session, scope, address)
        ],
    )
