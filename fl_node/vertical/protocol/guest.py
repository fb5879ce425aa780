"""The label holder's side of a hetero-LR training session.

The guest holds the labels ``y`` and its features ``X_g`` (plus the intercept). Per batch it
encrypts ``v = z_g/4 + 1/2 - y`` (in idle time), combines it with every host's
``[[z_h/4]]`` into the re-randomised residuals ``[[d]]`` for the hosts (each host after the
first also gets the sum of the earlier hosts' scores, for the cross-host loss term it
returns), sends the arbiter its masked ``[[X_g^T d]]`` with the unmasked batch loss, and
updates its weights from the arbiter's masked reply. See :mod:`fl_node.vertical.protocol`
for the whole protocol.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
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
from fl_node.vertical.protocol.hosts import HostRoster
from fl_node.vertical.protocol.messages import (
    PROTOCOL_VERSION,
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
        ``False`` trains with the intercept only (coalitions without the guest's features).
    max_batches : int
        Stop after this many batches (0: none).
    hosts : sequence of str, default ("host",)
        The host parties' roles, in the agreed order (see
        :func:`~fl_node.vertical.protocol.hosts.host_names`).
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
        hosts: Sequence[str] = ("host",),
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
        self.hosts = HostRoster(hosts, self.role)
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
            n_hosts=len(self.hosts),
        )

    def receive_host_info(self, msg: HostInfoMsg, sender: str | None = None) -> None:
        """Learn how many features a host uses.

        Parameters
        ----------
        msg : HostInfoMsg
            From the host.
        sender : str or None
            The channel it came on (``None``: the only host).
        """
        self.hosts.receive_info(msg, sender, self.session)

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
            "forwards": {},
            "cross": {},
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

    def receive_forward(self, msg: ForwardMsg, sender: str | None = None) -> None:
        """Check and keep a host's ``[[z_h/4]]`` and ``[[q_h]]`` for the batch.

        Parameters
        ----------
        msg : ForwardMsg
            From a host.
        sender : str or None
            The channel it came on (``None``: the only host).

        Raises
        ------
        PeerMessageError
            From an unknown host, under another host's name, for another batch, a second one
            in the batch, or with ciphertexts of the wrong count, key or bound.
        """
        pending = self._pending
        name = self.hosts.resolve(sender)
        self.hosts.check_sender(name, msg.party, "forward")
        if self.hosts.features.get(name) == 0:
            raise PeerMessageError(f"guest: {name} sent a forward but announced no features")
        check_batch(
            self.role,
            f"forward from {name}",
            (msg.epoch, msg.batch),
            (pending["epoch"], pending["batch"]),
        )
        self.hosts.check_once(name, tuple(pending["forwards"]), "forward in this batch")
        suite, cfg = self._suite(), self.config
        try:
            with self.timer("messaging"):
                enc_z = suite.loads(msg.scores, count=len(pending["v"]), bound=cfg.score_bound / 4)
                enc_q = suite.loads(msg.loss_term, count=1, bound=cfg.loss_term_bound())
        except CipherSuiteError as exc:
            raise PeerMessageError(f"guest: bad forward message from {name}: {exc}") from exc
        pending["forwards"][name] = (enc_z, enc_q)

    def residual_messages(self) -> dict[str, ResidualMsg]:
        """Combine every host's ``[[z_h/4]]`` with fresh ``[[v]]`` into ``[[d]]``.

        Returns
        -------
        dict of str to ResidualMsg
            For each host with features: the re-randomised encrypted residuals, and the
            sum ``[[S_k]]`` of the earlier hosts' ``[[z_j/4]]`` (empty for the first).
        """
        pending = self._pending
        active = self.hosts.active
        missing = [name for name in active if name not in pending["forwards"]]
        if missing:
            raise PeerMessageError(f"guest: no forward from {', '.join(missing)} yet")
        suite = self._suite()
        prefix: list[Any] = []
        with self.timer("homomorphic"):
            for name in active:
                enc_z = pending["forwards"][name][0]
                prefix.append(enc_z if not prefix else suite.add(prefix[-1], enc_z))
        enc_v = self._encrypted_v()
        with self.timer("homomorphic"):
            enc_d = suite.add(prefix[-1], enc_v)
        pending.update(enc_d=enc_d, enc_z=prefix[-1])
        with self.timer("messaging"):
            residuals = suite.dumps(enc_d)
            peers = [b""] + [suite.dumps(p) for p in prefix[:-1]]
        epoch, batch = pending["epoch"], pending["batch"]
        return {
            name: ResidualMsg(epoch=epoch, batch=batch, residuals=residuals, peer_scores=peer)
            for name, peer in zip(active, peers, strict=True)
        }

    def receive_cross_term(self, msg: CrossTermMsg, sender: str | None = None) -> None:
        """Check and keep a host's cross-host loss term ``[[z_k . S_k]]``.

        Parameters
        ----------
        msg : CrossTermMsg
            From a host after the first with features.
        sender : str or None
            The channel it came on (``None``: the only host).
        """
        pending = self._pending
        name = self.hosts.resolve(sender)
        self.hosts.check_sender(name, msg.party, "cross term")
        if name not in self.hosts.active[1:]:
            raise PeerMessageError(f"guest: {name} sent a cross term it was not asked for")
        check_batch(
            self.role,
            f"cross term from {name}",
            (msg.epoch, msg.batch),
            (pending["epoch"], pending["batch"]),
        )
        self.hosts.check_once(name, tuple(pending["cross"]), "cross term in this batch")
        bound = self.config.cross_term_bound(len(self.hosts))
        try:
            with self.timer("messaging"):
                term = self._suite().loads(msg.term, count=1, bound=bound, product=True)
        except CipherSuiteError as exc:
            raise PeerMessageError(f"guest: bad cross term from {name}: {exc}") from exc
        pending["cross"][name] = term

    def _encrypted_loss(self) -> Any:
        """``[[L_B]]``: the hosts' encrypted terms plus the guest's plaintext part."""
        pending, suite = self._pending, self._suite()
        if "enc_z" not in pending:
            return None
        missing = [name for name in self.hosts.active[1:] if name not in pending["cross"]]
        if missing:
            raise PeerMessageError(f"guest: no cross term from {', '.join(missing)} yet")
        coef = pending["coef"].reshape(-1, 1)
        loss = suite.dot(pending["enc_z"], coef, x_bound=self.config.score_bound + 2.0)
        for _, enc_q in pending["forwards"].values():
            loss = suite.add(loss, enc_q)
        for term in pending["cross"].values():
            loss = suite.add(loss, term)
        return suite.add_plain(loss, np.array([pending["plain_loss"]]))

    def gradient_message(self) -> GradientMsg:
        """Masked ``[[X_g^T d]]`` plus the unmasked batch loss, packed for the arbiter."""
        pending = self._pending
        suite = self._suite()
        if "enc_d" not in pending:  # no host has features: [[d]] = [[v]]
            pending["enc_d"] = self._encrypted_v()
        with self.timer("homomorphic"):
            grads = pending.pop("grads", None)
            if grads is None:
                grads = suite.dot(pending["enc_d"], pending["x"], x_bound=self.config.x_bound)
            loss = self._encrypted_loss()
            masked, self._mask = suite.mask(grads)
        if loss is None:
            value = pending["plain_loss"]
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
            party=self.role,
        )

    def _gradient_dot(self) -> None:
        """``[[X_g^T d]]`` now, while the hosts compute their cross terms."""
        pending = self._pending
        with self.timer("homomorphic"):
            pending["grads"] = self._suite().dot(
                pending["enc_d"], pending["x"], x_bound=self.config.x_bound
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
        """Announce the session; learn the hosts' widths and the arbiter's key.

        Parameters
        ----------
        transport : Transport
            Channels to every host and ``"arbiter"``.
        """
        hello = self.session_message()
        for name in self.hosts.names:
            transport.send(name, hello)
        transport.send("arbiter", hello)
        while missing := self.hosts.missing_info():
            sender, info = transport.recv(missing, HostInfoMsg)
            self.receive_host_info(info, sender)
        self.receive_public_key(transport.recv_from("arbiter", PublicKeyMsg))
        cfg = self.config
        return SessionPlan(self.n_train, cfg.batch_size, cfg.max_epochs, self.max_batches)

    def start_epoch(self, transport: Transport, epoch: int) -> None:
        """Send every host the epoch's row order.

        Parameters
        ----------
        transport : Transport
            Channels to the hosts.
        epoch : int
            Zero-based epoch.
        """
        plan = self.epoch_plan(epoch)
        for name in self.hosts.names:
            transport.send(name, plan)

    def run_batch(
        self, transport: Transport, epoch: int, batch: int, start: int, stop: int
    ) -> None:
        """Residuals to the hosts with features, gradient to the arbiter, update.

        Parameters
        ----------
        transport : Transport
            Channels to the hosts and ``"arbiter"``.
        epoch, batch : int
            Position in the schedule.
        start, stop : int
            Slice of the epoch order.
        """
        self.begin_batch(epoch, batch, start, stop)
        active = self.hosts.active
        if active:
            # every host with features answers once; listening to all of them catches a repeat
            for _ in active:
                sender, forward = transport.recv(active, ForwardMsg, idle=self.idle_work)
                self.receive_forward(forward, sender)
            for name, residual in self.residual_messages().items():
                transport.send(name, residual)
            self._gradient_dot()
            while waiting := [n for n in active[1:] if n not in self._pending["cross"]]:
                sender, cross = transport.recv(waiting, CrossTermMsg, idle=self.idle_work)
                self.receive_cross_term(cross, sender)
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
