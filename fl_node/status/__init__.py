"""What an operator asks of the chain now: where a task stands, and one account's view.

- :mod:`fl_node.status.task`: a task's phase, current round, deadlines, stakes, money, disputes
  and whether a missed deadline makes it abortable (:func:`read_task_status`); the phase and
  deadline rules are pure functions of the task's records and the chain's time.
- :mod:`fl_node.status.party`: an account's balances, the tasks it sponsors, coordinates or
  joined, its stakes and rewards (claimed, and due now with a store), its shares of models sold
  and what the registry, the market and the court hold for it (:func:`read_party_status`).

``fedmarket status`` prints both; ``fedmarket task show`` and ``fedmarket proceeds`` read their
finalised rounds, model shares, pull balances and due rewards from here too.
"""

from fl_node.status.party import (
    ModelShare,
    PartyReport,
    PartyTask,
    PullBalances,
    TaskRewards,
    joined_tasks,
    model_shares,
    pull_balances,
    read_party_status,
    roles_by_task,
    task_rewards,
)
from fl_node.status.task import (
    Deadline,
    FinalizedRound,
    Money,
    Overdue,
    RoundProgress,
    Stake,
    TaskPhase,
    TaskStatusReport,
    deadlines_of,
    finalized_round,
    finalized_rounds,
    last_finalized_round,
    overdue_of,
    read_task_status,
    stakes_withdrawable_at,
    task_phase,
)

__all__ = [
    "Deadline",
    "FinalizedRound",
    "ModelShare",
    "Money",
    "Overdue",
    "PartyReport",
    "PartyTask",
    "PullBalances",
    "RoundProgress",
    "Stake",
    "TaskPhase",
    "TaskRewards",
    "TaskStatusReport",
    "deadlines_of",
    "finalized_round",
    "finalized_rounds",
    "joined_tasks",
    "last_finalized_round",
    "model_shares",
    "overdue_of",
    "pull_balances",
    "read_party_status",
    "read_task_status",
    "roles_by_task",
    "stakes_withdrawable_at",
    "task_phase",
    "task_rewards",
]
