"""One account's view of the chain: balances, its tasks, stakes, rewards and what it can pull.

Read from the deployment's contracts (and, for rewards due, the content store's evidence) into
one :class:`PartyReport`:

- its ether and tokens (:func:`chain.wallet.balances_of`);
- every task it sponsors, coordinates (or coordinated) or joined, found from FedTask's events
  (``TaskCreated``, ``CoordinatorReplaced``, ``TaskJoined``), each with the stake it holds there,
  the rewards it claimed (``RewardsClaimed``), with a store the rounds it can claim now by proof
  (:func:`task_rewards`, as ``fedmarket claim`` would) and its share of the final model;
- its shares of the models sold on the ModelMarket (:func:`model_shares`) and the balances the
  registry, the market and the court hold for it (:func:`pull_balances`), as ``fedmarket
  proceeds`` shows them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from chain.backends import ChainBackend
from chain.commitments import Claim
from chain.court import ChallengeCourtClient
from chain.deployment import Deployment
from chain.fed_task import (
    CoordinatorReplacedEvent,
    FedTaskClient,
    TaskCreatedEvent,
    TaskJoinedEvent,
)
from chain.market import ModelMarketClient
from chain.registry import DatasetRegistryClient
from chain.units import format_amount
from chain.wallet import Balances, balances_of
from fl_node.claims import due_claims
from fl_node.status.task import last_finalized_round
from kernel.types import Address, Wei
from storage import ContentStore


@dataclass(frozen=True)
class TaskRewards:
    """The rewards of one task an account can claim now, by proof.

    Attributes
    ----------
    task_id : int
        The task.
    claims : tuple of Claim
        One per round due now (window passed, undisputed, unclaimed, paying the account).
    waiting : int
        Finalised rounds not claimable yet (window running, disputed, or leaves not found).
    """

    task_id: int
    claims: tuple[Claim, ...]
    waiting: int

    @property
    def wei(self) -> int:
        """What claiming them pays."""
        return sum(int(c.amount) for c in self.claims)

    def to_dict(self) -> dict[str, Any]:
        """The report's entry."""
        return {
            "task_id": self.task_id,
            "rounds": [int(c.round) for c in self.claims],
            "claimable_wei": str(self.wei),
            "waiting_rounds": self.waiting,
        }


def joined_tasks(fed_task: FedTaskClient, account: str) -> list[int]:
    """The tasks ``account`` joined as a participant, by id.

    Parameters
    ----------
    fed_task : FedTaskClient
        FedTask.
    account : str
        The account.
    """
    return sorted({int(e.task_id) for e in fed_task.events(TaskJoinedEvent, participant=account)})


def task_rewards(
    fed_task: FedTaskClient,
    court: ChallengeCourtClient,
    store: ContentStore,
    account: str,
    task_ids: Iterable[int],
) -> list[TaskRewards]:
    """The rewards due now to ``account`` in each task, rebuilt from the stored evidence.

    Parameters
    ----------
    fed_task : FedTaskClient
        FedTask.
    court : ChallengeCourtClient
        Where corrected roots come from.
    store : ContentStore
        The shared store (a :class:`~storage.sealed_store.SealedStore` with the account's key
        opens the evidence of tasks that seal it).
    account : str
        The participant.
    task_ids : iterable of int
        The tasks it joined (:func:`joined_tasks`).
    """
    found = []
    for task_id in task_ids:
        last = last_finalized_round(fed_task, fed_task.task(task_id))
        due = due_claims(
            fed_task, store, task_id, Address(account), last_finalized=last, court=court
        )
        found.append(TaskRewards(task_id, tuple(due.claims), due.waiting))
    return found


@dataclass(frozen=True)
class ModelShare:
    """An account's share of a model listed on the ModelMarket, and its proceeds.

    Attributes
    ----------
    model_id, task_id : int
        The listing; the task that trained the model.
    share_bps : int
        The account's share of the task's final model (basis points).
    claimed, claimable : Wei
        Sale proceeds claimed so far; claimable now.
    """

    model_id: int
    task_id: int
    share_bps: int
    claimed: Wei
    claimable: Wei

    def to_dict(self) -> dict[str, Any]:
        """The report's entry (wei as decimal strings)."""
        return {
            "model_id": self.model_id,
            "task_id": self.task_id,
            "share_bps": self.share_bps,
            "claimed_wei": str(self.claimed),
            "claimable_wei": str(self.claimable),
        }


def model_shares(
    market: ModelMarketClient, fed_task: FedTaskClient, account: str
) -> list[ModelShare]:
    """``account``'s share of every listed model of a task it contributed to.

    Parameters
    ----------
    market : ModelMarketClient
        The ModelMarket.
    fed_task : FedTaskClient
        FedTask (the tasks' participants and shares).
    account : str
        The account.
    """
    found = []
    for listed in market.model_listed_events():
        task_id = int(listed.task_id)
        participants = [str(p) for p in fed_task.participants(task_id)]
        if account not in participants:
            continue
        share = fed_task.shares(task_id)[participants.index(account)]
        if share == 0:
            continue
        model_id = int(listed.model_id)
        claimed = market.claimed_proceeds(model_id, account)
        claimable = market.claimable_proceeds(model_id, account)
        found.append(ModelShare(model_id, task_id, share, Wei(claimed), Wei(claimable)))
    return found


@dataclass(frozen=True)
class PullBalances:
    """What the registry, the market and the court would pay an account on ``withdraw``.

    Attributes
    ----------
    registry : Wei
        Dataset sales and registry fees.
    market : Wei
        Sponsor cuts and market fees.
    court : Wei
        Bonds and validator rewards.
    """

    registry: Wei
    market: Wei
    court: Wei

    @property
    def total(self) -> int:
        """Everything together."""
        return int(self.registry) + int(self.market) + int(self.court)

    def items(self) -> list[tuple[str, int]]:
        """``(contract, amount)`` pairs, registry first."""
        return [("registry", self.registry), ("market", self.market), ("court", self.court)]

    def to_dict(self) -> dict[str, str]:
        """Wei as decimal strings, by contract."""
        return {name: str(amount) for name, amount in self.items()}


def pull_balances(
    registry: DatasetRegistryClient,
    market: ModelMarketClient,
    court: ChallengeCourtClient,
    account: str,
) -> PullBalances:
    """The registry's, the market's and the court's withdrawable balances of ``account``.

    Parameters
    ----------
    registry : DatasetRegistryClient
        The DatasetRegistry.
    market : ModelMarketClient
        The ModelMarket.
    court : ChallengeCourtClient
        The ChallengeCourt.
    account : str
        The account.
    """
    return PullBalances(
        registry=Wei(int(registry.withdrawable(account))),
        market=Wei(int(market.withdrawable(account))),
        court=Wei(int(court.balance_of(account))),
    )


@dataclass(frozen=True)
class PartyTask:
    """One task an account plays a part in.

    Attributes
    ----------
    task_id : int
        The task.
    status : str
        FedTask's status (``joining``, ``training``, ``completed``, ``cancelled``, ``aborted``).
    roles : tuple of str
        ``sponsor``, ``coordinator``, ``former_coordinator``, ``participant`` (in that order).
    stake : Wei
        Stake the account holds in it now.
    rewards_claimed : Wei
        Rewards it claimed from the task's rounds.
    rewards : TaskRewards or None
        Rewards it can claim now; ``None`` without a store, or when it is no participant.
    share_bps : int
        Its share of the final model (0 before completion or for non-contributors).
    remainder : Wei
        For the sponsor of an ended task: the unallocated escrow it can withdraw.
    """

    task_id: int
    status: str
    roles: tuple[str, ...]
    stake: Wei
    rewards_claimed: Wei
    rewards: TaskRewards | None
    share_bps: int
    remainder: Wei

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (wei as decimal strings)."""
        return {
            "task_id": self.task_id,
            "status": self.status,
            "roles": list(self.roles),
            "stake_wei": str(self.stake),
            "rewards_claimed_wei": str(self.rewards_claimed),
            "rewards_claimable_wei": str(self.rewards.wei) if self.rewards else None,
            "claimable_rounds": [int(c.round) for c in self.rewards.claims]
            if self.rewards
            else None,
            "waiting_rounds": self.rewards.waiting if self.rewards else None,
            "share_bps": self.share_bps,
            "remainder_wei": str(self.remainder),
        }


@dataclass(frozen=True)
class PartyReport:
    """One account's view (:func:`read_party_status`).

    Attributes
    ----------
    account : Address
        The account.
    chain_time : int
        The chain's time the report was made at.
    balances : Balances
        Its ether and tokens.
    tasks : tuple of PartyTask
        The tasks it plays a part in, by id.
    models : tuple of ModelShare
        Its shares of models on sale.
    pull : PullBalances
        What the registry, the market and the court hold for it.
    """

    account: Address
    chain_time: int
    balances: Balances
    tasks: tuple[PartyTask, ...]
    models: tuple[ModelShare, ...]
    pull: PullBalances

    @property
    def claimable(self) -> int:
        """Everything it can pull now (rewards known only with a store)."""
        rewards = sum(t.rewards.wei for t in self.tasks if t.rewards is not None)
        remainders = sum(int(t.remainder) for t in self.tasks)
        proceeds = sum(int(m.claimable) for m in self.models)
        return rewards + remainders + proceeds + self.pull.total

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (wei as decimal strings)."""
        return {
            "account": self.account,
            "chain_time": self.chain_time,
            "balances": self.balances.to_dict(),
            "tasks": [t.to_dict() for t in self.tasks],
            "models": [m.to_dict() for m in self.models],
            "balances_wei": self.pull.to_dict(),
            "stakes_wei": str(sum(int(t.stake) for t in self.tasks)),
            "claimable_wei": str(self.claimable),
            "claimable": format_amount(self.claimable),
        }


_ROLE_ORDER = ("sponsor", "coordinator", "former_coordinator", "participant")


def roles_by_task(fed_task: FedTaskClient, account: str) -> dict[int, set[str]]:
    """The tasks ``account`` sponsored, coordinated or joined, from FedTask's events.

    Parameters
    ----------
    fed_task : FedTaskClient
        FedTask.
    account : str
        The account.
    """
    roles: dict[int, set[str]] = {}
    for created in fed_task.events(TaskCreatedEvent, sponsor=account):
        roles.setdefault(int(created.task_id), set()).add("sponsor")
    coordinated = [e.task_id for e in fed_task.events(TaskCreatedEvent, coordinator=account)]
    coordinated += [
        e.task_id for e in fed_task.events(CoordinatorReplacedEvent, coordinator=account)
    ]
    for coordinated_id in coordinated:
        roles.setdefault(int(coordinated_id), set()).add("coordinator")
    for joined_id in joined_tasks(fed_task, account):
        roles.setdefault(joined_id, set()).add("participant")
    return roles


def read_party_status(
    backend: ChainBackend,
    deployment: Deployment,
    account: str,
    *,
    store: ContentStore | None = None,
) -> PartyReport:
    """Read ``account``'s view of the deployment now.

    Parameters
    ----------
    backend : ChainBackend
        The chain.
    deployment : Deployment
        The contracts.
    account : str
        The account (checksummed).
    store : ContentStore or None, default None
        The shared store: rebuilds the rewards due now from the evidence.
    """
    fed_task = deployment.fed_task_client(backend)
    market = deployment.market_client(backend)
    court = deployment.court_client(backend)
    roles = roles_by_task(fed_task, account)
    claimed: dict[int, int] = {}
    for event in fed_task.claims(account=account):
        claimed[int(event.task_id)] = claimed.get(int(event.task_id), 0) + int(event.amount)
    joined = [t for t in sorted(roles) if "participant" in roles[t]]
    due = {}
    if store is not None:
        due = {r.task_id: r for r in task_rewards(fed_task, court, store, account, joined)}
    tasks = tuple(
        _party_task(fed_task, account, task_id, roles[task_id], (claimed.get(task_id, 0), due))
        for task_id in sorted(roles)
    )
    return PartyReport(
        account=Address(account),
        chain_time=backend.chain_time(),
        balances=balances_of(backend, deployment.token_client(backend), account),
        tasks=tasks,
        models=tuple(model_shares(market, fed_task, account)),
        pull=pull_balances(deployment.registry_client(backend), market, court, account),
    )


def _party_task(
    fed_task: FedTaskClient,
    account: str,
    task_id: int,
    roles: set[str],
    rewards: tuple[int, dict[int, TaskRewards]],
) -> PartyTask:
    """One task of the report: the account's roles, stake, rewards, share, remainder."""
    info = fed_task.task(task_id)
    found = set(roles)
    if "coordinator" in found and info.coordinator != account:
        found.discard("coordinator")
        found.add("former_coordinator")
    sponsor = "sponsor" in found
    claimed, due = rewards
    return PartyTask(
        task_id=task_id,
        status=info.status.name.lower(),
        roles=tuple(r for r in _ROLE_ORDER if r in found),
        stake=fed_task.stake_of(task_id, account),
        rewards_claimed=Wei(claimed),
        rewards=due.get(task_id),
        share_bps=fed_task.share_of(task_id, account) if "participant" in found else 0,
        remainder=info.unallocated if sponsor and info.status.ended else Wei(0),
    )
