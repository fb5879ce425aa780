"""Deploying the five contracts of protocol v2, wiring them, and remembering where they are.

:func:`deploy` deploys RewardToken, DatasetRegistry, FedTask, ChallengeCourt and ModelMarket with
the parameters of a :class:`DeploymentParams`, then grants FedTask's ``COURT_ROLE`` to the court.
A :class:`Deployment` (chain id, addresses, deployment block) is all a party needs besides its key
and the RPC URL; it is saved as JSON and shared with every participant.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

from eth_utils.address import is_checksum_address

from chain.artifacts import load_artifact
from chain.backends import ChainBackend
from chain.court import ChallengeCourtClient
from chain.errors import DeploymentError
from chain.fed_task import FedTaskClient
from chain.market import ModelMarketClient
from chain.registry import DatasetRegistryClient
from chain.signer import Signer
from chain.token import RewardTokenClient

log = logging.getLogger(__name__)

TOKEN = 10**18
"""One reward token in wei (18 decimals)."""

DAY = 86_400
"""Seconds in a day."""

_CONTRACT_FIELDS = ("token", "registry", "fed_task", "court", "market")


@dataclass(frozen=True)
class DeploymentParams:
    """Constructor parameters of a deployment (every contract's admin is the deployer).

    Attributes
    ----------
    token_cap : int, default 10**9 tokens
        RewardToken's supply cap, in wei.
    registry_fee_bps : int, default 250
        DatasetRegistry's protocol fee on dataset sales (at most 1,000).
    market_fee_bps : int, default 250
        ModelMarket's protocol fee on model sales (at most 1,000).
    fee_recipient : str or None, default None
        Account credited with both fees; ``None`` for the deployer.
    min_validator_stake : int, default 1,000 tokens
        Smallest stake a court validator registers with, in wei.
    challenge_bond : int, default 100 tokens
        Bond a challenger locks, in wei.
    voting_period : int, default 3 days
        Seconds a challenge takes votes.
    exit_cooldown : int, default 7 days
        Seconds between a validator's exit and its withdrawal.
    """

    token_cap: int = 10**9 * TOKEN
    registry_fee_bps: int = 250
    market_fee_bps: int = 250
    fee_recipient: str | None = None
    min_validator_stake: int = 1_000 * TOKEN
    challenge_bond: int = 100 * TOKEN
    voting_period: int = 3 * DAY
    exit_cooldown: int = 7 * DAY


@dataclass(frozen=True)
class Deployment:
    """Addresses of one deployment of the fedmarket contracts.

    Attributes
    ----------
    chain_id : int
        The chain.
    token, registry, fed_task, court, market : str
        Checksummed addresses of RewardToken, DatasetRegistry, FedTask, ChallengeCourt and
        ModelMarket.
    block : int
        The block of the first deployment transaction: event scans start here.
    """

    chain_id: int
    token: str
    registry: str
    fed_task: str
    court: str
    market: str
    block: int

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return asdict(self)

    def save(self, path: str | Path) -> Path:
        """Write as JSON.

        Parameters
        ----------
        path : str or Path
            The file to write.
        """
        target = Path(path)
        target.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        return target

    @classmethod
    def load(cls, path: str | Path) -> Deployment:
        """Read a deployment file, validating its fields.

        Parameters
        ----------
        path : str or Path
            The file :meth:`save` wrote.

        Raises
        ------
        DeploymentError
            When the file is missing or malformed (a protocol v1 file lacks the court and the
            market: redeploy).
        """
        try:
            raw = json.loads(Path(path).read_text("utf-8"))
            addresses = {name: str(raw[name]) for name in _CONTRACT_FIELDS}
            found = cls(chain_id=int(raw["chain_id"]), block=int(raw["block"]), **addresses)
        except FileNotFoundError:
            raise DeploymentError(f"Deployment.load: no deployment file at {path}") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise DeploymentError(f"Deployment.load: malformed {path}: {exc!r}") from None
        for name in _CONTRACT_FIELDS:
            if not is_checksum_address(getattr(found, name)):
                raise DeploymentError(f"Deployment.load: {name} is not a checksummed address")
        return found

    def fed_task_client(self, backend: ChainBackend, signer: Signer | None = None) -> FedTaskClient:
        """The FedTask client of this deployment (event scans start at its block).

        Parameters
        ----------
        backend : ChainBackend
            The chain.
        signer : Signer or None, default None
            Who sends; ``None`` for a read-only client.
        """
        return FedTaskClient(backend, self.fed_task, signer, from_block=self.block)

    def token_client(
        self, backend: ChainBackend, signer: Signer | None = None
    ) -> RewardTokenClient:
        """The RewardToken client of this deployment.

        Parameters
        ----------
        backend : ChainBackend
            The chain.
        signer : Signer or None, default None
            Who sends; ``None`` for a read-only client.
        """
        return RewardTokenClient(backend, self.token, signer, from_block=self.block)

    def registry_client(
        self, backend: ChainBackend, signer: Signer | None = None
    ) -> DatasetRegistryClient:
        """The DatasetRegistry client of this deployment.

        Parameters
        ----------
        backend : ChainBackend
            The chain.
        signer : Signer or None, default None
            Who sends; ``None`` for a read-only client.
        """
        return DatasetRegistryClient(backend, self.registry, signer, from_block=self.block)

    def court_client(
        self, backend: ChainBackend, signer: Signer | None = None
    ) -> ChallengeCourtClient:
        """The ChallengeCourt client of this deployment.

        Parameters
        ----------
        backend : ChainBackend
            The chain.
        signer : Signer or None, default None
            Who sends; ``None`` for a read-only client.
        """
        return ChallengeCourtClient(backend, self.court, signer, from_block=self.block)

    def market_client(
        self, backend: ChainBackend, signer: Signer | None = None
    ) -> ModelMarketClient:
        """The ModelMarket client of this deployment.

        Parameters
        ----------
        backend : ChainBackend
            The chain.
        signer : Signer or None, default None
            Who sends; ``None`` for a read-only client.
        """
        return ModelMarketClient(backend, self.market, signer, from_block=self.block)

    def check(self, backend: ChainBackend) -> None:
        """Raise :class:`DeploymentError` unless ``backend`` is this chain and has the code.

        Parameters
        ----------
        backend : ChainBackend
            The chain to check.
        """
        if backend.chain_id != self.chain_id:
            raise DeploymentError(
                f"check: deployment is for chain {self.chain_id}, node is {backend.chain_id}"
            )
        for name in _CONTRACT_FIELDS:
            if not backend.w3.eth.get_code(getattr(self, name)):
                raise DeploymentError(f"check: no contract code at {name} {getattr(self, name)}")


def _deploy_one(signer: Signer, name: str, *args: object) -> tuple[str, int]:
    artifact = load_artifact(name)
    factory = signer.backend.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    result = signer.transact(factory.constructor(*args), label=f"deploy {name}")
    if not result.contract_address:
        raise DeploymentError(f"deploy: {name} has no contract address in its receipt")
    log.info("deploy: %s at %s (%d gas)", name, result.contract_address, result.gas_used)
    return result.contract_address, result.block_number


def deploy(signer: Signer, params: DeploymentParams | None = None) -> Deployment:
    """Deploy and wire RewardToken, DatasetRegistry, FedTask, ChallengeCourt and ModelMarket.

    The deployer is every contract's admin (and the token's only minter); FedTask's
    ``COURT_ROLE`` goes to the court.

    Parameters
    ----------
    signer : Signer
        The deployer.
    params : DeploymentParams or None, default None
        Constructor parameters; ``None`` for the defaults.
    """
    p = params or DeploymentParams()
    admin = signer.address
    fees_to = p.fee_recipient or admin
    token, first_block = _deploy_one(signer, "RewardToken", admin, p.token_cap)
    registry, _ = _deploy_one(signer, "DatasetRegistry", token, admin, fees_to, p.registry_fee_bps)
    fed_task, _ = _deploy_one(signer, "FedTask", token, admin)
    court, _ = _deploy_one(
        signer,
        "ChallengeCourt",
        *(token, fed_task, admin, p.min_validator_stake, p.challenge_bond),
        *(p.voting_period, p.exit_cooldown),
    )
    market, _ = _deploy_one(
        signer, "ModelMarket", token, fed_task, admin, fees_to, p.market_fee_bps
    )
    fed_task_client = FedTaskClient(signer.backend, fed_task, signer)
    fed_task_client.grant_role(fed_task_client.court_role(), court)
    return Deployment(
        chain_id=signer.backend.chain_id,
        token=token,
        registry=registry,
        fed_task=fed_task,
        court=court,
        market=market,
        block=first_block,
    )
