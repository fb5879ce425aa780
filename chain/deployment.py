"""Deploying the contracts and remembering where they are.

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
from chain.errors import DeploymentError
from chain.fed_task import FedTaskClient
from chain.registry import DatasetRegistryClient
from chain.signer import Signer
from chain.token import RewardTokenClient

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Deployment:
    """Addresses of one deployment of the fedmarket contracts."""

    chain_id: int
    token: str
    registry: str
    fed_task: str
    block: int  # the block of the first deployment transaction: event scans start here

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return asdict(self)

    def save(self, path: str | Path) -> Path:
        """Write as JSON."""
        target = Path(path)
        target.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        return target

    @classmethod
    def load(cls, path: str | Path) -> Deployment:
        """Read a deployment file, validating its fields.

        Raises
        ------
        DeploymentError
            When the file is missing or malformed.
        """
        try:
            raw = json.loads(Path(path).read_text("utf-8"))
            found = cls(
                chain_id=int(raw["chain_id"]),
                token=str(raw["token"]),
                registry=str(raw["registry"]),
                fed_task=str(raw["fed_task"]),
                block=int(raw["block"]),
            )
        except FileNotFoundError:
            raise DeploymentError(f"Deployment.load: no deployment file at {path}") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise DeploymentError(f"Deployment.load: malformed {path}: {exc}") from None
        for name in ("token", "registry", "fed_task"):
            if not is_checksum_address(getattr(found, name)):
                raise DeploymentError(f"Deployment.load: {name} is not a checksummed address")
        return found

    def fed_task_client(self, backend: ChainBackend, signer: Signer | None = None) -> FedTaskClient:
        """The FedTask client of this deployment (event scans start at its block)."""
        return FedTaskClient(backend, self.fed_task, signer, from_block=self.block)

    def token_client(
        self, backend: ChainBackend, signer: Signer | None = None
    ) -> RewardTokenClient:
        """The RewardToken client of this deployment."""
        return RewardTokenClient(backend, self.token, signer, from_block=self.block)

    def registry_client(
        self, backend: ChainBackend, signer: Signer | None = None
    ) -> DatasetRegistryClient:
        """The DatasetRegistry client of this deployment."""
        return DatasetRegistryClient(backend, self.registry, signer, from_block=self.block)

    def check(self, backend: ChainBackend) -> None:
        """Raise :class:`DeploymentError` unless ``backend`` is this chain and has the code."""
        if backend.chain_id != self.chain_id:
            raise DeploymentError(
                f"check: deployment is for chain {self.chain_id}, node is {backend.chain_id}"
            )
        for name in ("token", "registry", "fed_task"):
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


def deploy(signer: Signer) -> Deployment:
    """Deploy RewardToken (owned by ``signer``), DatasetRegistry and FedTask.

    Parameters
    ----------
    signer : Signer
        The deployer; it becomes the token's owner (the only account that may mint).
    """
    token, first_block = _deploy_one(signer, "RewardToken", signer.address)
    registry, _ = _deploy_one(signer, "DatasetRegistry")
    fed_task, _ = _deploy_one(signer, "FedTask", token)
    return Deployment(
        chain_id=signer.backend.chain_id,
        token=token,
        registry=registry,
        fed_task=fed_task,
        block=first_block,
    )
