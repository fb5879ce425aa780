"""Who acts on a deployment: one funded signer per role, and the contract clients they use.

Every runner (the horizontal demo, the vertical runner, the tests) needs the same thing: the
contracts, either deployed fresh on a chain with a faucet or attached from a deployment file on
any JSON-RPC chain, and a signer per role (sponsor, coordinator, participants...), each holding
its own key. :func:`provision` builds that :class:`Parties`; a role's key comes from the caller
(an environment variable, a keystore) or, on a chain with a faucet, is created and funded.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from eth_account.signers.local import LocalAccount

from chain.backends import ChainBackend
from chain.court import ChallengeCourtClient
from chain.deployment import Deployment, deploy
from chain.errors import FundingError
from chain.fed_task import FedTaskClient
from chain.keys import new_account
from chain.market import ModelMarketClient
from chain.registry import DatasetRegistryClient
from chain.signer import Signer, fund, signer_for
from chain.token import RewardTokenClient
from kernel.errors import InvalidInputError
from kernel.types import Address

log = logging.getLogger(__name__)

GAS_FUNDING_WEI = 10 * 10**18
"""Ether given to each freshly created party for gas (dev chains only)."""

DEPLOYER = "deployer"
"""The role that deployed the contracts (their admin, the token's minter) when :func:`provision`
deployed."""


@dataclass
class Parties:
    """The contracts of one deployment and a signer per role.

    Attributes
    ----------
    backend : ChainBackend
        The chain.
    deployment : Deployment
        The contracts' addresses.
    signers : dict of str to Signer
        ``role -> signer``; includes :data:`DEPLOYER` when the contracts were deployed here.
    accounts : dict of str to LocalAccount
        ``role -> key`` of every role (for off-chain signatures: listings, sign-in).
    """

    backend: ChainBackend
    deployment: Deployment
    signers: dict[str, Signer]
    accounts: dict[str, LocalAccount] = field(default_factory=dict)

    def signer(self, role: str) -> Signer:
        """The signer of ``role``.

        Parameters
        ----------
        role : str
            A role given to :func:`provision`.

        Raises
        ------
        InvalidInputError
            When no party has that role.
        """
        try:
            return self.signers[role]
        except KeyError:
            raise InvalidInputError(f"Parties: no role {role!r}") from None

    def address(self, role: str) -> Address:
        """The address of ``role``."""
        return Address(str(self.signer(role).address))

    def role_of(self, address: str) -> str | None:
        """The role whose address is ``address`` (any case), or ``None``."""
        wanted = address.lower()
        for role, signer in self.signers.items():
            if signer.address.lower() == wanted:
                return role
        return None

    def fed_task(self, role: str | None = None) -> FedTaskClient:
        """The FedTask client, read-only or sending as ``role``."""
        return self.deployment.fed_task_client(self.backend, self.signer(role) if role else None)

    def token(self, role: str | None = None) -> RewardTokenClient:
        """The reward-token client, read-only or sending as ``role``."""
        return self.deployment.token_client(self.backend, self.signer(role) if role else None)

    def registry(self, role: str | None = None) -> DatasetRegistryClient:
        """The dataset-registry client, read-only or sending as ``role``."""
        return self.deployment.registry_client(self.backend, self.signer(role) if role else None)

    def court(self, role: str | None = None) -> ChallengeCourtClient:
        """The challenge-court client, read-only or sending as ``role``.

        Parameters
        ----------
        role : str or None, default None
            The sending role; ``None`` for a read-only client.
        """
        return self.deployment.court_client(self.backend, self.signer(role) if role else None)

    def market(self, role: str | None = None) -> ModelMarketClient:
        """The model-market client, read-only or sending as ``role``.

        Parameters
        ----------
        role : str or None, default None
            The sending role; ``None`` for a read-only client.
        """
        return self.deployment.market_client(self.backend, self.signer(role) if role else None)

    def gas_used(self, roles: Iterable[str] | None = None) -> int:
        """Gas used by the transactions the signers of ``roles`` (default: all) sent."""
        chosen = self.signers if roles is None else {r: self.signer(r) for r in roles}
        return sum(s.gas_used for s in chosen.values())


def provision(
    backend: ChainBackend,
    roles: Iterable[str],
    *,
    deployment: Deployment | None = None,
    keys: Mapping[str, LocalAccount] | None = None,
    new_key: Callable[[str], LocalAccount] | None = None,
    gas_wei: int = GAS_FUNDING_WEI,
) -> Parties:
    """Attach to (or deploy) the contracts and give every role a signer.

    Parameters
    ----------
    backend : ChainBackend
        The chain.
    roles : iterable of str
        The roles to give a signer, e.g. ``("sponsor", "coordinator", "guest", "host")``.
    deployment : Deployment or None, default None
        Existing contracts (checked against ``backend``); ``None`` deploys fresh ones with the
        default :class:`~chain.deployment.DeploymentParams` from the chain's faucet, which then
        becomes the :data:`DEPLOYER` role (admin of every contract, the token's minter).
    keys : mapping of str to LocalAccount or None, default None
        Keys of roles that bring their own (already funded) account. Every other role gets a
        new key funded with ``gas_wei`` from the faucet.
    new_key : callable or None, default None
        ``role -> key`` for the roles without one (default: :func:`~chain.keys.new_account`,
        fresh randomness; the demo passes :func:`~chain.keys.demo_account` to be reproducible).
    gas_wei : int, default GAS_FUNDING_WEI
        Ether for each fresh key.

    Raises
    ------
    FundingError
        A role has no key and the chain has no faucet (give the role's key instead).
    DeploymentError
        ``deployment`` does not match the chain.
    """
    keys = dict(keys or {})
    signers: dict[str, Signer] = {}
    accounts: dict[str, LocalAccount] = {}
    if deployment is None:
        faucet = _faucet(backend, "deploy the contracts")
        signers[DEPLOYER] = signer_for(backend, faucet)
        accounts[DEPLOYER] = faucet
        deployment = deploy(signers[DEPLOYER])
    else:
        deployment.check(backend)
    for role in roles:
        account = keys.get(role)
        if account is None:
            _faucet(backend, f"fund a new key for {role!r}")
            account = new_key(role) if new_key else new_account()
            fund(backend, account.address, gas_wei)
        accounts[role] = account
        signers[role] = signer_for(backend, account)
    log.info("provision: %d roles on %s", len(signers), backend.describe())
    return Parties(backend, deployment, signers, accounts)


def _faucet(backend: ChainBackend, why: str) -> LocalAccount:
    faucet = backend.faucet_account()
    if faucet is None:
        raise FundingError(
            f"provision: {backend.describe()} has no faucet to {why}; give that party's key"
        )
    return faucet


__all__ = ["DEPLOYER", "GAS_FUNDING_WEI", "Parties", "provision"]
