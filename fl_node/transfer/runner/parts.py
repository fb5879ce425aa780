"""Each party's model part: written into its own folder and content store, hashed for the chain.

A part is an ``.npz`` of the party's best parameters. The target's and the source's parts hold
their items' factors and biases, their unshared users' rows and their offset; the
coordinator's holds the shared block. Ids are not written: a party's rows follow its own
sorted user list, which it keeps.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from fl_node.transfer.mf import Floats
from fl_node.transfer.protocol import DomainParty, ProtocolRun
from fl_node.vertical.runner.jobs import PartRecord


def save_array_part(folder: Path, name: str, arrays: dict[str, Floats], samples: int) -> PartRecord:
    """Write ``arrays`` as ``folder/name`` (npz), put it in ``folder/store``; return its record.

    Parameters
    ----------
    folder : Path
        The owner's folder (created).
    name : str
        File name.
    arrays : dict of str to ndarray
        What the part holds.
    samples : int
        Ratings the part was trained on (recorded on chain with the commitment).
    """
    from storage import LocalCidStore, content_hash

    folder.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]
    data = buffer.getvalue()
    (folder / name).write_bytes(data)
    cid = LocalCidStore(folder / "store").put(data)
    width = next(iter(arrays.values())).shape[-1]
    return PartRecord(
        cid=str(cid),
        hash="0x" + bytes(content_hash(data)).hex(),
        bytes=len(data),
        file=str(folder / name),
        samples=samples,
        features=int(width),
    )


def party_arrays(party: DomainParty) -> dict[str, Floats]:
    """A party's best local parameters."""
    _, local, items = party.best
    return {"items": items, "local_users": local, "mu": np.array([party.mu])}


def save_parts(run: ProtocolRun, out: Path) -> dict[str, PartRecord]:
    """The target's, the source's and the coordinator's parts under ``out/<role>/``."""
    parts = {
        p.name: save_array_part(out / p.name, f"model_{p.name}.npz", party_arrays(p), len(p.train))
        for p in (run.target, run.source)
    }
    shared = {"shared_users": run.coordinator.best}
    samples = len(run.target.train) + len(run.source.train)
    parts["coordinator"] = save_array_part(out / "coordinator", "shared_users.npz", shared, samples)
    return parts


__all__ = ["party_arrays", "save_array_part", "save_parts"]
