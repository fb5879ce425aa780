"""The content store the settings name: a local folder or an IPFS daemon."""

from __future__ import annotations

import logging

from marketplace_api.core.config import Settings
from storage import ContentStore, IpfsStore, LocalCidStore

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


__all__ = ["open_store"]
