"""The embedded content store: objects on local disk, named by their real IPFS CID."""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from kernel.types import Cid
from storage.base import (
    ContentStore,
    compute_cid,
)
from storage.errors import ContentIntegrityError, ContentNotFoundError

log = logging.getLogger(__name__)


class LocalCidStore(ContentStore):
    """Content-addressed objects in a folder: ``<root>/<cid>``.

    Writes are atomic (temporary file, then rename), so a reader never sees half an object and
    several processes may share one folder.

    Parameters
    ----------
    root : str or Path
        The folder; created if missing.
    """

    name = "local"

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def path_of(self, cid: Cid) -> Path:
        """Where the object named ``cid`` lies on disk."""
        return self.root / cid

    def put(self, data: bytes) -> Cid:
        """Store ``data`` under its CID; a second put of the same bytes writes nothing."""
        cid = compute_cid(data)
        target = self.path_of(cid)
        if target.exists():
            return cid
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".put-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        log.debug("put: %s (%d bytes)", cid, len(data))
        return cid

    def has(self, cid: Cid) -> bool:
        """Whether ``cid`` is stored here."""
        return self.path_of(cid).is_file()

    def _read(self, cid: Cid, max_bytes: int) -> bytes:
        path = self.path_of(cid)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise ContentNotFoundError(f"get: {cid} is not in {self.root}") from None
        if size > max_bytes:
            raise ContentIntegrityError(f"get: {cid} is {size} bytes, above {max_bytes}")
        return path.read_bytes()
