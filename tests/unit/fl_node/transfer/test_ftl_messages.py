"""Wire messages round-trip through bytes; malformed bytes are refused."""

from __future__ import annotations

import numpy as np
import pytest

from fl_node.transfer import TransferProtocolError
from fl_node.transfer.messages import (
    Control,
    MaskedGradient,
    PublicKey,
    SharedFactors,
    SharedShape,
    from_bytes,
    to_bytes,
)


def test_every_message_round_trips() -> None:
    values = np.arange(12, dtype=np.float64).reshape(4, 3) / 7
    messages = [
        PublicKey("target", bytes(range(32))),
        SharedShape("source", 4, 3),
        SharedFactors(5, values),
        MaskedGradient("source", 9, np.array([0, 2**64 - 1, 12345], dtype=np.uint64)),
        Control(3, improved=True, stop=False),
        Control(4, improved=False, stop=True),
    ]
    for message in messages:
        back = from_bytes(to_bytes(message))
        assert type(back) is type(message)
        for name, value in vars(message).items():
            got = getattr(back, name)
            if isinstance(value, np.ndarray):
                assert np.array_equal(got, value)
            else:
                assert got == value


def test_malformed_bytes_are_refused() -> None:
    good = to_bytes(SharedFactors(1, np.zeros((2, 2))))
    for bad in (good[:10], b"XXXX" + good[4:], good + b"\0", good[:-8]):
        with pytest.raises(TransferProtocolError):
            from_bytes(bad)
