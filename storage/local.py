"""The embedded content store: objects on local disk, named by their real IPFS CID."""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from kernel.types import Cid
from storage.base import ContentStore, compute_cid, validate_cid
from storage.errors import ContentNotFoundError, ContentTooLargeError, InvalidCidError

log = logging.getLogger(__name__)


PINS_DIR = ".pins"
"""The folder, inside the store's root, that holds one empty file per pinned CID."""


class LocalCidStore(ContentStore):
    """Content-addressed objects in a folder: ``<root>/<cid>``, pins in ``<root>/.pins/<cid>``.

    Writes are atomic (temporary file, then rename), so a reader never sees half an object and
    several processes may share one folder. A pin is an empty file named by the CID, so pinning
    and unpinning are atomic too and need no lock.

    Parameters
    ----------
    root : str or Path
        The folder; created if missing.
    """

    name = "local"

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.pins_dir = self.root / PINS_DIR

    def path_of(self, cid: Cid) -> Path:
        """Where the object named ``cid`` lies on disk.

        Parameters
        ----------
        cid : Cid
            A validated CID.
        """
        return self.root / cid

    def put(self, data: bytes) -> Cid:
        """Store ``data`` under its CID; a second put of the same bytes writes nothing.

        Parameters
        ----------
        data : bytes
            The object's bytes.
        """
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
        """Whether ``cid`` is stored here.

        Parameters
        ----------
        cid : Cid
            A validated CID.
        """
        return self.path_of(cid).is_file()

    def _read(self, cid: Cid, max_bytes: int) -> bytes:
        path = self.path_of(cid)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise ContentNotFoundError(f"get: {cid} is not in {self.root}") from None
        if size > max_bytes:
            raise ContentTooLargeError(f"get: {cid} is {size} bytes, above {max_bytes}")
        return path.read_bytes()

    def _pin(self, cid: Cid) -> None:
        if not self.has(cid):
            raise ContentNotFoundError(f"pin: {cid} is not in {self.root}")
        self.pins_dir.mkdir(exist_ok=True)
        (self.pins_dir / cid).touch()
        log.debug("pin: %s", cid)

    def _unpin(self, cid: Cid) -> bool:
        try:
            (self.pins_dir / cid).unlink()
        except FileNotFoundError:
            return False
        log.debug("unpin: %s", cid)
        return True

    def pinned(self) -> frozenset[Cid]:
        """The CIDs pinned here (names in the pins folder that are not CIDs are ignored)."""
        if not self.pins_dir.is_dir():
            return frozenset()
        found: set[Cid] = set()
        for path in self.pins_dir.iterdir():
            try:
                found.add(validate_cid(path.name))
            except InvalidCidError:
                log.debug("pinned: ignoring %s", path)
        return frozenset(found)
