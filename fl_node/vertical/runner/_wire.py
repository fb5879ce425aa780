"""What the runner adds on the wire (private): the kept rows of a multi-host PSI, one codec.

With several hosts the guest runs the PSI with each host in turn and keeps the rows *every*
party shares. It then tells each host, by :class:`KeepRowsMsg`, which of the rows that host's
own PSI found are kept (positions in that host's aligned order of its pairwise
intersection), and the salt of the commitment to the final rows, so that every party commits
to the same set. A host learns which of its shared customers some other host lacks, the
unavoidable price of a joint intersection (FATE's multi-host intersection reveals the same).

:data:`RUN_CODEC` decodes the hetero-LR, SecureBoost and runner messages on one channel.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from fl_node.vertical.protocol.boost import BOOST_MESSAGES
from fl_node.vertical.protocol.messages import MESSAGE_CLASSES
from fl_node.vertical.transport import Message, MessageCodec, require, u32_field

U32Array = npt.NDArray[np.uint32]


class RunnerMsgType(enum.IntEnum):
    """Frame types of the runner's own messages."""

    KEEP_ROWS = 80


@dataclass(frozen=True)
class KeepRowsMsg(Message):
    """Guest -> host: the kept positions of the host's pairwise intersection, and the salt."""

    TAG = RunnerMsgType.KEEP_ROWS
    n_pairwise: int
    salt: bytes
    keep: U32Array = u32_field()

    def validate(self) -> None:
        """Positions sorted, distinct and inside the pairwise intersection; a 32-byte salt."""
        require(len(self.salt) == 32, "KeepRowsMsg: the salt must be 32 bytes")
        require(self.keep.size > 0, "KeepRowsMsg: no row kept")
        keep = self.keep.astype(np.int64)
        require(int(keep.max()) < self.n_pairwise, "KeepRowsMsg: position out of range")
        require(bool(np.all(np.diff(keep) > 0)), "KeepRowsMsg: positions unsorted or repeated")


RUN_CODEC = MessageCodec([*MESSAGE_CLASSES.values(), *BOOST_MESSAGES, KeepRowsMsg])
"""Every message a party process may receive: hetero LR, SecureBoost and :class:`KeepRowsMsg`."""

__all__ = ["RUN_CODEC", "KeepRowsMsg", "RunnerMsgType"]
