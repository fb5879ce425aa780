"""The consortium's contracts and the API's relayer account.

The contracts are deployed once, by the dev chain's faucet account, and the deployment file is
kept in the consortium's folder; a later ``up`` checks the chain still has the code at those
addresses and reuses it. The API's relayer key is ``FEDMARKET_API_RELAYER_KEY`` when set, else
a key made once in the folder (0600) and funded from the dev chain's faucet when low.
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from chain import ChainBackend, Deployment, DeploymentError, connect, deploy, fund, signer_for
from fedmarket.consortium.errors import ConsortiumConfigError, StaleDeploymentError

log = logging.getLogger(__name__)

RELAYER_KEY_ENV = "FEDMARKET_API_RELAYER_KEY"
"""The variable the marketplace API reads its relayer key from (its settings' prefix + name)."""

RELAYER_MINIMUM_WEI = 10**18
"""Below this balance a made relayer key is topped up from the faucet."""

RELAYER_FUNDING_WEI = 100 * 10**18
"""What the faucet sends it then."""


def ensure_deployment(rpc_url: str, path: Path) -> Deployment:
    """The deployment in ``path``, checked against the chain; deployed and saved when missing.

    Parameters
    ----------
    rpc_url : str
        The chain's JSON-RPC URL.
    path : Path
        The deployment file.

    Raises
    ------
    StaleDeploymentError
        When the file names contracts the chain does not have (its state was lost).
    ConsortiumConfigError
        When there is no file and the chain has no dev faucet to deploy with.
    """
    backend = connect(rpc_url)
    if path.exists():
        found = Deployment.load(path)
        try:
            found.check(backend)
        except DeploymentError as exc:
            raise StaleDeploymentError(
                f"{path} does not match the chain at {rpc_url} ({exc}); if the chain's state is "
                f"lost, remove the file to deploy afresh"
            ) from exc
        log.info("ensure_deployment: reusing %s (block %s)", path, found.block)
        return found
    return _deploy(backend, path)


def _deploy(backend: ChainBackend, path: Path) -> Deployment:
    faucet = backend.faucet_account()
    if faucet is None:
        raise ConsortiumConfigError(
            f"{backend.describe()} is not a dev chain: deploy with `fedmarket chain deploy "
            f"--key-env ...` and pass the file with --deployment"
        )
    made = deploy(signer_for(backend, faucet))
    partial = path.with_suffix(".partial")
    made.save(partial)
    os.replace(partial, path)  # never a half-written deployment file
    log.info("ensure_deployment: deployed to chain %s, saved %s", made.chain_id, path)
    return made


def relayer_key(path: Path) -> str:
    """``FEDMARKET_API_RELAYER_KEY`` when set, else the key kept in ``path`` (made once, 0600).

    Parameters
    ----------
    path : Path
        The key file.
    """
    given = os.environ.get(RELAYER_KEY_ENV)
    if given:
        return given
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write("0x" + secrets.token_hex(32) + "\n")
    return path.read_text(encoding="ascii").strip()


def fund_relayer(rpc_url: str, key: str) -> None:
    """Top the relayer up from the dev chain's faucet when its balance is low.

    On a chain without a faucet nothing is sent (the API's ``/health`` says when the balance
    is under its floor).

    Parameters
    ----------
    rpc_url : str
        The chain's JSON-RPC URL.
    key : str
        The relayer's hex private key.
    """
    from eth_account import Account

    backend = connect(rpc_url)
    address = Account.from_key(key).address
    if int(backend.w3.eth.get_balance(address)) >= RELAYER_MINIMUM_WEI:
        return
    if backend.faucet_account() is None:
        log.warning("fund_relayer: %s is low and %s has no faucet", address, backend.describe())
        return
    fund(backend, address, RELAYER_FUNDING_WEI)
    log.info("fund_relayer: sent %s wei to %s", RELAYER_FUNDING_WEI, address)


__all__ = ["RELAYER_KEY_ENV", "ensure_deployment", "fund_relayer", "relayer_key"]
