"""Types that carry meaning across the packages.

Token amounts are plain ``int`` wei everywhere (never floats); identifiers get a ``NewType`` so a
task id cannot be passed where a round is expected without the type checker noticing.
"""

from typing import NewType

Cid = NewType("Cid", str)
"""An IPFS content identifier (CIDv1, base32 multibase), e.g. ``bafkrei...``."""

Address = NewType("Address", str)
"""A checksummed Ethereum address."""

TaskId = NewType("TaskId", int)
"""A task's id in the FedTask contract (starts at 1)."""

Round = NewType("Round", int)
"""A training round of a task, numbered from 1."""

Wei = NewType("Wei", int)
"""An amount of reward token in its smallest unit."""

Hash32 = NewType("Hash32", bytes)
"""A 32-byte digest; on-chain hashes are keccak-256 of the exact bytes stored."""

__all__ = ["Address", "Cid", "Hash32", "Round", "TaskId", "Wei"]
