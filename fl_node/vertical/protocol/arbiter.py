"""The key holder's side of a hetero-LR training session (FATE's coordinator, "arbiter").

The arbiter generates the session's Paillier key pair, decrypts the parties' *masked*
gradients (and the guest's batch loss), tracks the epoch loss and decides convergence. It
sees no rows, features, labels or weights.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from fl_node.vertical.protocol._errors import CipherSuiteError, PeerMessageError
from fl_node.vertical.protocol.config import CipherName, HeteroLRConfig
from fl_node.vertical.protocol.hosts import HostRoster
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
    hosts : sequence of str, default ("host",)
        The host parties' roles (see :func:`~fl_node.vertical.protocol.hosts.host_names`).
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
        hosts: Sequence[str] = ("host",),
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
        self.hosts = HostRoster(hosts, self.role)
        self._heard: tuple[tuple[int, int], list[str]] = ((-1, -1), [])
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
        if msg.n_hosts != len(self.hosts):
            raise PeerMessageError(
                f"arbiter: the guest announced {msg.n_hosts} hosts, this session has "
                f"{len(self.hosts)} ({', '.join(self.hosts.names)})"
            )
        check_randomizer(self.role, msg, self.config)
        self.plan = msg

    def receive_host_info(self, msg: HostInfoMsg, sender: str | None = None) -> None:
        """Learn a host's feature count.

        Parameters
        ----------
        msg : HostInfoMsg
            From the host.
        sender : str or None
            The channel it came on (``None``: the only host).
        """
        self.hosts.receive_info(msg, sender, self.session)

    def _expected_values(self, sender: str, msg: GradientMsg, want: tuple[int, int]) -> int:
        """Check who sent a gradient, for which batch and how often; return its value count."""
        if self.plan is None or self.hosts.missing_info():
            raise PeerMessageError("arbiter: session not set up")
        if sender == "guest":
            if msg.party != sender:
                raise PeerMessageError(f"arbiter: guest sent a gradient claiming {msg.party!r}")
            expected = self.plan.guest_values + 1
        else:
            self.hosts.check_sender(sender, msg.party, "gradient")
            expected = self.hosts.features[sender]
            if not expected:
                raise PeerMessageError(f"arbiter: {sender} sent a gradient but has no features")
        check_batch(self.role, f"{sender} gradient", (msg.epoch, msg.batch), want)
        if self._heard[0] != want:
            self._heard = (want, [])
        self.hosts.check_once(sender, self._heard[1], "gradient in this batch")
        self._heard[1].append(sender)
        return expected

    def receive_gradient(self, sender: str, msg: GradientMsg, want: tuple[int, int]) -> MaskedMsg:
        """Decrypt a party's masked values (and the guest's loss).

        Parameters
        ----------
        sender : str
            ``"guest"`` or a host's role (the channel the message came on).
        msg : GradientMsg
            The packed ciphertexts.
        want : tuple of int
            The ``(epoch, batch)`` expected.
        """
        expected = self._expected_values(sender, msg, want)
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
        """Close an epoch: loss, convergence, and the messages for the guest and the hosts.

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
        """Hand out the public key; learn the guest's session and the hosts' widths.

        Parameters
        ----------
        transport : Transport
            Channels to ``"guest"`` and every host.
        """
        key = self.public_key_message()
        transport.send("guest", key)
        for name in self.hosts.names:
            transport.send(name, key)
        self.receive_session(transport.recv_from("guest", SessionMsg))
        while missing := self.hosts.missing_info():
            sender, info = transport.recv(missing, HostInfoMsg)
            self.receive_host_info(info, sender)
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
            Channels to ``"guest"`` and every host.
        epoch, batch : int
            Position in the schedule.
        start, stop : int
            Slice of the epoch order (unused: the arbiter sees no rows).
        """
        # listening to every sender (not only those still due) catches a repeated gradient
        senders = ["guest", *self.hosts.active]
        for _ in senders:
            sender, msg = transport.recv(senders, GradientMsg)
            transport.send(sender, self.receive_gradient(sender, msg, (epoch, batch)))

    def end_epoch(self, transport: Transport, epoch: int, *, last_scheduled: bool) -> EpochEnd:
        """Decide (loss, convergence) and tell the guest and every host.

        Parameters
        ----------
        transport : Transport
            Channels to ``"guest"`` and every host.
        epoch : int
            The epoch just finished.
        last_scheduled : bool
            Whether the schedule has no batch after this epoch.
        """
        to_guest, to_host = self.close_epoch(epoch, last_scheduled=last_scheduled)
        transport.send("guest", to_guest)
        for name in self.hosts.names:
            transport.send(name, to_host)
        return EpochEnd(stop=to_guest.stop, converged=to_guest.converged)
