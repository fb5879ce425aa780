"""What the API talks to: the chain, the relayer's key, the content store and the database.

Built from :class:`~marketplace_api.core.config.Settings` when the API runs as its own service, or
injected by an embedding program (the demo shares its in-process chain and store with the API
served from one of its threads).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace

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
from marketplace_api.auth import SignInPolicy, SignInService
from marketplace_api.auth import create_tables as create_auth_tables
from marketplace_api.cache import ResponseCache
from marketplace_api.content import ContentService, KeyVault, open_access_log, open_store
from marketplace_api.content import create_tables as create_content_tables
from marketplace_api.core.config import Settings
from marketplace_api.core.db import Database, PoolOptions
from marketplace_api.crud import DeploymentIdentity, Scope, ensure_deployment
from marketplace_api.descriptions import create_tables as create_description_tables
from marketplace_api.errors import ServiceUnavailableError
from marketplace_api.indexer import Indexer, IndexerOptions, IndexerThread, catch_up
from marketplace_api.relay import RelayGuard, RelayPolicy
from storage import ContentStore, IpfsStore
from storage.access_log import AccessLog

log = logging.getLogger(__name__)


def prepare_database(database: Database) -> None:
    """Bring the schema to head; create the sign-in, content and description tables (idempotent).

    Parameters
    ----------
    database : Database
        The marketplace database.
    """
    database.migrate()
    create_auth_tables(database.engine)
    create_content_tables(database.engine)
    create_description_tables(database.engine)


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
        Whether :meth:`close` also closes ``backend`` and ``store`` (it does when built from
        settings).
    sign_in : SignInService, default SignInService()
        Sign-In with Ethereum: nonces and sessions (lifetimes, public URL, clock).
    vault : KeyVault, default KeyVault.development()
        Seals content keys at rest under the master key (the public development key unless
        given: settings require one of their own in production).
    index_interval : float or None, default 1.0
        Seconds between two looks of the background indexer at the chain (started by
        :meth:`start`); ``None`` runs no indexer thread: the index then catches up only when a
        request needs it (:meth:`catch_up`) or the embedding program syncs it.
    index_options : IndexerOptions or None, default None
        Batch size and confirmation depth of the indexer (its poll interval is ``index_interval``).
    response_cache : ResponseCache, default ResponseCache()
        Pages of the chain index served again while the index is unchanged
        (:mod:`marketplace_api.cache`); ``ResponseCache(0)`` turns it off.
    relay_policy : RelayPolicy, default RelayPolicy.unlimited()
        Rate limits, gas budget and balance floor of relayed writes (:attr:`relay` enforces
        them); services built from settings get the configured ones.
    access_log : AccessLog or None, default None
        Records every content key grant and envelope download (``FEDMARKET_API_ACCESS_LOG_DIR``).
    """

    backend: ChainBackend
    deployment: Deployment
    relayer: Signer
    store: ContentStore
    database: Database
    owns_backend: bool = False
    sign_in: SignInService = field(default_factory=SignInService)
    vault: KeyVault = field(default_factory=KeyVault.development)
    index_interval: float | None = 1.0
    index_options: IndexerOptions | None = None
    response_cache: ResponseCache = field(default_factory=ResponseCache)
    relay_policy: RelayPolicy = field(default_factory=RelayPolicy.unlimited)
    access_log: AccessLog | None = None
    registry: DatasetRegistryClient = field(init=False)
    fed_task: FedTaskClient = field(init=False)
    market: ModelMarketClient = field(init=False)
    token: RewardTokenClient = field(init=False)
    content: ContentService = field(init=False)
    relay: RelayGuard = field(init=False)
    _scope: Scope | None = field(init=False, default=None, repr=False)
    _indexer: Indexer | None = field(init=False, default=None, repr=False)
    _index_thread: IndexerThread | None = field(init=False, default=None, repr=False)

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

    @property
    def indexer(self) -> Indexer:
        """The indexer of the deployment into the database.

        Raises
        ------
        ServiceUnavailableError
            Before :meth:`start` ran.
        """
        if self._indexer is None:
            raise ServiceUnavailableError("the chain index (not started yet)")
        return self._indexer

    def catch_up(self, timeout: float = 10.0) -> bool:
        """Have the index hold every block mined so far (waiting at most ``timeout`` seconds).

        Parameters
        ----------
        timeout : float, default 10.0
            Seconds to wait for the background indexer (without one, the index is synced here).
        """
        return catch_up(self.indexer, self._index_thread, timeout)

    def wake_indexer(self) -> None:
        """Have the background indexer look at the chain now (a listing was just relayed)."""
        if self._index_thread is not None:
            self._index_thread.wake()

    def stop_indexing(self) -> None:
        """Stop the background indexer (the application's shutdown does it)."""
        if self._index_thread is not None:
            self._index_thread.stop()
            self._index_thread = None

    def _start_indexing(self, scope: Scope) -> None:
        options = self.index_options or IndexerOptions()
        if self.index_interval is not None:
            options = replace(options, poll_interval=self.index_interval)
        self._indexer = Indexer(
            database=self.database,
            backend=self.backend,
            deployment=self.deployment,
            deployment_id=scope.deployment_id,
            store=self.store,
            options=options,
        )
        if self.index_interval is not None and self._index_thread is None:
            self._index_thread = IndexerThread(self._indexer)
            self._index_thread.start()

    def start(self) -> Scope:
        """Bring the database schema to head, register the deployment, start indexing the chain.

        Called by the application at start-up (idempotent).
        """
        prepare_database(self.database)
        block = self.backend.w3.eth.get_block(self.deployment.block)
        identity = DeploymentIdentity.of(self.deployment, bytes(block["hash"]))
        try:
            scope = self._register(identity)
        except IntegrityError:  # another process registered it at the same moment
            scope = self._register(identity)
        self._scope = scope
        self._start_indexing(scope)
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
        self.content = ContentService(
            store=self.store,
            vault=self.vault,
            market=self.market,
            fed_task=self.fed_task,
            registry=self.registry,
            access_log=self.access_log,
        )
        self.relay = RelayGuard(
            self.relay_policy,
            self.database,
            relayer=self.relayer.address,
            read_balance=lambda: int(self.backend.w3.eth.get_balance(self.relayer.address)),
            clock=time.time,
        )

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
        index_interval: float | None = 1.0,
        sign_in: SignInService | None = None,
        vault: KeyVault | None = None,
        relay_policy: RelayPolicy | None = None,
        access_log: AccessLog | None = None,
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
        index_interval : float or None, default 1.0
            Poll interval of the background indexer; ``None`` for none (see the class).
        sign_in : SignInService or None, default None
            Sign-in with its policy (``SignInService()`` when ``None``).
        vault : KeyVault or None, default None
            The content master key (``KeyVault.development()`` when ``None``).
        relay_policy : RelayPolicy or None, default None
            Limits of relayed writes (``RelayPolicy.unlimited()`` when ``None``: the embedding
            program relays for its own parties).
        access_log : AccessLog or None, default None
            Where content key grants and downloads are recorded (``None``: not recorded).
        """
        signer = relayer if isinstance(relayer, Signer) else signer_for(backend, relayer)
        return cls(
            backend=backend,
            deployment=deployment,
            relayer=signer,
            store=store,
            database=database or Database.from_url(database_url),
            index_interval=index_interval,
            sign_in=sign_in or SignInService(),
            vault=vault or KeyVault.development(),
            relay_policy=relay_policy or RelayPolicy.unlimited(),
            access_log=access_log,
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
            store=open_store(settings),
            sign_in=SignInService(
                SignInPolicy(
                    public_url=settings.public_url,
                    nonce_ttl=settings.nonce_ttl,
                    session_ttl=settings.session_ttl,
                )
            ),
            vault=KeyVault(settings.master_key),
            database=Database.from_url(
                settings.database_url,
                PoolOptions(
                    size=settings.db_pool_size,
                    max_overflow=settings.db_max_overflow,
                    timeout=settings.db_pool_timeout,
                    recycle=settings.db_pool_recycle,
                ),
            ),
            response_cache=ResponseCache(settings.response_cache),
            owns_backend=True,
            relay_policy=RelayPolicy.from_settings(settings),
            access_log=open_access_log(settings),
        )

    def close(self) -> None:
        """Stop indexing, release the database connections (and the chain connection when owned)."""
        self.stop_indexing()
        self.database.dispose()
        if self.owns_backend:
            self.backend.close()
            if isinstance(self.store, IpfsStore):
                self.store.close()


__all__ = ["Services", "prepare_database"]
