"""Hetero-LR hyper-parameters and the batch schedule every role derives from them.

:class:`HeteroLRConfig` is agreed by all parties (its public bounds size the encrypted
values); :func:`schedule` and :func:`epoch_order` give guest, host, arbiter and the plaintext
reference the same sequence of batches.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from fl_node.vertical.crypto.paillier import DEFAULT_RANDOMIZER, RANDOMIZERS, RandomizerName
from fl_node.vertical.protocol._errors import HeteroLRConfigError

FloatArray = npt.NDArray[np.float64]
IndexArray = npt.NDArray[np.int64]
CipherName = Literal["ours", "phe"]


@dataclass(frozen=True)
class HeteroLRConfig:
    """Hyper-parameters and public bounds of a hetero-LR training (agreed by all parties).

    Attributes
    ----------
    batch_size : int
        Rows per mini-batch.
    learning_rate : float
        Initial learning rate.
    lr_decay : float
        Inverse-time decay per epoch: ``lr_e = learning_rate / (1 + lr_decay * e)``.
    l2 : float
        L2 penalty ``alpha`` on the feature weights (not the intercept).
    max_epochs : int
        Epoch limit.
    tol : float
        Convergence: stop when the epoch loss changes by less than this.
    x_bound : float
        Public bound on ``|x|`` (the parties winsorise their standardised features here).
    score_bound : float
        Public bound on ``|z_g|`` and ``|z_h|`` (partial scores are clipped to it).
    key_bits : int
        Paillier modulus size.
    frac_bits : int
        Fixed-point fractional bits of encrypted values.
    seed : int
        Seed of the guest's epoch plans.
    window_bits : int
        Window of each party's fixed-base encryption table (ours; a local speed setting).
    randomizer : {"short-exponent", "textbook"}
        How the encrypting parties (guest and host; not the key holder, who only decrypts
        here) draw Paillier randomisers with our cipher: ``"short-exponent"`` (the default:
        ``h**s`` with a 256-bit ``s``, about 57x phe's encryption speed, secure under DCR plus
        the short-exponent assumption) or ``"textbook"`` (uniform ``r**n``, DCR alone, phe's
        speed). The guest announces it in :class:`~fl_node.vertical.protocol.messages.SessionMsg`
        and the host and the arbiter refuse a session announcing another one. The phe cipher
        always uses textbook randomisers. Why this default: ``docs/paillier.md``, "Which
        randomiser by default".
    """

    batch_size: int = 1024
    learning_rate: float = 0.3
    lr_decay: float = 0.5
    l2: float = 1e-4
    max_epochs: int = 10
    tol: float = 1e-4
    x_bound: float = 3.0
    score_bound: float = 256.0
    key_bits: int = 2048
    frac_bits: int = 32
    seed: int = 0
    window_bits: int = 12
    randomizer: RandomizerName = DEFAULT_RANDOMIZER

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.max_epochs < 1:
            raise HeteroLRConfigError("batch_size and max_epochs must be positive")
        if not (self.learning_rate > 0 and self.lr_decay >= 0 and self.l2 >= 0 and self.tol >= 0):
            raise HeteroLRConfigError("learning_rate must be > 0; lr_decay, l2 and tol >= 0")
        if not (self.x_bound >= 1.0 and self.score_bound > 0):
            raise HeteroLRConfigError("x_bound must be >= 1 (intercept column) and score_bound > 0")
        if self.randomizer not in RANDOMIZERS:
            raise HeteroLRConfigError(
                f"randomizer must be one of {RANDOMIZERS}, not {self.randomizer!r}"
            )

    def lr(self, epoch: int) -> float:
        """Learning rate of ``epoch``.

        Parameters
        ----------
        epoch : int
            Zero-based epoch.
        """
        return self.learning_rate / (1.0 + self.lr_decay * epoch)

    @property
    def residual_bound(self) -> float:
        """Public bound on ``|v| = |z_g/4 + 1/2 - y|``."""
        return self.score_bound / 4 + 1.0

    def loss_term_bound(self) -> float:
        """Public bound on the host's loss term ``q_h`` (it is clipped to it)."""
        return self.batch_size * (self.score_bound**2 / 8 + 1.0)

    # Each homomorphic addition may add one bit to a vector's declared bound (``max + 1``),
    # so the bounds of sums over hosts double per host rather than grow by one term.

    def residual_sum_bound(self, n_hosts: int) -> float:
        """Public bound the hosts accept on ``[[d]] = sum_h [[z_h/4]] + [[v]]``.

        Parameters
        ----------
        n_hosts : int
            Host parties in the session.
        """
        return self.residual_bound * 2.0**n_hosts

    def peer_scores_bound(self, n_hosts: int) -> float:
        """Public bound a host accepts on ``[[S_k]]``, the other hosts' summed ``[[z_j/4]]``.

        Parameters
        ----------
        n_hosts : int
            Host parties in the session.
        """
        return self.score_bound / 4 * 2.0 ** max(0, n_hosts - 1)

    def cross_term_bound(self, n_hosts: int) -> float:
        """Public bound the guest accepts on a host's cross term ``[[z_k . S_k]]``.

        Parameters
        ----------
        n_hosts : int
            Host parties in the session.
        """
        return self.batch_size * self.score_bound * self.peer_scores_bound(n_hosts) * 2.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def epoch_order(seed: int, session: str, epoch: int, n_train: int) -> IndexArray:
    """The guest's random order of the training rows in ``epoch`` (reproducible).

    Parameters
    ----------
    seed : int
        Config seed.
    session : str
        Session name.
    epoch : int
        Zero-based epoch.
    n_train : int
        Number of training rows.
    """
    rng = np.random.default_rng([seed, zlib.crc32(session.encode("utf-8")), epoch])
    return rng.permutation(n_train).astype(np.int64)


def schedule(
    n_train: int, batch_size: int, max_epochs: int, max_batches: int
) -> Iterator[tuple[int, int, int, int]]:
    """Yield ``(epoch, batch, start, stop)`` of every batch the session may run.

    The session may stop earlier (convergence); ``max_batches > 0`` truncates it.

    Parameters
    ----------
    n_train : int
        Training rows.
    batch_size : int
        Rows per batch.
    max_epochs : int
        Epoch limit.
    max_batches : int
        Total batch limit (0: none).
    """
    done = 0
    per_epoch = -(-n_train // batch_size)
    for epoch in range(max_epochs):
        for batch in range(per_epoch):
            if max_batches and done >= max_batches:
                return
            start = batch * batch_size
            yield epoch, batch, start, min(n_train, start + batch_size)
            done += 1


def last_in_epoch(n_train: int, batch_size: int, max_batches: int, epoch: int, batch: int) -> bool:
    """Whether batch ``batch`` of ``epoch`` is the last one the schedule runs in that epoch.

    Parameters
    ----------
    n_train, batch_size, max_batches : int
        As for :func:`schedule`.
    epoch, batch : int
        Position in the schedule.
    """
    per_epoch = -(-n_train // batch_size)
    done = epoch * per_epoch + batch + 1
    return batch == per_epoch - 1 or (max_batches > 0 and done >= max_batches)
