"""The feature-only party's side of a hetero-LR training session.

The host holds features ``X_h`` of the aligned rows. Per batch it sends the guest
``[[z_h/4]]`` and its loss term ``[[q_h]]``, receives the re-randomised residuals ``[[d]]``
(and, when it is not the first host with features, the earlier hosts' summed ``[[S_k]]``,
for which it returns the cross term ``[[z_h . S_k]]``), sends the arbiter its masked
``[[X_h^T d]]`` and updates its weights from the masked reply. It never learns labels,
residuals, the loss or another host's scores.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from fl_node.vertical.protocol._errors import CipherSuiteError, PeerMessageError
from fl_node.vertical.protocol.config import CipherName, FloatArray, HeteroLRConfig, IndexArray
from fl_node.vertical.protocol.guest import CHUNK
from fl_node.vertical.protocol.messages import (
    CrossTermMsg,
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
from fl_node.vertical.protocol.models import HostModel
from fl_node.vertical.protocol.session import (
    EpochEnd,
    SessionPlan,
    SessionRole,
    check_batch,
    check_public_key,
    check_randomizer,
)
from fl_node.vertical.protocol.suites import CipherSuite, MaskState, unmask
from fl_node.vertical.transport import PhaseTimer, Transport

log = logging.getLogger(__name__)


class HeteroLRHost(SessionRole):
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
        ``False``: the host contributes nothing (coalitions without its features).
    name : str, default "host"
        This host's role on the transport (``"host-1"`` ... with several hosts); it names
        the messages the host sends.
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
        name: str = "host",
        timer: PhaseTimer | None = None,
    ) -> None:
        self.role = name
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
        self.n_hosts = 1
        self.max_batches = 0
        self.max_epochs = config.max_epochs
        self.order: IndexArray = np.arange(0)
        self.losses: list[float] = []  # the arbiter keeps the loss from the host
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
        role = self.role
        if msg.session != self.session or msg.cipher != self.cipher:
            raise PeerMessageError(f"{role}: session or cipher mismatch")
        if msg.n_train != self.x.shape[0] or msg.batch_size != self.config.batch_size:
            raise PeerMessageError(f"{role}: the guest's training size or batch size differs")
        if msg.max_epochs != self.config.max_epochs:
            raise PeerMessageError(f"{role}: epoch limit differs from the agreed configuration")
        check_randomizer(role, msg, self.config)
        self.n_train = msg.n_train
        self.n_hosts = msg.n_hosts
        self.max_batches = msg.max_batches
        return HostInfoMsg(session=self.session, n_features=self.n_features, party=role)

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
            raise PeerMessageError(f"{self.role}: no public key yet")
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
            raise PeerMessageError(f"{self.role}: epoch plan does not match the session")
        self.order = msg.order.astype(np.int64)

    def idle_work(self) -> bool:
        """Precompute encryption randomisers for the next batch; ``False`` when done."""
        suite = self._suite()
        if self.n_features and suite.pool_size < self.config.batch_size + 1:
            with self.timer("encryption"):
                return suite.precompute(CHUNK)
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
        self._pending = {"epoch": epoch, "batch": batch, "x": xb, "z": z}
        return ForwardMsg(
            epoch=epoch, batch=batch, scores=scores, loss_term=loss_term, party=self.role
        )

    def cross_term_message(self, msg: ResidualMsg) -> CrossTermMsg | None:
        """``[[z_h . S_k]]`` from the earlier hosts' summed scores (``None`` for the first).

        Parameters
        ----------
        msg : ResidualMsg
            From the guest.
        """
        pending = self._pending
        check_batch(
            self.role, "residuals", (msg.epoch, msg.batch), (pending["epoch"], pending["batch"])
        )
        if not msg.peer_scores:
            return None
        suite, cfg = self._suite(), self.config
        try:
            with self.timer("messaging"):
                peers = suite.loads(
                    msg.peer_scores,
                    count=pending["x"].shape[0],
                    bound=cfg.peer_scores_bound(self.n_hosts),
                )
        except CipherSuiteError as exc:
            raise PeerMessageError(f"{self.role}: bad peer scores from the guest: {exc}") from exc
        with self.timer("homomorphic"):
            term = suite.dot(peers, pending["z"].reshape(-1, 1), x_bound=cfg.score_bound)
        with self.timer("messaging"):
            data = suite.dumps(term)
        return CrossTermMsg(epoch=msg.epoch, batch=msg.batch, party=self.role, term=data)

    def receive_residual(self, msg: ResidualMsg) -> GradientMsg:
        """Compute the masked ``[[X_h^T d]]`` for the arbiter.

        Parameters
        ----------
        msg : ResidualMsg
            From the guest.
        """
        pending = self._pending
        check_batch(
            self.role, "residuals", (msg.epoch, msg.batch), (pending["epoch"], pending["batch"])
        )
        suite = self._suite()
        try:
            with self.timer("messaging"):
                enc_d = suite.loads(
                    msg.residuals,
                    count=pending["x"].shape[0],
                    bound=self.config.residual_sum_bound(self.n_hosts),
                )
        except CipherSuiteError as exc:
            raise PeerMessageError(f"{self.role}: bad residual message: {exc}") from exc
        with self.timer("homomorphic"):
            grads = suite.dot(enc_d, pending["x"], x_bound=self.config.x_bound)
            masked, self._mask = suite.mask(grads)
            data = suite.for_arbiter(masked)
        return GradientMsg(
            epoch=msg.epoch,
            batch=msg.batch,
            n_values=self.n_features,
            has_loss=False,
            data=data,
            party=self.role,
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
        if self._mask is None or len(msg.values) != self.n_features:
            raise PeerMessageError(f"{self.role}: unexpected masked values")
        with self.timer("plaintext"):
            total = unmask(msg.values, msg.exponents, msg.base, self._mask)
            grad = total / pending["x"].shape[0] + self.config.l2 * self.w
            self.w -= self.config.lr(msg.epoch) * grad
        self._mask = None
        self._pending = {}

    # ---------------------------------------------------------------- session steps

    def open(self, transport: Transport) -> SessionPlan:
        """Check the guest's session, announce this party's width, load the arbiter's key.

        Parameters
        ----------
        transport : Transport
            Channels to ``"guest"`` and ``"arbiter"``.
        """
        info = self.receive_session(transport.recv_from("guest", SessionMsg))
        transport.send("guest", info)
        transport.send("arbiter", info)
        self.receive_public_key(transport.recv_from("arbiter", PublicKeyMsg))
        assert self.n_train is not None
        cfg = self.config
        return SessionPlan(self.n_train, cfg.batch_size, cfg.max_epochs, self.max_batches)

    def start_epoch(self, transport: Transport, epoch: int) -> None:
        """Adopt the guest's row order for the epoch.

        Parameters
        ----------
        transport : Transport
            Channel to ``"guest"``.
        epoch : int
            Zero-based epoch.
        """
        plan = transport.recv_from("guest", EpochPlanMsg, idle=self.idle_work)
        self.receive_epoch_plan(plan, epoch)

    def run_batch(
        self, transport: Transport, epoch: int, batch: int, start: int, stop: int
    ) -> None:
        """Scores to the guest, masked gradient to the arbiter, update (nothing without features).

        Parameters
        ----------
        transport : Transport
            Channels to ``"guest"`` and ``"arbiter"``.
        epoch, batch : int
            Position in the schedule.
        start, stop : int
            Slice of the epoch order.
        """
        if not self.n_features:
            return
        transport.send("guest", self.forward_message(epoch, batch, start, stop))
        residual = transport.recv_from("guest", ResidualMsg, idle=self.idle_work)
        cross = self.cross_term_message(residual)
        if cross is not None:  # first: the guest waits for it before the loss
            transport.send("guest", cross)
        transport.send("arbiter", self.receive_residual(residual))
        self.receive_masked(transport.recv_from("arbiter", MaskedMsg, idle=self.idle_work))

    def end_epoch(self, transport: Transport, epoch: int, *, last_scheduled: bool) -> EpochEnd:
        """Receive the arbiter's verdict (never the loss).

        Parameters
        ----------
        transport : Transport
            Channel to ``"arbiter"``.
        epoch : int
            The epoch just finished.
        last_scheduled : bool
            Unused (the arbiter decides).
        """
        msg = transport.recv_from("arbiter", EpochResultMsg, idle=self.idle_work)
        if msg.epoch != epoch or msg.loss is not None:
            raise PeerMessageError(f"{self.role}: unexpected epoch result")
        return EpochEnd(stop=msg.stop, converged=msg.converged)
