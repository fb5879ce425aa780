"""The label holder's side of a hetero-LR training session.

The guest holds the labels ``y`` and its features ``X_g`` (plus the intercept). Per batch it
encrypts ``v = z_g/4 + 1/2 - y`` (in idle time), combines it with the host's ``[[z_h/4]]``
into the re-randomised residuals ``[[d]]`` for the host, sends the arbiter its masked
``[[X_g^T d]]`` with the unmasked batch loss, and updates its weights from the arbiter's
masked reply. See :mod:`fl_node.vertical.protocol` for the whole protocol.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np

from fl_node.vertical.protocol._errors import (
    CipherSuiteError,
    HeteroLRConfigError,
    PeerMessageError,
)
from fl_node.vertical.protocol.config import (
    CipherName,
    FloatArray,
    HeteroLRConfig,
    IndexArray,
    epoch_order,
)
from fl_node.vertical.protocol.messages import (
    PROTOCOL_VERSION,
    EpochPlanMsg,
    EpochResultMsg,
    ForwardMsg,
    GradientMsg,
    HostInfoMsg,
    MaskedMsg,
    PublicKeyMsg,
    ResidualMsg,
    SessionMsg,
)
from fl_node.vertical.protocol.models import GuestModel
from fl_node.vertical.protocol.session import (
    EpochEnd,
    SessionPlan,
    SessionRole,
    check_batch,
    check_public_key,
)
from fl_node.vertical.protocol.suites import CipherSuite, MaskState, unmask
from fl_node.vertical.transport import PhaseTimer, Transport

log = logging.getLogger(__name__)

_LOG2 = math.log(2.0)
CHUNK = 32
"""Values encrypted / randomisers precomputed per idle step."""


class HeteroLRGuest(SessionRole):
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
            raise HeteroLRConfigError("x_train and y_train must have the same rows")
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
            randomizer=self.config.randomizer,
        )

    def receive_host_info(self, msg: HostInfoMsg) -> None:
        """Learn how many features the host uses.

        Parameters
        ----------
        msg : HostInfoMsg
            From the host.
        """
        if msg.session != self.session:
            raise PeerMessageError("host info for another session")
        self.host_features = msg.n_features

    def receive_public_key(self, msg: PublicKeyMsg) -> None:
        """Load and check the arbiter's public key.

        Parameters
        ----------
        msg : PublicKeyMsg
            From the arbiter.
        """
        if msg.session != self.session:
            raise PeerMessageError("public key for another session")
        self.suite = check_public_key(msg, self.cipher, self.config)

    def _suite(self) -> CipherSuite:
        if self.suite is None:
            raise PeerMessageError("guest: no public key yet")
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
        hi = min(lo + CHUNK, len(pending["v"]))
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
                return suite.precompute(CHUNK)
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
        check_batch(
            self.role, "forward", (msg.epoch, msg.batch), (pending["epoch"], pending["batch"])
        )
        suite = self._suite()
        count = len(pending["v"])
        try:
            with self.timer("messaging"):
                enc_zh = suite.loads(msg.scores, count=count, bound=self.config.score_bound / 4)
                enc_q = suite.loads(msg.loss_term, count=1, bound=self.config.loss_term_bound())
        except CipherSuiteError as exc:
            raise PeerMessageError(f"guest: bad forward message: {exc}") from exc
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
        check_batch(
            self.role, "masked values", (msg.epoch, msg.batch), (pending["epoch"], pending["batch"])
        )
        if self._mask is None or len(msg.values) != self.n_values - 1:
            raise PeerMessageError("guest: unexpected masked values")
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
            raise PeerMessageError("guest: unexpected epoch result")
        self.losses.append(msg.loss)
        return msg.stop

    # ---------------------------------------------------------------- session steps

    def open(self, transport: Transport) -> SessionPlan:
        """Announce the session; learn the host's width and the arbiter's key.

        Parameters
        ----------
        transport : Transport
            Channels to ``"host"`` and ``"arbiter"``.
        """
        hello = self.session_message()
        transport.send("host", hello)
        transport.send("arbiter", hello)
        self.receive_host_info(transport.recv_from("host", HostInfoMsg))
        self.receive_public_key(transport.recv_from("arbiter", PublicKeyMsg))
        cfg = self.config
        return SessionPlan(self.n_train, cfg.batch_size, cfg.max_epochs, self.max_batches)

    def start_epoch(self, transport: Transport, epoch: int) -> None:
        """Send the host the epoch's row order.

        Parameters
        ----------
        transport : Transport
            Channel to ``"host"``.
        epoch : int
            Zero-based epoch.
        """
        transport.send("host", self.epoch_plan(epoch))

    def run_batch(
        self, transport: Transport, epoch: int, batch: int, start: int, stop: int
    ) -> None:
        """Residuals to the host (when it has features), gradient to the arbiter, update.

        Parameters
        ----------
        transport : Transport
            Channels to ``"host"`` and ``"arbiter"``.
        epoch, batch : int
            Position in the schedule.
        start, stop : int
            Slice of the epoch order.
        """
        self.begin_batch(epoch, batch, start, stop)
        if self.host_features:
            forward = transport.recv_from("host", ForwardMsg, idle=self.idle_work)
            transport.send("host", self.receive_forward(forward))
        transport.send("arbiter", self.gradient_message())
        self.receive_masked(transport.recv_from("arbiter", MaskedMsg, idle=self.idle_work))

    def end_epoch(self, transport: Transport, epoch: int, *, last_scheduled: bool) -> EpochEnd:
        """Receive the epoch loss and the arbiter's verdict.

        Parameters
        ----------
        transport : Transport
            Channel to ``"arbiter"``.
        epoch : int
            The epoch just finished.
        last_scheduled : bool
            Unused (the arbiter decides).
        """
        msg = transport.recv_from("arbiter", EpochResultMsg)
        stop = self.receive_epoch_result(msg, epoch)
        return EpochEnd(stop=stop, converged=msg.converged)
