"""The marketplace REST API of fedmarket (FastAPI, SQLAlchemy, Alembic).

Data owners list datasets (metadata only, signed with their own key together with an access mode
and a price, and recorded on-chain for their address by DatasetRegistry v2, the API paying the
gas); anyone reads FedTask v2 tasks as the chain records them (status, schedule, rounds, stakes,
rewards checked against the on-chain roots); sponsors describe the models they listed on the
ModelMarket for their final tasks, with the contributors' shares FedTask fixed.

Public surface::

    create_app(settings=None, *, services=None) -> FastAPI
    Services, Settings                       # what the app talks to, and its configuration
    serve_in_thread(app) -> ServerHandle     # a real uvicorn server in a thread
    MarketplaceClient, MarketplaceApiError   # the HTTP client

Layout: ``core/`` (settings, database), ``models.py`` (tables), ``schemas.py`` (wire shapes),
``crud.py`` (queries), ``listing.py`` (what is signed), ``task_view.py`` (a task read from the
chain), ``api/`` (dependencies, the one error mapping, one router per resource), ``migrations/``
(Alembic).
"""

from marketplace_api.client import MarketplaceClient
from marketplace_api.core.config import Settings
from marketplace_api.errors import (
    MarketplaceApiError,
    MarketplaceConnectionError,
    MarketplaceError,
)
from marketplace_api.main import create_app
from marketplace_api.server import ServerHandle, ServerStartError, serve_in_thread
from marketplace_api.services import Services

__all__ = [
    "MarketplaceApiError",
    "MarketplaceClient",
    "MarketplaceConnectionError",
    "MarketplaceError",
    "ServerHandle",
    "ServerStartError",
    "Services",
    "Settings",
    "create_app",
    "serve_in_thread",
]
