"""A cache of the API's pages of the chain index, valid while the index is unchanged.

Only the indexer writes the index, and every write transaction of the indexer adds one to the
cursor's ``version`` (:func:`marketplace_api.indexer._store.lock_cursor`). A page is stored with
the index's token (:func:`marketplace_api.crud.index_token`: version, block and block hash) read
*before* the page's rows, and served again only to a request that reads the same token: a
listing indexed a moment ago shows at once, in every worker process, because the token each
request reads has changed. The page may be newer than its token (the rows are read after it),
never older.

The cache is per process, bounded in entries and in bytes (least recently used first out), and
keyed by the validated query, so different spellings of one query share an entry and no query
can grow it past its bounds.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Hashable

log = logging.getLogger(__name__)

DEFAULT_ENTRIES = 1024
DEFAULT_MAX_BYTES = 64 * 1024 * 1024


class ResponseCache:
    """Response bodies by key, each valid for one index token (thread-safe, LRU).

    Parameters
    ----------
    max_entries : int, default 1024
        Entries kept; 0 disables the cache (:attr:`enabled` is false, nothing is stored).
    max_bytes : int, default 64 MiB
        Total size of the bodies kept; a body larger than an eighth of it is not stored.
    """

    def __init__(self, max_entries: int = DEFAULT_ENTRIES, max_bytes: int = DEFAULT_MAX_BYTES):
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Hashable, tuple[Hashable, bytes]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @property
    def enabled(self) -> bool:
        """Whether anything is cached."""
        return self.max_entries > 0

    def get(self, key: Hashable, token: Hashable) -> bytes | None:
        """The body stored for ``key`` under ``token``; ``None`` when absent or stale.

        Parameters
        ----------
        key : Hashable
            The query.
        token : Hashable
            The index's token read for this request.
        """
        with self._lock:
            found = self._entries.get(key)
            if found is None or found[0] != token:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return found[1]

    def put(self, key: Hashable, token: Hashable, body: bytes) -> None:
        """Store ``body`` for ``key`` under ``token`` (replacing what was there).

        Parameters
        ----------
        key : Hashable
            The query.
        token : Hashable
            The index's token read *before* the rows of ``body``.
        body : bytes
            The response body.
        """
        if not self.enabled or len(body) > self.max_bytes // 8:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= len(old[1])
            self._entries[key] = (token, body)
            self._bytes += len(body)
            while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
                _, (_, dropped) = self._entries.popitem(last=False)
                self._bytes -= len(dropped)

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()
            self._bytes = 0


__all__ = ["DEFAULT_ENTRIES", "DEFAULT_MAX_BYTES", "ResponseCache"]
