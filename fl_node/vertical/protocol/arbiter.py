"""The key holder's side of a hetero-LR training session (FATE's coordinator, "arbiter").

The arbiter generates the session's Paillier key pair, decrypts the parties' *masked*
gradients (and the guest's batch loss), tracks the epoch loss and decides convergence. It
sees no rows, features, labels or weights.
"""

from __future__ import annotations

import logging

from fl_node.vertical.protocol._errors import CipherSuiteError, PeerMessageError
from fl_node.vertical.protocol.config import CipherName, HeteroLRConfig
from fl_node.vertical.protocol.messages import (
    EpochResultMsg,
    GradientMsg,
    HostInfoMsg,
    MaskedMsg,
    PublicKeyMsg,
    SessionMsg,
)
from fl_node.vertical.protocol.session import (
    EpochEnd,
    SessionPlan,
    SessionRole,
    check_batch,
    check_randomizer,
)
from fl_node.vertical.protocol.suites import CipherSuite, OursSuite, PheSuite
from fl_node.vertical.transport import PhaseTimer, Transport

log = logging.getLogger(__name__)


class HeteroLRArbiter(SessionRole):
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
            raise PeerMessageError("arbiter: session or cipher mismatch")
        if msg.batch_size != self.config.batch_size or msg.max_epochs != self.config.max_epochs:
            raise PeerMessageError("arbiter: session differs from the agreed configuration")
        check_randomizer(self.role, msg, self.config)
        self.plan = msg

    def receive_host_info(self, msg: HostInfoMsg) -> None:
        """Learn the host's feature count.

        Parameters
        ----------
        msg : HostInfoMsg
            From the host.
        """
        if msg.session != self.session:
            raise PeerMessageError("arbiter: host info for another session")
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
            raise PeerMessageError("arbiter: session not set up")
        check_batch(self.role, f"{sender} gradient", (msg.epoch, msg.batch), want)
        expected = self.plan.guest_values + 1 if sender == "guest" else self.host_features
        if msg.n_values != expected or msg.has_loss != (sender == "guest"):
            raise PeerMessageError(f"arbiter: {sender} sent {msg.n_values} values, want {expected}")
        try:
            with self.timer("decryption"):
                dec = self.suite.decrypt_for_party(msg.data, expected)
        except CipherSuiteError as exc:
            raise PeerMessageError(f"arbiter: bad gradient from {sender}: {exc}") from exc
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

    def close_epoch(
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

    # ---------------------------------------------------------------- session steps

    def open(self, transport: Transport) -> SessionPlan:
        """Hand out the public key; learn the guest's session and the host's width.

        Parameters
        ----------
        transport : Transport
            Channels to ``"guest"`` and ``"host"``.
        """
        key = self.public_key_message()
        transport.send("guest", key)
        transport.send("host", key)
        self.receive_session(transport.recv_from("guest", SessionMsg))
        self.receive_host_info(transport.recv_from("host", HostInfoMsg))
        plan = self.plan
        assert plan is not None
        return SessionPlan(plan.n_train, plan.batch_size, plan.max_epochs, plan.max_batches)

    def run_batch(
        self, transport: Transport, epoch: int, batch: int, start: int, stop: int
    ) -> None:
        """Decrypt each party's masked gradient as it arrives and send back its values.

        Parameters
        ----------
        transport : Transport
            Channels to ``"guest"`` and ``"host"``.
        epoch, batch : int
            Position in the schedule.
        start, stop : int
            Slice of the epoch order (unused: the arbiter sees no rows).
        """
        waiting = ["guest", "host"] if self.host_features else ["guest"]
        while waiting:
            sender, msg = transport.recv(waiting, GradientMsg)
            waiting.remove(sender)
            transport.send(sender, self.receive_gradient(sender, msg, (epoch, batch)))

    def end_epoch(self, transport: Transport, epoch: int, *, last_scheduled: bool) -> EpochEnd:
        """Decide (loss, convergence) and tell both parties.

        Parameters
        ----------
        transport : Transport
            Channels to ``"guest"`` and ``"host"``.
        epoch : int
            The epoch just finished.
        last_scheduled : bool
            Whether the schedule has no batch after this epoch.
        """
        to_guest, to_host = self.close_epoch(epoch, last_scheduled=last_scheduled)
        transport.send("guest", to_guest)
        transport.send("host", to_host)
        return EpochEnd(stop=to_guest.stop, converged=to_guest.converged)
