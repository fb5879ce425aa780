"""On-chain record of a vertical-FL task on FedTask v2: one round, guest and host.

The same FedTask contract as a horizontal task, on the same deployment and signers
(:func:`chain.provision`); each role sends from its own key:

1. the sponsor escrows the pool for a permissioned one-round task (quorum 2, the schedule and
   stakes of :class:`TaskTerms`) whose spec (JSON in the content store) describes the
   vertical training, and invites the guest and the host (EIP-712), who join with their
   invitations, locking their stakes;
2. the coordinator (the arbiter's role on chain) stakes if required and opens round 1 with
   the CID/hash of a *PSI manifest*: the salted intersection commitment (never the ids), the
   PSI method and the set sizes;
3. each party commits (``commitUpdate`` from its own key, before direct commitments close)
   the keccak hash and CID of its model part; the bytes stay in that party's own store;
4. after the reveal deadline the coordinator finalises with the joint model manifest, an
   evidence JSON (feature-group Shapley utilities, metrics, PSI commitment, the rewards
   plan), the Merkle root of the two parties' rewards (:class:`RewardPlan`: the budget split
   by Shapley score within the round's cap, which for one round is the whole pool) and
   their shares of the model in basis points;
5. after the challenge window each party claims by Merkle proof, the sponsor withdraws what
   the round left, and after the cooldown every staker withdraws its stake.

Deadlines are travelled past where the run owns the chain and the chain allows it (the
in-process chain, anvil, Hardhat), else waited for in real time.
:attr:`TaskRecorder.gas_used` sums the gas of the task's transactions.
"""

from fl_node.vertical.runner.onchain.recorder import KEY_VARIABLES, ROLES, TaskRecorder
from fl_node.vertical.runner.onchain.records import (
    ClaimRecord,
    RewardPlan,
    RewardsRecord,
    StakesRecord,
    TaskTimeline,
)
from fl_node.vertical.runner.onchain.terms import (
    BPS,
    DATA_ROLES,
    DAY,
    HOUR,
    QUORUM,
    TOKEN,
    TaskTerms,
    travel_schedule,
    waiting_schedule,
)

__all__ = [
    "BPS",
    "DATA_ROLES",
    "DAY",
    "HOUR",
    "KEY_VARIABLES",
    "QUORUM",
    "ROLES",
    "TOKEN",
    "ClaimRecord",
    "RewardPlan",
    "RewardsRecord",
    "StakesRecord",
    "TaskRecorder",
    "TaskTerms",
    "TaskTimeline",
    "travel_schedule",
    "waiting_schedule",
]
