"""Hetero (vertical) logistic regression: guest, host and arbiter over Paillier.

FATE's coordinated LR pattern. The **guest** holds the labels ``y`` and features ``X_g``
(plus the intercept), the **host** holds features ``X_h`` of the same aligned rows, and the
**arbiter** (coordinator) holds the Paillier private key. The logistic loss is replaced by
its second-order Taylor expansion at 0, ``log(1 + e^{-y'z}) ~ log 2 - y'z/2 + z^2/8`` with
``y' = 2y - 1``, whose gradient is ``d_i x_i`` with the residual ``d_i = z_i/4 + 1/2 - y_i``:
linear in the score, hence computable on ciphertexts. Per mini-batch ``B`` (rows chosen by
the guest's epoch plan):

1. host: ``z_h = X_h w_h``; sends ``[[z_h/4]]`` and ``[[q_h]]``,
   ``q_h = sum z_h^2 / 8 + (alpha B / 2) |w_h|^2`` (one ciphertext, for the loss).
2. guest: ``v = z_g/4 + 1/2 - y`` encrypted with fresh randomness (done while waiting);
   ``[[d]] = [[z_h/4]] + [[v]]``; sends ``[[d]]`` to the host. The fresh ``[[v]]``
   re-randomises the host's ciphertexts: without it the host could divide out its own
   ciphertext and read ``v``, i.e. the labels.
3. both: ``[[G]] = X^T [[d]]`` (bucket multi-exponentiation); add uniform masks
   ``r`` of ``bound + 40`` bits; the guest appends the unmasked loss
   ``[[L_B]] = sum_i (z_g - 2y')_i [[z_h/4]]_i + [[q_h]] + sum_i (log 2 - y'z_g/2 + z_g^2/8)
   + (alpha B / 2)|w_g|^2``; both pack and send to the arbiter.
4. arbiter: decrypts, returns ``G + r`` to each party; records ``L_B / B``.
5. each party: ``g = (G + r - r) / B + alpha w``; ``w <- w - lr_e g`` with
   ``lr_e = lr / (1 + decay * epoch)`` (no L2 on the intercept).

After each epoch the arbiter averages the batch losses, declares convergence when the
change is below ``tol`` (or stops at ``max_epochs``) and tells both parties; the guest also
gets the loss. Each party keeps its own weights (the model is split). Prediction: the guest
asks the host for its partial scores ``z_h`` of validation / test rows only (the host
refuses training rows) and alone computes ``sigmoid(z_g + z_h)``.

What each role sees is listed in ``docs/vfl.md`` and checked by the tests. The classes
below consume and produce messages (:mod:`fl_node.vertical._vfl_messages`); the
``*_session`` functions drive them over a :class:`~fl_node.vertical._vfl_transport.Transport`,
the same code in one process (threads, tests) and across processes (TLS).
"""

from __future__ import annotations

import logging
import math
import time
import zlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from fl_node.vertical._vfl_cipher import (
    CipherSuite,
    CipherSuiteError,
    MaskState,
    OursSuite,
    PheSuite,
    suite_class,
    unmask,
)
from fl_node.vertical._vfl_messages import (
    PROTOCOL_VERSION,
    EpochPlanMsg,
    EpochResultMsg,
    ForwardMsg,
    GradientMsg,
    HostInfoMsg,
    MaskedMsg,
    PartialScoresMsg,
    PredictRequestMsg,
    PublicKeyMsg,
    ResidualMsg,
    SessionMsg,
)
from fl_node.vertical._vfl_transport import PhaseTimer, ProtocolError, Transport

log = logging.getLogger(__name__)

__all__ = [
    "GuestModel",
    "HeteroLRArbiter",
    "HeteroLRConfig",
    "HeteroLRGuest",
    "HeteroLRHost",
    "HostModel",
    "ProtocolError",
    "SessionResult",
    "arbiter_session",
    "epoch_order",
    "guest_predict",
    "guest_session",
    "host_answer_predict",
    "host_session",
    "schedule",
    "sigmoid",
    "taylor_lr_reference",
]

FloatArray = npt.NDArray[np.float64]
IndexArray = npt.NDArray[np.int64]
CipherName = Literal["ours", "phe"]

_LOG2 = math.log(2.0)
_CHUNK = 32  # values encrypted / randomisers precomputed per idle step


def sigmoid(z: FloatArray) -> FloatArray:
    """Numerically stable logistic function.

    Parameters
    ----------
    z : ndarray
        Scores.
    """
    out = np.empty_like(z, dtype=np.float64)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return out


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

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.max_epochs < 1:
            raise ValueError("batch_size and max_epochs must be positive")
        if not (self.learning_rate > 0 and self.lr_decay >= 0 and self.l2 >= 0 and self.tol >= 0):
            raise ValueError("learning_rate must be > 0; lr_decay, l2 and tol >= 0")
        if not (self.x_bound >= 1.0 and self.score_bound > 0):
            raise ValueError("x_bound must be >= 1 (intercept column) and score_bound > 0")

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


def _last_in_epoch(n_train: int, batch_size: int, max_batches: int, epoch: int, batch: int) -> bool:
    per_epoch = -(-n_train // batch_size)
    done = epoch * per_epoch + batch + 1
    return batch == per_epoch - 1 or (max_batches > 0 and done >= max_batches)


@dataclass
class SessionResult:
    """What a party reports about one training session.

    Attributes
    ----------
    role : str
        The party.
    epochs : int
        Epochs run (a truncated last epoch counts).
    batches : int
        Mini-batches run.
    rows : int
        Training rows processed (sum of batch sizes).
    seconds : float
        Wall time from the first epoch plan to the last epoch result.
    timer : dict
        Seconds per phase during that time.
    losses : list of float
        Epoch losses (guest and arbiter).
    converged : bool
        Whether the loss criterion stopped the session.
    setup_seconds : float
        Key distribution and session setup (not in ``seconds``).
    cpu_seconds : float
        CPU time of this party's process during ``seconds`` (load-independent work).
    """

    role: str
    epochs: int = 0
    batches: int = 0
    rows: int = 0
    seconds: float = 0.0
    timer: dict[str, float] = field(default_factory=dict)
    losses: list[float] = field(default_factory=list)
    converged: bool = False
    setup_seconds: float = 0.0
    cpu_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def _check_public_key(msg: PublicKeyMsg, cipher: str, config: HeteroLRConfig) -> CipherSuite:
    if msg.cipher != cipher:
        raise ProtocolError(f"the arbiter sent a {msg.cipher} key, the session uses {cipher}")
    key_bits = config.key_bits
    try:
        suite: CipherSuite = suite_class(cipher).from_public_bytes(
            msg.key, window_bits=config.window_bits
        )
    except (CipherSuiteError, ValueError) as exc:
        raise ProtocolError(f"invalid public key: {exc}") from exc
    if suite.fingerprint != msg.fingerprint:
        raise ProtocolError("public key fingerprint mismatch")
    if suite.key_bits != msg.key_bits or suite.key_bits < key_bits:
        raise ProtocolError(f"public key of {suite.key_bits} bits, need {key_bits}")
    suite.prepare()
    return suite


def _check_batch(role: str, what: str, got: tuple[int, int], want: tuple[int, int]) -> None:
    if got != want:
        raise ProtocolError(f"{role}: {what} for epoch/batch {got}, expected {want}")


# --------------------------------------------------------------------------- models


@dataclass
class GuestModel:
    """The guest's part of a trained model.

    Attributes
    ----------
    weights : ndarray
        Weights of the guest's features (empty when the guest used none).
    intercept : float
        The intercept.
    use_features : bool
        Whether the guest's features were used.
    """

    weights: FloatArray
    intercept: float
    use_features: bool = True

    def partial_scores(self, x: FloatArray) -> FloatArray:
        """``x . w + intercept`` for standardised guest rows.

        Parameters
        ----------
        x : ndarray of shape (n, F_g)
            Standardised guest features.
        """
        if not self.use_features:
            return np.full(x.shape[0], self.intercept)
        return x @ self.weights + self.intercept


@dataclass
class HostModel:
    """The host's part of a trained model.

    Attributes
    ----------
    weights : ndarray
        Weights of the host's features (empty when the host used none).
    use_features : bool
        Whether the host's features were used.
    """

    weights: FloatArray
    use_features: bool = True

    def partial_scores(self, x: FloatArray) -> FloatArray:
        """``x . w`` for standardised host rows.

        Parameters
        ----------
        x : ndarray of shape (n, F_h)
            Standardised host features.
        """
        if not self.use_features:
            return np.zeros(x.shape[0])
        return x @ self.weights


# --------------------------------------------------------------------------- guest


class HeteroLRGuest:
    """The label holder's side of one training session.

    Parameters
    ----------
    x_train : ndarray of shape (n_train, F_g)
        Standardised, winsorised guest features of the training rows (aligned order).
    y_train : ndarray of shape (n_train,)
        0/1 labels.
    config : HeteroLRConfig
        Agreed hyper-parameters.
    session : str
        Session name (also seeds the epoch plans).
    cipher : {"ours", "phe"}
        Paillier back end.
    use_features : bool
        ``False`` trains with the intercept only (host-only coalition).
    max_batches : int
        Stop after this many batches (0: none).
    timer : PhaseTimer or None
        Where time is accounted.
    """

    role = "guest"

    def __init__(
        self,
        x_train: FloatArray,
        y_train: FloatArray,
        config: HeteroLRConfig,
        *,
        session: str,
        cipher: CipherName = "ours",
        use_features: bool = True,
        max_batches: int = 0,
        timer: PhaseTimer | None = None,
    ) -> None:
        if x_train.shape[0] != y_train.shape[0] or x_train.ndim != 2:
            raise ValueError("x_train and y_train must have the same rows")
        self.config = config
        self.session = session
        self.cipher: CipherName = cipher
        self.use_features = use_features
        self.max_batches = max_batches
        self.timer = timer or PhaseTimer()
        feats = x_train if use_features else np.zeros((x_train.shape[0], 0))
        self.n_features = int(feats.shape[1])
        self.x = np.ascontiguousarray(
            np.hstack([feats, np.ones((feats.shape[0], 1))]), dtype=np.float64
        )
        self.y = np.asarray(y_train, dtype=np.float64)
        self.w = np.zeros(self.x.shape[1])
        self.suite: CipherSuite | None = None
        self.host_features: int | None = None
        self.order: IndexArray = np.arange(0)
        self.losses: list[float] = []
        self._pending: dict[str, Any] = {}
        self._mask: MaskState | None = None

    @property
    def n_train(self) -> int:
        """Training rows."""
        return int(self.x.shape[0])

    @property
    def n_values(self) -> int:
        """Values in the guest's gradient message: features, intercept, loss."""
        return self.n_features + 2

    def model(self) -> GuestModel:
        """The guest's current model part."""
        return GuestModel(self.w[:-1].copy(), float(self.w[-1]), self.use_features)

    def session_message(self) -> SessionMsg:
        """Announce the session to the host and the arbiter."""
        return SessionMsg(
            session=self.session,
            version=PROTOCOL_VERSION,
            cipher=self.cipher,
            n_train=self.n_train,
            batch_size=self.config.batch_size,
            max_epochs=self.config.max_epochs,
            max_batches=self.max_batches,
            guest_values=self.n_values - 1,
        )

    def receive_host_info(self, msg: HostInfoMsg) -> None:
        """Learn how many features the host uses.

        Parameters
        ----------
        msg : HostInfoMsg
            From the host.
        """
        if msg.session != self.session:
            raise ProtocolError("host info for another session")
        self.host_features = msg.n_features

    def receive_public_key(self, msg: PublicKeyMsg) -> None:
        """Load and check the arbiter's public key.

        Parameters
        ----------
        msg : PublicKeyMsg
            From the arbiter.
        """
        if msg.session != self.session:
            raise ProtocolError("public key for another session")
        self.suite = _check_public_key(msg, self.cipher, self.config)

    def _suite(self) -> CipherSuite:
        if self.suite is None:
            raise ProtocolError("guest: no public key yet")
        return self.suite

    def epoch_plan(self, epoch: int) -> EpochPlanMsg:
        """Draw the epoch's row order and return it for the host.

        Parameters
        ----------
        epoch : int
            Zero-based epoch.
        """
        self.order = epoch_order(self.config.seed, self.session, epoch, self.n_train)
        return EpochPlanMsg(epoch=epoch, order=self.order.astype(np.uint32))

    def begin_batch(self, epoch: int, batch: int, start: int, stop: int) -> None:
        """Compute the batch's plaintext terms; encryption of ``v`` starts in idle time.

        Parameters
        ----------
        epoch, batch : int
            Position in the schedule.
        start, stop : int
            Slice of the epoch order.
        """
        cfg = self.config
        with self.timer("plaintext"):
            rows = self.order[start:stop]
            xb, yb = self.x[rows], self.y[rows]
            z = np.clip(xb @ self.w, -cfg.score_bound, cfg.score_bound)
            yp = 2.0 * yb - 1.0
            v = 0.25 * z + 0.5 - yb
            reg = 0.5 * cfg.l2 * len(rows) * float(self.w[:-1] @ self.w[:-1])
            plain_loss = float(np.sum(_LOG2 - 0.5 * yp * z + 0.125 * z * z)) + reg
        self._pending = {
            "epoch": epoch,
            "batch": batch,
            "x": xb,
            "v": v,
            "coef": z - 2.0 * yp,
            "plain_loss": plain_loss,
            "parts": [],
            "done": 0,
        }

    def _encrypt_chunk(self) -> None:
        pending = self._pending
        lo = pending["done"]
        hi = min(lo + _CHUNK, len(pending["v"]))
        with self.timer("encryption"):
            pending["parts"].append(
                self._suite().encrypt(pending["v"][lo:hi], bound=self.config.residual_bound)
            )
        pending["done"] = hi

    def idle_work(self) -> bool:
        """Encrypt the next chunk of ``v``, else precompute randomisers; ``False`` when idle."""
        pending = self._pending
        if pending and pending["done"] < len(pending["v"]):
            self._encrypt_chunk()
            return True
        suite = self._suite()
        if suite.pool_size < self.config.batch_size:
            with self.timer("encryption"):
                return suite.precompute(_CHUNK)
        return False

    def _encrypted_v(self) -> Any:
        while self._pending["done"] < len(self._pending["v"]):
            self._encrypt_chunk()
        suite = self._suite()
        with self.timer("homomorphic"):
            return suite.concat(self._pending["parts"])

    def receive_forward(self, msg: ForwardMsg) -> ResidualMsg:
        """Combine the host's ``[[z_h/4]]`` with fresh ``[[v]]`` into ``[[d]]``.

        Parameters
        ----------
        msg : ForwardMsg
            From the host.

        Returns
        -------
        ResidualMsg
            The re-randomised encrypted residuals, for the host.
        """
        pending = self._pending
        _check_batch(
            self.role, "forward", (msg.epoch, msg.batch), (pending["epoch"], pending["batch"])
        )
        suite = self._suite()
        count = len(pending["v"])
        try:
            with self.timer("messaging"):
                enc_zh = suite.loads(msg.scores, count=count, bound=self.config.score_bound / 4)
                enc_q = suite.loads(msg.loss_term, count=1, bound=self.config.loss_term_bound())
        except CipherSuiteError as exc:
            raise ProtocolError(f"guest: bad forward message: {exc}") from exc
        enc_v = self._encrypted_v()
        with self.timer("homomorphic"):
            enc_d = suite.add(enc_zh, enc_v)
        pending.update(enc_d=enc_d, enc_zh=enc_zh, enc_q=enc_q)
        with self.timer("messaging"):
            data = suite.dumps(enc_d)
        return ResidualMsg(epoch=msg.epoch, batch=msg.batch, residuals=data)

    def gradient_message(self) -> GradientMsg:
        """Masked ``[[X_g^T d]]`` plus the unmasked batch loss, packed for the arbiter."""
        pending = self._pending
        suite = self._suite()
        if "enc_d" not in pending:  # the host has no features: [[d]] = [[v]]
            pending["enc_d"] = self._encrypted_v()
        with self.timer("homomorphic"):
            grads = suite.dot(pending["enc_d"], pending["x"], x_bound=self.config.x_bound)
            if "enc_zh" in pending:
                cross = suite.dot(
                    pending["enc_zh"],
                    pending["coef"].reshape(-1, 1),
                    x_bound=self.config.score_bound + 2.0,
                )
                loss = suite.add_plain(
                    suite.add(cross, pending["enc_q"]), np.array([pending["plain_loss"]])
                )
            else:
                value = pending["plain_loss"]
                loss = None
            masked, self._mask = suite.mask(grads)
        if loss is None:
            with self.timer("encryption"):
                loss = suite.encrypt(np.array([value]), bound=max(1.0, abs(value)))
        with self.timer("homomorphic"):
            data = suite.for_arbiter(suite.concat([masked, loss]))
        return GradientMsg(
            epoch=pending["epoch"],
            batch=pending["batch"],
            n_values=self.n_values,
            has_loss=True,
            data=data,
        )

    def receive_masked(self, msg: MaskedMsg) -> None:
        """Unmask the gradient and update the weights.

        Parameters
        ----------
        msg : MaskedMsg
            From the arbiter.
        """
        pending = self._pending
        _check_batch(
            self.role, "masked values", (msg.epoch, msg.batch), (pending["epoch"], pending["batch"])
        )
        if self._mask is None or len(msg.values) != self.n_values - 1:
            raise ProtocolError("guest: unexpected masked values")
        with self.timer("plaintext"):
            total = unmask(msg.values, msg.exponents, msg.base, self._mask)
            rows = len(pending["v"])
            grad = total / rows
            grad[:-1] += self.config.l2 * self.w[:-1]
            self.w -= self.config.lr(msg.epoch) * grad
        self._mask = None
        self._pending = {}

    def receive_epoch_result(self, msg: EpochResultMsg, epoch: int) -> bool:
        """Record the epoch loss; return whether to stop.

        Parameters
        ----------
        msg : EpochResultMsg
            From the arbiter.
        epoch : int
            The epoch just finished.
        """
        if msg.epoch != epoch or msg.loss is None:
            raise ProtocolError("guest: unexpected epoch result")
        self.losses.append(msg.loss)
        return msg.stop


def guest_session(transport: Transport, guest: HeteroLRGuest) -> SessionResult:
    """Run the guest's side of a training session.

    Parameters
    ----------
    transport : Transport
        Channels to ``"host"`` and ``"arbiter"``.
    guest : HeteroLRGuest
        The guest's state.

    Returns
    -------
    SessionResult
        Timings, losses and counts.
    """
    result = SessionResult(role="guest")
    t0 = time.perf_counter()
    transport.phase = f"train:{guest.session}"
    hello = guest.session_message()
    transport.send("host", hello)
    transport.send("arbiter", hello)
    guest.receive_host_info(transport.recv_from("host", HostInfoMsg))
    guest.receive_public_key(transport.recv_from("arbiter", PublicKeyMsg))
    host_active = bool(guest.host_features)
    start = time.perf_counter()
    cpu_start = time.process_time()
    before = transport.timer.snapshot()
    result.setup_seconds = start - t0
    epoch = -1
    stop = False
    for ep, batch, lo, hi in schedule(
        guest.n_train, guest.config.batch_size, guest.config.max_epochs, guest.max_batches
    ):
        if ep != epoch:
            epoch = ep
            transport.send("host", guest.epoch_plan(ep))
        guest.begin_batch(ep, batch, lo, hi)
        if host_active:
            forward = transport.recv_from("host", ForwardMsg, idle=guest.idle_work)
            transport.send("host", guest.receive_forward(forward))
        transport.send("arbiter", guest.gradient_message())
        guest.receive_masked(transport.recv_from("arbiter", MaskedMsg, idle=guest.idle_work))
        result.batches += 1
        result.rows += hi - lo
        if _last_in_epoch(guest.n_train, guest.config.batch_size, guest.max_batches, ep, batch):
            msg = transport.recv_from("arbiter", EpochResultMsg)
            result.epochs += 1
            result.converged = msg.converged
            stop = guest.receive_epoch_result(msg, ep)
            if stop:
                break
    if not stop:
        raise ProtocolError("guest: the arbiter never stopped the session")
    result.seconds = time.perf_counter() - start
    result.cpu_seconds = time.process_time() - cpu_start
    result.timer = PhaseTimer.since(before, transport.timer.snapshot())
    result.losses = list(guest.losses)
    return result


# --------------------------------------------------------------------------- host


class HeteroLRHost:
    """The feature-only party's side of one training session.

    Parameters
    ----------
    x_train : ndarray of shape (n_train, F_h)
        Standardised, winsorised host features of the training rows (aligned order).
    config : HeteroLRConfig
        Agreed hyper-parameters.
    session : str
        Session name.
    cipher : {"ours", "phe"}
        Paillier back end.
    use_features : bool
        ``False``: the host contributes nothing (guest-only coalition).
    timer : PhaseTimer or None
        Where time is accounted.
    """

    role = "host"

    def __init__(
        self,
        x_train: FloatArray,
        config: HeteroLRConfig,
        *,
        session: str,
        cipher: CipherName = "ours",
        use_features: bool = True,
        timer: PhaseTimer | None = None,
    ) -> None:
        self.config = config
        self.session = session
        self.cipher: CipherName = cipher
        self.use_features = use_features
        self.timer = timer or PhaseTimer()
        self.x = np.ascontiguousarray(
            x_train if use_features else np.zeros((x_train.shape[0], 0)), dtype=np.float64
        )
        self.w = np.zeros(self.x.shape[1])
        self.suite: CipherSuite | None = None
        self.n_train: int | None = None
        self.max_batches = 0
        self.max_epochs = config.max_epochs
        self.order: IndexArray = np.arange(0)
        self._pending: dict[str, Any] = {}
        self._mask: MaskState | None = None

    @property
    def n_features(self) -> int:
        """Features used in this session."""
        return int(self.x.shape[1])

    def model(self) -> HostModel:
        """The host's current model part."""
        return HostModel(self.w.copy(), self.use_features)

    def receive_session(self, msg: SessionMsg) -> HostInfoMsg:
        """Check the guest's session parameters against the agreed configuration.

        Parameters
        ----------
        msg : SessionMsg
            From the guest.

        Returns
        -------
        HostInfoMsg
            The host's feature count, for the guest and the arbiter.
        """
        if msg.session != self.session or msg.cipher != self.cipher:
            raise ProtocolError("host: session or cipher mismatch")
        if msg.n_train != self.x.shape[0] or msg.batch_size != self.config.batch_size:
            raise ProtocolError("host: the guest's training size or batch size differs")
        if msg.max_epochs != self.config.max_epochs:
            raise ProtocolError("host: epoch limit differs from the agreed configuration")
        self.n_train = msg.n_train
        self.max_batches = msg.max_batches
        return HostInfoMsg(session=self.session, n_features=self.n_features)

    def receive_public_key(self, msg: PublicKeyMsg) -> None:
        """Load and check the arbiter's public key.

        Parameters
        ----------
        msg : PublicKeyMsg
            From the arbiter.
        """
        if msg.session != self.session:
            raise ProtocolError("public key for another session")
        self.suite = _check_public_key(msg, self.cipher, self.config)

    def _suite(self) -> CipherSuite:
        if self.suite is None:
            raise ProtocolError("host: no public key yet")
        return self.suite

    def receive_epoch_plan(self, msg: EpochPlanMsg, epoch: int) -> None:
        """Adopt the guest's row order for ``epoch``.

        Parameters
        ----------
        msg : EpochPlanMsg
            From the guest.
        epoch : int
            The epoch expected.
        """
        if msg.epoch != epoch or msg.order.size != self.n_train:
            raise ProtocolError("host: epoch plan does not match the session")
        self.order = msg.order.astype(np.int64)

    def idle_work(self) -> bool:
        """Precompute encryption randomisers for the next batch; ``False`` when done."""
        suite = self._suite()
        if self.n_features and suite.pool_size < self.config.batch_size + 1:
            with self.timer("encryption"):
                return suite.precompute(_CHUNK)
        return False

    def forward_message(self, epoch: int, batch: int, start: int, stop: int) -> ForwardMsg:
        """Encrypt the batch's ``z_h / 4`` and the loss term ``q_h``.

        Parameters
        ----------
        epoch, batch : int
            Position in the schedule.
        start, stop : int
            Slice of the epoch order.
        """
        cfg = self.config
        suite = self._suite()
        with self.timer("plaintext"):
            rows = self.order[start:stop]
            xb = self.x[rows]
            z = np.clip(xb @ self.w, -cfg.score_bound, cfg.score_bound)
            q = 0.125 * float(z @ z) + 0.5 * cfg.l2 * len(rows) * float(self.w @ self.w)
            q = min(q, cfg.loss_term_bound())
        with self.timer("encryption"):
            enc_z = suite.encrypt(0.25 * z, bound=cfg.score_bound / 4)
            enc_q = suite.encrypt(np.array([q]), bound=cfg.loss_term_bound())
        with self.timer("messaging"):
            scores, loss_term = suite.dumps(enc_z), suite.dumps(enc_q)
        self._pending = {"epoch": epoch, "batch": batch, "x": xb}
        return ForwardMsg(epoch=epoch, batch=batch, scores=scores, loss_term=loss_term)

    def receive_residual(self, msg: ResidualMsg) -> GradientMsg:
        """Compute the masked ``[[X_h^T d]]`` for the arbiter.

        Parameters
        ----------
        msg : ResidualMsg
            From the guest.
        """
        pending = self._pending
        _check_batch(
            self.role, "residuals", (msg.epoch, msg.batch), (pending["epoch"], pending["batch"])
        )
        suite = self._suite()
        try:
            with self.timer("messaging"):
                enc_d = suite.loads(
                    msg.residuals,
                    count=pending["x"].shape[0],
                    bound=self.config.score_bound / 2 + 1.0,
                )
        except CipherSuiteError as exc:
            raise ProtocolError(f"host: bad residual message: {exc}") from exc
        with self.timer("homomorphic"):
            grads = suite.dot(enc_d, pending["x"], x_bound=self.config.x_bound)
            masked, self._mask = suite.mask(grads)
            data = suite.for_arbiter(masked)
        return GradientMsg(
            epoch=msg.epoch, batch=msg.batch, n_values=self.n_features, has_loss=False, data=data
        )

    def receive_masked(self, msg: MaskedMsg) -> None:
        """Unmask the gradient and update the weights.

        Parameters
        ----------
        msg : MaskedMsg
            From the arbiter.
        """
        pending = self._pending
        _check_batch(
            self.role, "masked values", (msg.epoch, msg.batch), (pending["epoch"], pending["batch"])
        )
        if self._mask is None or len(msg.values) != self.n_features:
            raise ProtocolError("host: unexpected masked values")
        with self.timer("plaintext"):
            total = unmask(msg.values, msg.exponents, msg.base, self._mask)
            grad = total / pending["x"].shape[0] + self.config.l2 * self.w
            self.w -= self.config.lr(msg.epoch) * grad
        self._mask = None
        self._pending = {}


def host_session(transport: Transport, host: HeteroLRHost) -> SessionResult:
    """Run the host's side of a training session.

    Parameters
    ----------
    transport : Transport
        Channels to ``"guest"`` and ``"arbiter"``.
    host : HeteroLRHost
        The host's state.

    Returns
    -------
    SessionResult
        Timings and counts.
    """
    result = SessionResult(role="host")
    t0 = time.perf_counter()
    transport.phase = f"train:{host.session}"
    info = host.receive_session(transport.recv_from("guest", SessionMsg))
    transport.send("guest", info)
    transport.send("arbiter", info)
    host.receive_public_key(transport.recv_from("arbiter", PublicKeyMsg))
    start = time.perf_counter()
    cpu_start = time.process_time()
    before = transport.timer.snapshot()
    result.setup_seconds = start - t0
    assert host.n_train is not None
    epoch = -1
    stop = False
    for ep, batch, lo, hi in schedule(
        host.n_train, host.config.batch_size, host.config.max_epochs, host.max_batches
    ):
        if ep != epoch:
            epoch = ep
            host.receive_epoch_plan(
                transport.recv_from("guest", EpochPlanMsg, idle=host.idle_work), ep
            )
        if host.n_features:
            transport.send("guest", host.forward_message(ep, batch, lo, hi))
            residual = transport.recv_from("guest", ResidualMsg, idle=host.idle_work)
            transport.send("arbiter", host.receive_residual(residual))
            host.receive_masked(transport.recv_from("arbiter", MaskedMsg, idle=host.idle_work))
        result.batches += 1
        result.rows += hi - lo
        if _last_in_epoch(host.n_train, host.config.batch_size, host.max_batches, ep, batch):
            msg = transport.recv_from("arbiter", EpochResultMsg, idle=host.idle_work)
            if msg.epoch != ep or msg.loss is not None:
                raise ProtocolError("host: unexpected epoch result")
            result.epochs += 1
            result.converged = msg.converged
            if msg.stop:
                stop = True
                break
    if not stop:
        raise ProtocolError("host: the arbiter never stopped the session")
    result.seconds = time.perf_counter() - start
    result.cpu_seconds = time.process_time() - cpu_start
    result.timer = PhaseTimer.since(before, transport.timer.snapshot())
    return result


# --------------------------------------------------------------------------- arbiter


class HeteroLRArbiter:
    """The key holder: decrypts masked gradients, tracks the loss, decides convergence.

    Parameters
    ----------
    config : HeteroLRConfig
        Agreed hyper-parameters.
    session : str
        Session name.
    cipher : {"ours", "phe"}
        Paillier back end.
    suite : CipherSuite or None
        A key pair to use; generated (``config.key_bits``) when omitted.
    timer : PhaseTimer or None
        Where time is accounted.
    """

    role = "arbiter"

    def __init__(
        self,
        config: HeteroLRConfig,
        *,
        session: str,
        cipher: CipherName = "ours",
        suite: CipherSuite | None = None,
        timer: PhaseTimer | None = None,
    ) -> None:
        self.config = config
        self.session = session
        self.cipher: CipherName = cipher
        self.timer = timer or PhaseTimer()
        if suite is None:
            with self.timer("encryption"):
                suite = (OursSuite if cipher == "ours" else PheSuite).generate(config.key_bits)
        self.suite = suite
        self.plan: SessionMsg | None = None
        self.host_features: int | None = None
        self.losses: list[float] = []
        self.batch_losses: list[float] = []
        self._epoch_loss = 0.0
        self._epoch_rows = 0

    def public_key_message(self) -> PublicKeyMsg:
        """The public key for the guest and the host."""
        return PublicKeyMsg(
            session=self.session,
            cipher=self.cipher,
            key_bits=self.suite.key_bits,
            fingerprint=self.suite.fingerprint,
            key=self.suite.public_key_bytes(),
        )

    def receive_session(self, msg: SessionMsg) -> None:
        """Adopt the guest's session parameters.

        Parameters
        ----------
        msg : SessionMsg
            From the guest.
        """
        if msg.session != self.session or msg.cipher != self.cipher:
            raise ProtocolError("arbiter: session or cipher mismatch")
        if msg.batch_size != self.config.batch_size or msg.max_epochs != self.config.max_epochs:
            raise ProtocolError("arbiter: session differs from the agreed configuration")
        self.plan = msg

    def receive_host_info(self, msg: HostInfoMsg) -> None:
        """Learn the host's feature count.

        Parameters
        ----------
        msg : HostInfoMsg
            From the host.
        """
        if msg.session != self.session:
            raise ProtocolError("arbiter: host info for another session")
        self.host_features = msg.n_features

    def receive_gradient(self, sender: str, msg: GradientMsg, want: tuple[int, int]) -> MaskedMsg:
        """Decrypt a party's masked values (and the guest's loss).

        Parameters
        ----------
        sender : str
            ``"guest"`` or ``"host"``.
        msg : GradientMsg
            The packed ciphertexts.
        want : tuple of int
            The ``(epoch, batch)`` expected.
        """
        if self.plan is None or self.host_features is None:
            raise ProtocolError("arbiter: session not set up")
        _check_batch(self.role, f"{sender} gradient", (msg.epoch, msg.batch), want)
        expected = self.plan.guest_values + 1 if sender == "guest" else self.host_features
        if msg.n_values != expected or msg.has_loss != (sender == "guest"):
            raise ProtocolError(f"arbiter: {sender} sent {msg.n_values} values, want {expected}")
        try:
            with self.timer("decryption"):
                dec = self.suite.decrypt_for_party(msg.data, expected)
        except CipherSuiteError as exc:
            raise ProtocolError(f"arbiter: bad gradient from {sender}: {exc}") from exc
        values, exps = dec.values, dec.exponents
        if msg.has_loss:
            with self.timer("plaintext"):
                loss_sum = dec.as_float(len(values) - 1)
                rows = self._batch_rows(msg.epoch, msg.batch)
                self.batch_losses.append(loss_sum / rows)
                self._epoch_loss += loss_sum
                self._epoch_rows += rows
            values, exps = values[:-1], exps[:-1]
        return MaskedMsg(
            epoch=msg.epoch, batch=msg.batch, base=dec.base, values=values, exponents=exps
        )

    def _batch_rows(self, epoch: int, batch: int) -> int:
        assert self.plan is not None
        n, b = self.plan.n_train, self.plan.batch_size
        return min(n, (batch + 1) * b) - batch * b

    def end_epoch(
        self, epoch: int, *, last_scheduled: bool
    ) -> tuple[EpochResultMsg, EpochResultMsg]:
        """Close an epoch: loss, convergence, and the messages for the guest and host.

        Parameters
        ----------
        epoch : int
            The epoch just finished.
        last_scheduled : bool
            Whether the schedule has no batch after this epoch.
        """
        loss = self._epoch_loss / max(1, self._epoch_rows)
        converged = bool(self.losses) and abs(self.losses[-1] - loss) < self.config.tol
        self.losses.append(loss)
        self._epoch_loss, self._epoch_rows = 0.0, 0
        stop = converged or last_scheduled
        log.info(
            "%s epoch %d: loss %.6f%s",
            self.session,
            epoch,
            loss,
            " (converged)" if converged else "",
        )
        guest = EpochResultMsg(epoch=epoch, converged=converged, stop=stop, loss=loss)
        host = EpochResultMsg(epoch=epoch, converged=converged, stop=stop, loss=None)
        return guest, host


def arbiter_session(transport: Transport, arbiter: HeteroLRArbiter) -> SessionResult:
    """Run the arbiter's side of a training session.

    Parameters
    ----------
    transport : Transport
        Channels to ``"guest"`` and ``"host"``.
    arbiter : HeteroLRArbiter
        The arbiter's state.

    Returns
    -------
    SessionResult
        Timings, losses and counts.
    """
    result = SessionResult(role="arbiter")
    t0 = time.perf_counter()
    transport.phase = f"train:{arbiter.session}"
    key = arbiter.public_key_message()
    transport.send("guest", key)
    transport.send("host", key)
    arbiter.receive_session(transport.recv_from("guest", SessionMsg))
    arbiter.receive_host_info(transport.recv_from("host", HostInfoMsg))
    plan = arbiter.plan
    assert plan is not None
    start = time.perf_counter()
    cpu_start = time.process_time()
    before = transport.timer.snapshot()
    result.setup_seconds = start - t0
    batches = list(schedule(plan.n_train, plan.batch_size, plan.max_epochs, plan.max_batches))
    stop = False
    for i, (ep, batch, lo, hi) in enumerate(batches):
        waiting = ["guest", "host"] if arbiter.host_features else ["guest"]
        while waiting:
            sender, msg = transport.recv(waiting, GradientMsg)
            waiting.remove(sender)
            transport.send(sender, arbiter.receive_gradient(sender, msg, (ep, batch)))
        result.batches += 1
        result.rows += hi - lo
        if _last_in_epoch(plan.n_train, plan.batch_size, plan.max_batches, ep, batch):
            last = i == len(batches) - 1
            to_guest, to_host = arbiter.end_epoch(ep, last_scheduled=last)
            transport.send("guest", to_guest)
            transport.send("host", to_host)
            result.epochs += 1
            result.converged = to_guest.converged
            if to_guest.stop:
                stop = True
                break
    if not stop:  # pragma: no cover - the schedule always ends an epoch
        raise ProtocolError("arbiter: schedule ended without a stop")
    result.seconds = time.perf_counter() - start
    result.cpu_seconds = time.process_time() - cpu_start
    result.timer = PhaseTimer.since(before, transport.timer.snapshot())
    result.losses = list(arbiter.losses)
    return result


# --------------------------------------------------------------------------- prediction


def guest_predict(
    transport: Transport,
    model: GuestModel,
    x_all: FloatArray,
    positions: IndexArray,
    *,
    model_name: str,
    part: Literal["validation", "test"],
) -> FloatArray:
    """Federated prediction, guest side: only the guest learns the probabilities.

    Parameters
    ----------
    transport : Transport
        Channel to ``"host"``.
    model : GuestModel
        The guest's model part.
    x_all : ndarray of shape (n_aligned, F_g)
        Standardised guest features of every aligned row.
    positions : ndarray of int
        Aligned positions to score (validation or test rows).
    model_name : str
        Which of the host's model parts to use.
    part : {"validation", "test"}
        Split part the positions belong to (the host checks).

    Returns
    -------
    ndarray of float64
        Predicted probabilities.
    """
    transport.phase = f"predict:{model_name}"
    transport.send(
        "host",
        PredictRequestMsg(model=model_name, part=part, positions=positions.astype(np.uint32)),
    )
    reply = transport.recv_from("host", PartialScoresMsg)
    if reply.model != model_name or reply.part != part or reply.scores.size != positions.size:
        raise ProtocolError("guest: partial scores do not match the request")
    with transport.timer("plaintext"):
        return sigmoid(model.partial_scores(x_all[positions]) + reply.scores)


def host_answer_predict(
    transport: Transport,
    models: dict[str, HostModel],
    x_all: FloatArray,
    allowed: dict[str, IndexArray],
) -> str:
    """Federated prediction, host side: partial scores of validation / test rows only.

    Parameters
    ----------
    transport : Transport
        Channel to ``"guest"``.
    models : dict
        The host's model parts by name.
    x_all : ndarray of shape (n_aligned, F_h)
        Standardised host features of every aligned row.
    allowed : dict
        ``part -> positions`` the host agreed to score (the validation and test parts).

    Returns
    -------
    str
        The model name that was scored.
    """
    request = transport.recv_from("guest", PredictRequestMsg)
    transport.phase = f"predict:{request.model}"
    model = models.get(request.model)
    if model is None:
        raise ProtocolError(f"host: no model {request.model!r}")
    positions = request.positions.astype(np.int64)
    permitted = allowed.get(request.part)
    if permitted is None or not np.isin(positions, permitted).all():
        raise ProtocolError("host: refused to score rows outside the validation/test parts")
    with transport.timer("plaintext"):
        scores = model.partial_scores(x_all[positions])
    transport.send("guest", PartialScoresMsg(model=request.model, part=request.part, scores=scores))
    return request.model


# --------------------------------------------------------------------------- reference


def taylor_lr_reference(
    x_guest: FloatArray,
    x_host: FloatArray,
    y: FloatArray,
    config: HeteroLRConfig,
    *,
    session: str,
    epochs: int,
    max_batches: int = 0,
) -> tuple[FloatArray, FloatArray, list[float]]:
    """Plaintext Taylor-LR with the protocol's exact schedule (for correctness tests).

    Parameters
    ----------
    x_guest, x_host : ndarray
        Standardised training features of both parties (aligned rows); either may have
        zero columns.
    y : ndarray
        0/1 labels.
    config : HeteroLRConfig
        The same configuration as the protocol run.
    session : str
        Session name (fixes the epoch orders).
    epochs : int
        Epochs to run (no convergence check).
    max_batches : int
        Batch limit (0: none).

    Returns
    -------
    tuple
        ``(guest weights incl. intercept last, host weights, epoch losses)``.
    """
    cfg = replace(config, max_epochs=epochs)
    xg = np.hstack([x_guest, np.ones((x_guest.shape[0], 1))])
    wg = np.zeros(xg.shape[1])
    wh = np.zeros(x_host.shape[1])
    losses: list[float] = []
    total, rows_seen, epoch = 0.0, 0, -1
    order = np.arange(0)
    n = xg.shape[0]
    for ep, batch, lo, hi in schedule(n, cfg.batch_size, epochs, max_batches):
        if ep != epoch:
            epoch = ep
            order = epoch_order(cfg.seed, session, ep, n)
        rows = order[lo:hi]
        zg = np.clip(xg[rows] @ wg, -cfg.score_bound, cfg.score_bound)
        zh = np.clip(x_host[rows] @ wh, -cfg.score_bound, cfg.score_bound)
        z = zg + zh
        yb = y[rows]
        yp = 2 * yb - 1
        loss = float(np.sum(_LOG2 - 0.5 * yp * z + 0.125 * z * z))
        loss += 0.5 * cfg.l2 * len(rows) * (float(wg[:-1] @ wg[:-1]) + float(wh @ wh))
        total += loss
        rows_seen += len(rows)
        d = 0.25 * z + 0.5 - yb
        gg = xg[rows].T @ d / len(rows)
        gg[:-1] += cfg.l2 * wg[:-1]
        gh = x_host[rows].T @ d / len(rows) + cfg.l2 * wh
        wg = wg - cfg.lr(ep) * gg
        wh = wh - cfg.lr(ep) * gh
        if _last_in_epoch(n, cfg.batch_size, max_batches, ep, batch):
            losses.append(total / rows_seen)
            total, rows_seen = 0.0, 0
    return wg, wh, losses
