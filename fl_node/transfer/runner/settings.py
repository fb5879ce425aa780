"""What one ``fedmarket ftl`` run does: hyperparameters, seed, subset, pool, chain terms."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fl_node.transfer.config import MFConfig

if TYPE_CHECKING:
    from chain.fed_task import Schedule
    from fl_node.vertical.runner.onchain import TaskTerms

TOKEN = 10**18
ROLE_OF = {"target": "guest", "source": "host"}
"""The on-chain role of each party (the vertical recorder's two participants)."""
PARTIES = ("target", "source")


@dataclass(frozen=True)
class FtlSettings:
    """Everything a run does besides the dataset and the output folder.

    Attributes
    ----------
    config : MFConfig
        The matrix factorisation, the same for every method.
    seed : int, default 0
        Seeds the split of the target's ratings and every initialisation.
    max_users : int, default 0
        Keep this many users drawn at random (0: all), for fast tests.
    workers : int, default 2
        PSI processes.
    data_dir : Path or None, default None
        Folder of the X-Wines files (``None``: ``$FEDMARKET_DATA_DIR/xwines_slim``).
    pool_tokens : int, default 100
        Reward pool in whole tokens.
    owns_chain : bool, default True
        Travel past deadlines where the chain allows it.
    schedule : Schedule or None, default None
        The task's timetable (``None``: the recorder's default).
    participant_stake_tokens, coordinator_stake_tokens : int, default 0
        Stakes in whole tokens.
    """

    config: MFConfig = field(default_factory=MFConfig)
    seed: int = 0
    max_users: int = 0
    workers: int = 2
    data_dir: Path | None = None
    pool_tokens: int = 100
    owns_chain: bool = True
    schedule: Schedule | None = None
    participant_stake_tokens: int = 0
    coordinator_stake_tokens: int = 0

    @property
    def pool_wei(self) -> int:
        """The reward pool in wei."""
        return self.pool_tokens * TOKEN

    def terms(self) -> TaskTerms:
        """The task's terms on chain: pool, schedule, stakes."""
        from fl_node.vertical.runner.onchain import TaskTerms

        return TaskTerms(
            pool=self.pool_wei,
            schedule=self.schedule,
            participant_stake=self.participant_stake_tokens * TOKEN,
            coordinator_stake=self.coordinator_stake_tokens * TOKEN,
        )

    def task_spec(self, dataset: str) -> dict[str, Any]:
        """The task spec stored in the content store (its keccak hash goes on chain)."""
        return {
            "kind": "federated-transfer-mf",
            "version": 1,
            "dataset": dataset,
            "domains": {"source": "red wines", "target": "every other wine type"},
            "parties": {"guest": "target (its ratings)", "host": "source (its ratings)"},
            "psi": "ecdh-oprf-secp256k1",
            "protocol": "shared user factors of the PSI users, full-batch Adam at the "
            "coordinator on the sum of the two parties' X25519/ChaCha20-masked fixed-point "
            "gradients (Z_2^64); items and unshared users stay local",
            "config": self.config.to_dict(),
            "seed": self.seed,
            "max_users": self.max_users,
            "split": {"valid": 0.1, "test": 0.2, "of": "the target's ratings"},
            "contribution": CONTRIBUTION_RULE,
        }


CONTRIBUTION_RULE = (
    "exact two-party Shapley; utility v(S) = the target's validation RMSE of the global-mean "
    "predictor minus that of the model trained on S's ratings: v({}) = v({source}) = 0 (no "
    "target rating, no target prediction), v({target}) = target-only, v({target, source}) = "
    "federated"
)

__all__ = ["CONTRIBUTION_RULE", "PARTIES", "ROLE_OF", "TOKEN", "FtlSettings"]
