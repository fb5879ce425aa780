"""Route dependencies of the relay guard (:mod:`marketplace_api.relay`), one line each.

- ``gate: RelayGate`` in a handler that relays a transaction: the client's write limit and the
  relayer's balance are checked before the handler runs (429, 503); the handler, once it knows
  who signed, wraps the relay in ``gate.relaying(owner)``, which applies the signer's limit and
  gas budget and charges the receipt's gas::

      with gate.relaying(body.owner) as charge:
          dataset_id, tx = registry.list_dataset_for(request, signature)
          charge(tx)

- ``dependencies=[WriteLimit]`` on a write that relays nothing (the client's write limit only).
- ``dependencies=[SignInLimit]`` on the routes that issue sign-in nonces.

Refusals are answered by :mod:`marketplace_api.api.errors` with ``Retry-After``.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from marketplace_api.api.deps import ServicesDep, SessionDep
from marketplace_api.api.responses import DEPENDENCY_ERRORS, declare_dependency
from marketplace_api.relay import Charger, RelayGuard


@dataclass(frozen=True)
class RelayPass:
    """A request admitted to relay: its client passed the limits, the relayer can pay.

    Attributes
    ----------
    guard : RelayGuard
        The app's relay guard.
    deployment_id : int
        The deployment the relay goes to.
    client : str
        The client the request counts against.
    session : Session
        The request's database session (the gas ledger is written and committed in it).
    """

    guard: RelayGuard
    deployment_id: int
    client: str
    session: Session

    def relaying(self, owner: str, action: str = "list_dataset") -> AbstractContextManager[Charger]:
        """Admit one relayed transaction for ``owner`` (see :meth:`RelayGuard.relaying`)."""
        return self.guard.relaying(self.session, self.deployment_id, owner, action)

    def check_address(self, address: str) -> None:
        """Apply the per-address limit to ``address`` (a write that relays nothing)."""
        self.guard.check_address(address)


def client_of(request: Request, services: ServicesDep) -> str:
    """The client ``request`` counts against (the peer, or a trusted proxy's forwarded client)."""
    peer = request.client.host if request.client is not None else None
    forwarded = ",".join(request.headers.getlist("x-forwarded-for")) or None
    return services.relay.client(peer, forwarded)


def relay_gate(request: Request, services: ServicesDep, session: SessionDep) -> RelayPass:
    """Check the relayer's balance and the client's write limit before a relayed write.

    Raises
    ------
    RelayerBalanceLowError
        The relayer's balance is below its floor (503).
    RateLimitedError
        The client's write limit is reached (429).
    """
    guard = services.relay
    guard.check_balance()
    client = client_of(request, services)
    guard.check_client(client)
    deployment_id = services.scope.deployment_id
    return RelayPass(guard=guard, deployment_id=deployment_id, client=client, session=session)


def write_limit(request: Request, services: ServicesDep) -> None:
    """The client's write limit alone, for writes that relay nothing (429)."""
    services.relay.check_client(client_of(request, services))


def sign_in_limit(request: Request, services: ServicesDep) -> None:
    """The client's sign-in limit, before a nonce is issued (429)."""
    services.relay.check_sign_in(client_of(request, services))


RETRY_AFTER_HEADER = {
    "Retry-After": {
        "description": "Whole seconds before trying again is worth it.",
        "schema": {"type": "integer", "minimum": 1},
    }
}
"""How the refusals' ``Retry-After`` is published."""


def _declare(dependency: Any, *specs: int | tuple[int, str]) -> None:
    """Publish ``specs`` on every route using ``dependency``, 429 and 503 with ``Retry-After``."""
    declare_dependency(dependency, *specs)
    for status, response in DEPENDENCY_ERRORS[dependency].items():
        if status in (429, 503):
            response["headers"] = RETRY_AFTER_HEADER


_declare(
    relay_gate,
    (429, "The client's or the signer's write limit, or the owner's gas budget, is reached."),
    (
        503,
        "The relayer's balance is below its floor (the detail names both and how to list "
        "directly on-chain), or a service behind the API is down.",
    ),
)
_declare(write_limit, (429, "The client's write limit is reached."))
_declare(sign_in_limit, (429, "The client's sign-in limit is reached."))

RelayGate = Annotated[RelayPass, Depends(relay_gate)]
WriteLimit = Depends(write_limit)
SignInLimit = Depends(sign_in_limit)

__all__ = [
    "RelayGate",
    "RelayPass",
    "SignInLimit",
    "WriteLimit",
    "client_of",
    "relay_gate",
    "sign_in_limit",
    "write_limit",
]
