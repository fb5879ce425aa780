"""``run_consortium``: hold the folder, build the services, supervise them until a stop."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import replace

from fedmarket.consortium.config import ConsortiumConfig, Endpoints, Layout, hold
from fedmarket.consortium.services import consortium_services, database_url, deployment_file
from fedmarket.consortium.supervisor import Supervisor

log = logging.getLogger(__name__)


def endpoints(config: ConsortiumConfig, pids: Mapping[str, int]) -> Endpoints:
    """Where each service of ``config`` answers, its process and its log.

    Parameters
    ----------
    config : ConsortiumConfig
        The consortium.
    pids : Mapping of str to int
        Process id of each running service.
    """
    ours = config.selected
    layout = Layout(config.root.resolve())
    uses_chain = "chain" in ours or "api" in ours
    return Endpoints(
        dir=str(layout.root),
        services=list(ours),
        rpc=config.url("chain") if uses_chain else None,
        ipfs_api=config.url("ipfs") if "ipfs" in ours or "api" in ours else None,
        database_url=database_url(config, secret=False),
        database_password_file=(
            str(layout.folder("postgres") / "password") if "postgres" in ours else None
        ),
        api=config.url("api") if "api" in ours else None,
        deployment=str(deployment_file(config).resolve()) if uses_chain else None,
        pids=dict(pids),
        logs={name: str(layout.log(name)) for name in ours},
    )


def run_consortium(config: ConsortiumConfig, on_ready: Callable[[Endpoints], None]) -> int | None:
    """Run the consortium until SIGINT, SIGTERM or SIGHUP; stop every service.

    Parameters
    ----------
    config : ConsortiumConfig
        What to run.
    on_ready : callable
        Called once with the endpoints when every service is healthy.

    Returns
    -------
    int or None
        The signal that stopped it.

    Raises
    ------
    ConsortiumError
        The folder is in use, a service could not start, was not healthy in time or exited
        on its own (everything is stopped first).
    """
    config = replace(config, root=config.root.resolve())  # children run in other folders
    with hold(config.root):
        supervisor = Supervisor(consortium_services(config))
        signum = supervisor.run(lambda pids: on_ready(endpoints(config, pids)))
    log.info("run_consortium: stopped (signal %s)", signum)
    return signum


__all__ = ["endpoints", "run_consortium"]
