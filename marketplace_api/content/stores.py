"""The content store the settings name (a local folder or an IPFS daemon), and its access log."""

from __future__ import annotations

import logging

from marketplace_api.core.config import Settings
from storage import ContentStore, IpfsStore, LocalCidStore
from storage.access_log import AccessLog

log = logging.getLogger(__name__)


def open_store(settings: Settings) -> ContentStore:
    """The store of ``settings.store_backend``: ``LocalCidStore`` or ``IpfsStore``.

    The IPFS store answers from the daemon's own blocks only and is checked against locally
    computed CIDs (see :mod:`storage.ipfs`); close it with the services.

    Parameters
    ----------
    settings : Settings
        The API's settings.
    """
    if settings.store_backend == "ipfs":
        log.info("open_store: IPFS daemon at %s", settings.ipfs_api_url)
        return IpfsStore(settings.ipfs_api_url)
    return LocalCidStore(settings.store_dir)


def open_access_log(settings: Settings) -> AccessLog | None:
    """The access log in ``settings.access_log_dir`` (``None``: downloads are not logged).

    Parameters
    ----------
    settings : Settings
        The API's settings.
    """
    if settings.access_log_dir is None:
        return None
    log.info("open_access_log: %s, kept %d days", settings.access_log_dir, settings.access_log_days)
    return AccessLog(settings.access_log_dir, retention_days=settings.access_log_days)


__all__ = ["open_access_log", "open_store"]
