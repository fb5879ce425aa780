"""Typed wire messages of the vertical-FL protocol (PSI steps, split, training, prediction).

Each message is a frozen :class:`~fl_node.vertical.transport.Message` with a frame type
(:class:`MsgType`); :data:`CODEC` decodes them and names them in the statistics. Decoding
checks every field's type and range and each message's own ``validate``; ciphertext blobs are
validated by the cipher suite that loads them (key fingerprint, range, count, declared bound).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from fl_node.vertical.crypto.paillier import RANDOMIZERS
from fl_node.vertical.transport import Message, MessageCodec, f64_field, require, u32_field

U32Array = npt.NDArray[np.uint32]
F64Array = npt.NDArray[np.float64]

PROTOCOL_VERSION = 3
"""2: :class:`SessionMsg` carries the agreed Paillier randomiser setting. 3: several hosts
(:class:`SessionMsg` carries their number, the messages the guest and the arbiter gather name
their sender, :class:`ResidualMsg` carries the cross-host scores, :class:`CrossTermMsg`)."""

#: The largest number of hosts a session may announce.
MAX_HOSTS = 64


class MsgType(enum.IntEnum):
    """Frame types of the vertical-FL protocol (``0`` is the channel's ``accept``)."""

    PSI_KEY = 10
    PSI_BLINDED = 11
    PSI_EVALUATED = 12
    PSI_HOST_SET = 13
    PSI_INDICES = 14
    PSI_SALT = 15
    SPLIT = 20
    SESSION = 21
    HOST_INFO = 22
    PUBLIC_KEY = 23
    EPOCH_PLAN = 30
    FORWARD = 31
    RESIDUAL = 32
    GRADIENT = 33
    MASKED = 34
    EPOCH_RESULT = 35
    CROSS_TERM = 36
    PREDICT_REQUEST = 40
    PARTIAL_SCORES = 41


# --------------------------------------------------------------------------- PSI


@dataclass(frozen=True)
class PsiStep(Message):
    """A serialized PSI message (validated by :mod:`fl_node.vertical.crypto.psi` on parse)."""

    data: bytes


@dataclass(frozen=True)
class PsiKeyMsg(PsiStep):
    """Host -> guest: the OPRF public key."""

    TAG = MsgType.PSI_KEY


@dataclass(frozen=True)
class PsiBlindedMsg(PsiStep):
    """Guest -> host: the guest's blinded ids."""

    TAG = MsgType.PSI_BLINDED


@dataclass(frozen=True)
class PsiEvaluatedMsg(PsiStep):
    """Host -> guest: the OPRF evaluations of the guest's blinded ids."""

    TAG = MsgType.PSI_EVALUATED


@dataclass(frozen=True)
class PsiHostSetMsg(PsiStep):
    """Host -> guest: the truncated OPRF values of the host's ids."""

    TAG = MsgType.PSI_HOST_SET


@dataclass(frozen=True)
class PsiIndicesMsg(PsiStep):
    """Guest -> host: which of the host's values matched."""

    TAG = MsgType.PSI_INDICES


@dataclass(frozen=True)
class PsiSaltMsg(Message):
    """Guest -> host: the secret salt of the on-chain intersection commitment."""

    TAG = MsgType.PSI_SALT
    salt: bytes

    def validate(self) -> None:
        """Check the salt length."""
        require(len(self.salt) == 32, "PsiSaltMsg: the salt must be 32 bytes")


# --------------------------------------------------------------------------- setup


@dataclass(frozen=True)
class SplitMsg(Message):
    """Guest -> host: train / validation / test positions over the aligned order."""

    TAG = MsgType.SPLIT
    n_aligned: int
    train: U32Array = u32_field()
    validation: U32Array = u32_field()
    test: U32Array = u32_field()

    def validate(self) -> None:
        """Positions must be sorted, disjoint and inside the aligned rows."""
        require(self.n_aligned > 0, "SplitMsg: empty intersection")
        require(self.train.size > 0, "SplitMsg: no training rows")
        allpos = np.concatenate([self.train, self.validation, self.test]).astype(np.int64)
        require(int(allpos.max()) < self.n_aligned, "SplitMsg: position out of range")
        require(np.unique(allpos).size == allpos.size, "SplitMsg: parts overlap")
        for part in (self.train, self.validation, self.test):
            require(bool(np.all(np.diff(part.astype(np.int64)) > 0)), "SplitMsg: unsorted part")


@dataclass(frozen=True)
class SessionMsg(Message):
    """Guest -> host, arbiter: a training session's public parameters.

    ``randomizer`` is the agreed Paillier randomiser setting (``HeteroLRConfig.randomizer``,
    ``"short-exponent"`` or ``"textbook"``) the guest and the hosts encrypt with; each receiver
    refuses a session whose setting differs from its own configuration. ``n_hosts`` is the
    number of host parties (the hosts size their public bounds with it; the arbiter checks it
    against its own list).
    """

    TAG = MsgType.SESSION
    session: str
    version: int
    cipher: str
    n_train: int
    batch_size: int
    max_epochs: int
    max_batches: int
    guest_values: int
    randomizer: str
    n_hosts: int

    def validate(self) -> None:
        """Check ranges."""
        require(self.version == PROTOCOL_VERSION, "SessionMsg: protocol version mismatch")
        require(self.cipher in ("ours", "phe"), "SessionMsg: unknown cipher")
        require(self.n_train > 0 and self.batch_size > 0, "SessionMsg: empty training set")
        require(self.max_epochs > 0 and self.max_batches >= 0, "SessionMsg: bad limits")
        require(1 <= self.guest_values <= 4096, "SessionMsg: bad guest width")
        require(self.randomizer in RANDOMIZERS, "SessionMsg: unknown randomizer")
        require(1 <= self.n_hosts <= MAX_HOSTS, "SessionMsg: bad host count")


@dataclass(frozen=True)
class HostInfoMsg(Message):
    """Host -> guest, arbiter: the number of host features used in this session.

    ``party`` is the sender's name (``"host"`` when there is one host), checked by each
    receiver against the channel it came on.
    """

    TAG = MsgType.HOST_INFO
    session: str
    n_features: int
    party: str = "host"

    def validate(self) -> None:
        """Check ranges."""
        require(0 <= self.n_features <= 4096, "HostInfoMsg: bad feature count")


@dataclass(frozen=True)
class PublicKeyMsg(Message):
    """Arbiter -> guest, host: the session's Paillier public key."""

    TAG = MsgType.PUBLIC_KEY
    session: str
    cipher: str
    key_bits: int
    fingerprint: bytes
    key: bytes

    def validate(self) -> None:
        """Check ranges (the key itself is parsed by the cipher suite)."""
        require(self.cipher in ("ours", "phe"), "PublicKeyMsg: unknown cipher")
        require(256 <= self.key_bits <= 16384, "PublicKeyMsg: bad key size")
        require(len(self.fingerprint) == 16, "PublicKeyMsg: bad fingerprint")


# --------------------------------------------------------------------------- training


@dataclass(frozen=True)
class EpochPlanMsg(Message):
    """Guest -> host: the order of the training rows in this epoch (positions in train)."""

    TAG = MsgType.EPOCH_PLAN
    epoch: int
    order: U32Array = u32_field()

    def validate(self) -> None:
        """The order must be a permutation."""
        require(self.epoch >= 0, "EpochPlanMsg: negative epoch")
        n = self.order.size
        require(n > 0, "EpochPlanMsg: empty order")
        seen = np.zeros(n, dtype=bool)
        idx = self.order.astype(np.int64)
        require(int(idx.max()) < n, "EpochPlanMsg: position out of range")
        seen[idx] = True
        require(bool(seen.all()), "EpochPlanMsg: not a permutation")


@dataclass(frozen=True)
class ForwardMsg(Message):
    """Host -> guest: ``[[z_h / 4]]`` per batch row and ``[[q_h]]`` (loss term), encrypted.

    ``party`` is the sending host's name, checked by the guest against the channel.
    """

    TAG = MsgType.FORWARD
    epoch: int
    batch: int
    scores: bytes
    loss_term: bytes
    party: str = "host"


@dataclass(frozen=True)
class ResidualMsg(Message):
    """Guest -> host: the encrypted, re-randomised residuals ``[[d_i]]`` of the batch.

    ``peer_scores`` is ``[[S_k]]``, the sum of ``[[z_j/4]]`` of the hosts with features
    before this one (``b""`` for the first): the host returns ``[[z_k . S_k]]``, the
    cross-host part of the loss (:class:`CrossTermMsg`).
    """

    TAG = MsgType.RESIDUAL
    epoch: int
    batch: int
    residuals: bytes
    peer_scores: bytes


@dataclass(frozen=True)
class CrossTermMsg(Message):
    """Host ``k`` -> guest: ``[[z_k . S_k]]``, one ciphertext of the loss (hosts after the first).

    ``party`` is the sending host's name, checked by the guest against the channel.
    """

    TAG = MsgType.CROSS_TERM
    epoch: int
    batch: int
    party: str
    term: bytes


@dataclass(frozen=True)
class GradientMsg(Message):
    """Guest/host -> arbiter: masked encrypted gradient sums (guest: plus the loss).

    ``party`` is the sender's name, checked by the arbiter against the channel.
    """

    TAG = MsgType.GRADIENT
    epoch: int
    batch: int
    n_values: int
    has_loss: bool
    data: bytes
    party: str

    def validate(self) -> None:
        """Check ranges."""
        require(0 <= self.n_values <= 4097, "GradientMsg: bad value count")


@dataclass(frozen=True)
class MaskedMsg(Message):
    """Arbiter -> guest/host: decrypted *masked* values (``value * base**exponent``)."""

    TAG = MsgType.MASKED
    epoch: int
    batch: int
    base: int
    values: list[int]
    exponents: list[int]

    def validate(self) -> None:
        """Check shapes."""
        require(self.base in (2, 16), "MaskedMsg: base must be 2 or 16")
        require(len(self.values) == len(self.exponents), "MaskedMsg: length mismatch")
        require(all(abs(e) <= 4096 for e in self.exponents), "MaskedMsg: exponent range")


@dataclass(frozen=True)
class EpochResultMsg(Message):
    """Arbiter -> guest/host: end of an epoch (the loss goes to the guest only)."""

    TAG = MsgType.EPOCH_RESULT
    epoch: int
    converged: bool
    stop: bool
    loss: float | None


# --------------------------------------------------------------------------- prediction


@dataclass(frozen=True)
class PredictRequestMsg(Message):
    """Guest -> host: score these rows (validation or test positions only)."""

    TAG = MsgType.PREDICT_REQUEST
    model: str
    part: str
    positions: U32Array = u32_field()

    def validate(self) -> None:
        """Check the part name."""
        require(self.part in ("validation", "test"), "PredictRequestMsg: bad part")


@dataclass(frozen=True)
class PartialScoresMsg(Message):
    """Host -> guest: the host's partial scores ``x_h . w_h`` of the requested rows."""

    TAG = MsgType.PARTIAL_SCORES
    model: str
    part: str
    scores: F64Array = f64_field()


MESSAGE_CLASSES: dict[int, type[Message]] = {
    int(cls.TAG): cls
    for cls in (
        PsiKeyMsg,
        PsiBlindedMsg,
        PsiEvaluatedMsg,
        PsiHostSetMsg,
        PsiIndicesMsg,
        PsiSaltMsg,
        SplitMsg,
        SessionMsg,
        HostInfoMsg,
        PublicKeyMsg,
        EpochPlanMsg,
        ForwardMsg,
        ResidualMsg,
        CrossTermMsg,
        GradientMsg,
        MaskedMsg,
        EpochResultMsg,
        PredictRequestMsg,
        PartialScoresMsg,
    )
}


CODEC = MessageCodec(MESSAGE_CLASSES.values())
"""The protocol's messages, for the transports."""

TYPE_NAMES: dict[int, str] = CODEC.type_names
"""Frame type -> name, for the channel's statistics."""
