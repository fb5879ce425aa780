"""What the API talks to: the chain, the relayer's key, the content store and the database.

Built from :class:`~marketplace_api.core.config.Settings` when the API runs as its own service, or
injected by an embedding program (the demo shares its in-process chain and store with the API
served from one of its threads).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount
from sqlalchemy.exc import IntegrityError

from chain import (
    ChainBackend,
    DatasetRegistryClient,
    Deployment,
    FedTaskClient,
    RewardTokenClient,
    Signer,
    connect,
    signer_for,
)
from chain.market import ModelMarketClient
from kernel.errors import ConfigurationError
from marketplace_api.core.config import Settings
from marketplace_api.core.db import Database
from marketplace_api.crud import DeploymentIdentity, Scope, ensure_deployment
from marketplace_api.errors import ServiceUnavailableError
from storage import ContentStore, LocalCidStore

log = logging.getLogger(__name__)


@dataclass
class Services:
    """The API's collaborators, shared by every request.

    Parameters
    ----------
    backend : ChainBackend
        The chain (in-process or JSON-RPC); thread-safe.
    deployment : Deployment
        Addresses of the contracts (protocol v2: token, registry, FedTask, court, market).
    relayer : Signer
        Sends relayed listings and pays their gas.
    store : ContentStore
        Where metadata documents are stored and model cards are read.
    database : Database
        The marketplace database.
    owns_backend : bool, default False
        Whether :meth:`close` also closes ``backend`` (it does when built from settings).
    """

    backend: ChainBackend
    deployment: Deployment
    relayer: Signer
    store: ContentStore
    database: Database
    owns_backend: bool = False
    registry: DatasetRegistryClient = field(init=False)
    fed_task: FedTaskClient = field(init=False)
    market: ModelMarketClient = field(init=False)
    token: RewardTokenClient = field(init=False)
    _scope: Scope | None = field(init=False, default=None, repr=False)

    @property
    def scope(self) -> Scope:
        """The deployment whose listings this API reads and writes.

        Raises
        ------
        ServiceUnavailableError
            Before :meth:`start` ran (the application's start-up does it).
        """
        if self._scope is None:
            raise ServiceUnavailableError("the marketplace (not started yet)")
        return self._scope

    def start(self) -> Scope:
        """Bring the database schema to head and register the deployment (idempotent).

        Called by the application at start-up.
        """
        self.database.migrate()
        block = self.backend.w3.eth.get_block(self.deployment.block)
        identity = DeploymentIdentity.of(self.deployment, bytes(block["hash"]))
        try:
            scope = self._register(identity)
        except IntegrityError:  # another process registered it at the same moment
            scope = self._register(identity)
        self._scope = scope
        log.info(
            "start: deployment %s (chain %s, registry %s, market %s, court %s)",
            scope.deployment_id,
            scope.chain_id,
            scope.registry,
            scope.market,
            scope.court,
        )
        return scope

    def _register(self, identity: DeploymentIdentity) -> Scope:
        with self.database.session() as session:
            scope = ensure_deployment(session, identity)
            session.commit()
        return scope

    def __post_init__(self) -> None:
        self.registry = self.deployment.registry_client(self.backend, self.relayer)
        self.fed_task = self.deployment.fed_task_client(self.backend)
        self.market = self.deployment.market_client(self.backend)
        self.token = self.deployment.token_client(self.backend)

    @property
    def contracts(self) -> dict[str, str]:
        """The deployment's contract addresses: token, registry, fed_task, court, market."""
        d = self.deployment
        return {
            "token": d.token,
            "registry": d.registry,
            "fed_task": d.fed_task,
            "court": d.court,
            "market": d.market,
        }

    @classmethod
    def embedded(
        cls,
        *,
        backend: ChainBackend,
        deployment: Deployment,
        relayer: Signer | LocalAccount,
        store: ContentStore,
        database_url: str = "sqlite:///./fedmarket.db",
        database: Database | None = None,
    ) -> Services:
        """Services over objects the caller already holds (e.g. an in-process chain).

        Parameters
        ----------
        backend : ChainBackend
            The chain, shared with the caller.
        deployment : Deployment
            The contracts on it.
        relayer : Signer or LocalAccount
            The relayer (a ``LocalAccount`` is turned into ``backend``'s signer for it).
        store : ContentStore
            The content store, shared with the caller.
        database_url : str, default "sqlite:///./fedmarket.db"
            Database to open when ``database`` is not given.
        database : Database or None, default None
            A database to use as is (tests pass one whose sessions are rolled back).
        """
        signer = relayer if isinstance(relayer, Signer) else signer_for(backend, relayer)
        return cls(
            backend=backend,
            deployment=deployment,
            relayer=signer,
            store=store,
            database=database or Database.from_url(database_url),
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> Services:
        """Connect to everything ``settings`` names.

        Raises
        ------
        ConfigurationError
            When no chain URL or deployment file is configured.
        ChainConnectionError
            When the chain node cannot be reached.
        DeploymentError
            When the deployment is not on that chain.
        """
        if settings.chain_url is None:
            raise ConfigurationError(
                "Services.from_settings: FEDMARKET_API_CHAIN_URL is not set (an in-process chain "
                "is only possible when the embedding program injects the services)"
            )
        if settings.deployment_file is None:
            raise ConfigurationError(
                "Services.from_settings: FEDMARKET_API_DEPLOYMENT_FILE is not set"
            )
        deployment = Deployment.load(settings.deployment_file)
        backend = connect(settings.chain_url)
        try:
            deployment.check(backend)
        except Exception:
            backend.close()
            raise
        account: LocalAccount = Account.from_key(settings.relayer_key.get_secret_value())
        log.info("from_settings: %s", settings.redacted())
        return cls(
            backend=backend,
            deployment=deployment,
            relayer=signer_for(backend, account),
            store=LocalCidStore(Path(settings.store_dir)),
            database=Database.from_url(settings.database_url),
            owns_backend=True,
        )

    def close(self) -> None:
        """Release the database connections (and the chain connection when owned)."""
        self.database.dispose()
        if self.owns_backend:
            self.backend.close()


__all__ = ["Services"]
