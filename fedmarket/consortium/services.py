"""The four services of a consortium, each a :class:`Service` the supervisor runs.

- ``chain``: ``fedmarket chain node --host --port --state`` (anvil, its state in the folder);
  once healthy, the contracts are deployed (or the folder's deployment checked).
- ``ipfs``: the js-ipfs daemon on the folder's repository (:mod:`fedmarket.consortium.ipfs`).
- ``postgres``: PostgreSQL on the folder's cluster, password authentication over TCP
  (:mod:`fedmarket.consortium.postgres`); once healthy, the marketplace's database is created.
- ``api``: ``fedmarket serve``, configured by ``FEDMARKET_API_*`` variables pointing at the
  three above; healthy when ``GET /health`` answers 200 (chain and database reachable).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from chain import Deployment
from fedmarket.consortium import contracts, ipfs, postgres
from fedmarket.consortium.config import DB_NAME, DB_USER, ConsortiumConfig, Layout
from fedmarket.consortium.errors import ConsortiumConfigError
from fedmarket.consortium.health import http_check, ipfs_check, rpc_check
from fedmarket.consortium.process import ProcessSpec
from fedmarket.consortium.supervisor import Service

API_DATABASE_ENV = "FEDMARKET_API_DATABASE_URL"
"""The API's database URL: given by the operator when the database runs elsewhere."""

ENVIRONMENT_ENV = "FEDMARKET_API_ENVIRONMENT"
"""The API's environment: the operator's when set, else ``development``."""


def _fedmarket(*args: str) -> tuple[str, ...]:
    """The command line of this very installation (``python -m fedmarket ...``)."""
    return (sys.executable, "-m", "fedmarket", *args)


def deployment_file(config: ConsortiumConfig) -> Path:
    """The deployment the consortium uses (``--deployment``, else the folder's).

    Parameters
    ----------
    config : ConsortiumConfig
        The consortium.
    """
    return config.deployment_file or Layout(config.root).deployment


def chain_service(config: ConsortiumConfig) -> Service:
    """Anvil through ``fedmarket chain node``, state kept; the contracts deployed once.

    Parameters
    ----------
    config : ConsortiumConfig
        The consortium.
    """
    layout, port = Layout(config.root), config.ports.chain
    state = layout.folder("chain") / "state.json"
    argv = _fedmarket("chain", "node", "--host", config.host, "--port", str(port))
    spec = ProcessSpec(
        name="chain",
        argv=(*argv, "--state", str(state)),
        log=layout.log("chain"),
        stop_timeout=config.stop_timeout,
    )
    url = config.url("chain")
    return Service(
        process=spec,
        health=rpc_check(url),
        host=config.host,
        port=port,
        startup_timeout=config.startup_timeout,
        ready=lambda: _deploy_once(url, deployment_file(config)),
    )


def _deploy_once(rpc_url: str, path: Path) -> None:
    contracts.ensure_deployment(rpc_url, path)


def ipfs_service(config: ConsortiumConfig) -> Service:
    """The js-ipfs daemon on the folder's repository, its RPC API alone, offline.

    Parameters
    ----------
    config : ConsortiumConfig
        The consortium.
    """
    layout, port = Layout(config.root), config.ports.ipfs
    repo = layout.folder("ipfs") / "repo"
    return Service(
        process=ipfs.daemon_spec(repo, layout.log("ipfs"), stop_timeout=config.stop_timeout),
        health=ipfs_check(config.url("ipfs")),
        host=config.host,
        port=port,
        startup_timeout=config.startup_timeout,
        prepare=lambda: ipfs.prepare_repo(repo, host=config.host, port=port),
    )


def _password(config: ConsortiumConfig) -> str:
    folder = Layout(config.root).folder("postgres")
    folder.mkdir(parents=True, exist_ok=True)
    postgres.hand_over(folder)
    postgres.check_reachable(folder)
    return postgres.new_password(folder / "password")


def postgres_service(config: ConsortiumConfig) -> Service:
    """PostgreSQL on the folder's cluster; the marketplace's database created once healthy.

    Parameters
    ----------
    config : ConsortiumConfig
        The consortium.
    """
    layout, host, port = Layout(config.root), config.host, config.ports.postgres
    folder = layout.folder("postgres")
    password = _password(config)
    spec = postgres.server_spec(
        folder / "data", host=host, port=port, log_file=layout.log("postgres"),
        stop_timeout=config.stop_timeout,
    )  # fmt: skip
    return Service(
        process=spec,
        health=postgres.postgres_check(host, port, DB_USER, password),
        host=host,
        port=port,
        startup_timeout=config.startup_timeout,
        prepare=lambda: postgres.init_cluster(
            folder / "data", user=DB_USER, password_file=folder / "password"
        ),
        ready=lambda: postgres.ensure_database(host, port, DB_USER, DB_NAME, password),
    )


def database_url(config: ConsortiumConfig, *, secret: bool) -> str | None:
    """The API's database: ours (with its password when ``secret``), or the operator's.

    Parameters
    ----------
    config : ConsortiumConfig
        The consortium.
    secret : bool
        Include the password (for the API's environment; never printed).
    """
    if "postgres" not in config.only:
        return os.environ.get(API_DATABASE_ENV) if secret else None
    password = _password(config) if secret else None
    host, port = config.host, config.ports.postgres
    return postgres.database_url(
        user=DB_USER, host=host, port=port, database=DB_NAME, password=password
    )


def _api_env(config: ConsortiumConfig, key: str) -> dict[str, str]:
    database = database_url(config, secret=True)
    if database is None:
        raise ConsortiumConfigError(
            f"api: the database runs elsewhere (--only without postgres): set {API_DATABASE_ENV}"
        )
    return {
        # the operator's choice when set; a consortium on a dev chain is a development one
        ENVIRONMENT_ENV: os.environ.get(ENVIRONMENT_ENV) or "development",
        "FEDMARKET_API_CHAIN_URL": config.url("chain"),
        "FEDMARKET_API_DEPLOYMENT_FILE": str(deployment_file(config).resolve()),
        contracts.RELAYER_KEY_ENV: key,
        API_DATABASE_ENV: database,
        "FEDMARKET_API_STORE_BACKEND": "ipfs",
        "FEDMARKET_API_IPFS_API_URL": config.url("ipfs"),
        "FEDMARKET_API_ACCESS_LOG_DIR": str(Layout(config.root).folder("api") / "access-log"),
    }


def api_service(config: ConsortiumConfig) -> Service:
    """``fedmarket serve`` over the consortium's chain, IPFS daemon and database.

    Parameters
    ----------
    config : ConsortiumConfig
        The consortium.
    """
    layout, port = Layout(config.root), config.ports.api
    folder = layout.folder("api").resolve()
    key = contracts.relayer_key(folder / "relayer.key")
    spec = ProcessSpec(
        name="api",
        argv=_fedmarket("serve", "--host", config.host, "--port", str(port)),
        log=layout.log("api"),
        env=_api_env(config, key),
        cwd=folder,
        stop_timeout=config.stop_timeout,
    )
    return Service(
        process=spec,
        health=http_check(f"{config.url('api')}/health"),
        host=config.host,
        port=port,
        startup_timeout=config.startup_timeout,
        prepare=lambda: _prepare_api(config, key),
    )


def _prepare_api(config: ConsortiumConfig, key: str) -> None:
    """The deployment must exist (made by our chain, or given); the relayer needs gas."""
    if "chain" not in config.only:
        Deployment.load(deployment_file(config))
    contracts.fund_relayer(config.url("chain"), key)


BUILDERS = {
    "chain": chain_service,
    "ipfs": ipfs_service,
    "postgres": postgres_service,
    "api": api_service,
}
"""The builder of each service."""


def consortium_services(config: ConsortiumConfig) -> list[Service]:
    """The services ``config`` selects, in start order.

    Parameters
    ----------
    config : ConsortiumConfig
        The consortium.
    """
    return [BUILDERS[name](config) for name in config.selected]


__all__ = [
    "API_DATABASE_ENV",
    "BUILDERS",
    "api_service",
    "chain_service",
    "consortium_services",
    "database_url",
    "deployment_file",
    "ipfs_service",
    "postgres_service",
]
