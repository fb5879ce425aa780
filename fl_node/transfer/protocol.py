"""The federated transfer protocol: target party, source party and coordinator.

The users both domains share (found by PSI) have one factor row and one bias, the *shared
block*, held by the coordinator; everything else stays with its party: its items' factors and
biases, its other users' rows, its ratings. Each full-batch step:

1. the coordinator sends the shared block to both parties (:class:`SharedFactors`);
2. each party computes the gradient of its squared error over its training ratings, updates
   its own parameters with its own Adam, and sends the shared rows' gradient and its objective
   term, in fixed point and masked with the pairwise ChaCha20 mask (:class:`MaskedGradient`);
3. the coordinator adds the two messages in Z_2^64 (the masks cancel), adds the penalty,
   and updates the shared block with its Adam;
4. the target scores its validation ratings with the new parameters and tells the
   coordinator, who relays it to the source, whether that improved and whether to stop
   (:class:`Control`); both parties keep their state at the best step.

Because the objective is a sum over ratings and Adam acts element-wise, this is the
centralised pooled training step for step (up to the 2^-32 fixed-point rounding).
:class:`Wire` carries every message as bytes and records them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

import numpy as np

from fl_node.transfer.central import EarlyStopping, evaluate
from fl_node.transfer.config import MFConfig
from fl_node.transfer.errors import TransferProtocolError
from fl_node.transfer.masking import KeyPair, Masker, decode, encode, unmasked_sum
from fl_node.transfer.messages import (
    Control,
    MaskedGradient,
    Message,
    PublicKey,
    SharedFactors,
    SharedShape,
    from_bytes,
    to_bytes,
)
from fl_node.transfer.mf import Adam, Factors, Floats, Ints, Ratings, gradients

log = logging.getLogger(__name__)

M = TypeVar("M", PublicKey, SharedShape, SharedFactors, MaskedGradient, Control)


class Authenticator(Protocol):
    """Signs this party's mask key and checks the other's (:mod:`~fl_node.transfer.identity`)."""

    def sign(self, statement: bytes) -> bytes:
        """Sign ``statement`` with this party's key."""

    def verify(self, statement: bytes, signature: bytes, role: str) -> None:
        """Raise unless ``signature`` of ``statement`` is by the party in ``role``."""


@dataclass(frozen=True)
class WireRecord:
    """One message as it crossed the wire: who to whom, its kind, size and (if kept) bytes."""

    sender: str
    receiver: str
    kind: str
    size: int
    data: bytes | None = None


@dataclass
class Wire:
    """Serialises every message, records it, and hands the receiver the parsed copy.

    Parameters
    ----------
    keep : bool, default False
        Keep every message's bytes (tests); otherwise only sizes are recorded.
    """

    keep: bool = False
    records: list[WireRecord] = field(default_factory=list)

    def send(self, message: Message, sender: str, receiver: str) -> Message:
        """``sender`` sends ``message`` to ``receiver``; return what ``receiver`` parses."""
        data = to_bytes(message)
        kind = type(message).__name__
        self.records.append(
            WireRecord(sender, receiver, kind, len(data), data if self.keep else None)
        )
        return from_bytes(data)

    def bytes_by_sender(self) -> dict[str, int]:
        """Total bytes each role sent."""
        totals: dict[str, int] = {}
        for r in self.records:
            totals[r.sender] = totals.get(r.sender, 0) + r.size
        return totals


class DomainParty:
    """A party with ratings in one domain: its items, its unshared users, its optimiser.

    Parameters
    ----------
    name : {"target", "source"}
        The role; the target adds the mask, the source subtracts it.
    user_ids : ndarray of int
        Its users' ids, sorted (local user ``u`` is ``user_ids[u]``).
    n_items : int
        Its items.
    train : Ratings
        Its training ratings.
    shared_ids : ndarray of int
        The PSI intersection, sorted: row ``k`` of the shared block is user ``shared_ids[k]``.
    config : MFConfig
        Hyperparameters.
    seed : int
        Seed of its initial parameters.
    auth : Authenticator or None, default None
        Signs its mask key and checks the other's; ``None`` trusts the relayed keys (tests).
    """

    def __init__(
        self,
        name: str,
        user_ids: Ints,
        n_items: int,
        train: Ratings,
        shared_ids: Ints,
        config: MFConfig,
        seed: int,
        auth: Authenticator | None = None,
    ) -> None:
        self.name, self.config, self.train, self.auth = name, config, train, auth
        pos = np.searchsorted(shared_ids, user_ids)
        hit = (pos < len(shared_ids)) & (
            shared_ids[np.minimum(pos, len(shared_ids) - 1)] == user_ids
        )
        self.shared_rows, self.shared_index = np.flatnonzero(hit), pos[hit]
        self.local_rows = np.flatnonzero(~hit)
        self.n_shared, self.n_users = len(shared_ids), len(user_ids)
        rng = np.random.default_rng(seed)
        self.local = Factors.init(
            len(self.local_rows), config.rank, rng, config.init_scale
        ).stacked()
        self.items = Factors.init(n_items, config.rank, rng, config.init_scale).stacked()
        self.mu = float(train.values.mean())
        self._opt_local, self._opt_items = Adam(config.lr), Adam(config.lr)
        self._keys = KeyPair()
        self._masker: Masker | None = None
        self.shared = np.zeros((0, config.rank + 1))
        self.step = 0
        self.best: tuple[Floats, ...] = (self.shared, self.local, self.items)

    def public_key(self, context: bytes = b"") -> PublicKey:
        """Its X25519 public key, signed for ``context`` when it has an authenticator."""
        from fl_node.transfer.identity import key_statement

        key = self._keys.public
        if self.auth is None:
            return PublicKey(self.name, key)
        return PublicKey(self.name, key, self.auth.sign(key_statement(self.name, key, context)))

    def agree(self, peer: PublicKey, context: bytes = b"") -> None:
        """Derive the pairwise mask key from the other party's (verified) public key."""
        from fl_node.transfer.identity import key_statement

        if peer.sender == self.name:
            raise TransferProtocolError(f"agree: the {self.name} got its own public key")
        if self.auth is not None:
            statement = key_statement(peer.sender, peer.key, context)
            self.auth.verify(statement, peer.signature, peer.sender)
        sign = 1 if self.name == "target" else -1
        self._masker = Masker(self._keys.mask_key(peer.key, context), sign)

    def shape(self) -> SharedShape:
        """The shared block it expects."""
        return SharedShape(self.name, self.n_shared, self.config.rank + 1)

    def receive(self, message: SharedFactors) -> None:
        """Take the coordinator's shared block after ``message.step`` steps."""
        if message.values.shape != (self.n_shared, self.config.rank + 1):
            raise TransferProtocolError(f"receive: shared block of shape {message.values.shape}")
        self.shared, self.step = message.values, message.step

    def users(self, shared: Floats | None = None, local: Floats | None = None) -> Factors:
        """Every own user's row: shared ones from the shared block, the others local."""
        table = np.empty((self.n_users, self.config.rank + 1))
        table[self.shared_rows] = (self.shared if shared is None else shared)[self.shared_index]
        table[self.local_rows] = self.local if local is None else local
        return Factors.from_stacked(table)

    def gradient_step(self) -> MaskedGradient:
        """One step: gradients, own Adam update, the masked shared gradient and objective term."""
        if self._masker is None:
            raise TransferProtocolError("gradient_step: no mask key yet (agree first)")
        reg = self.config.reg
        g = gradients(self.users(), Factors.from_stacked(self.items), self.mu, self.train)
        g_shared = np.zeros((self.n_shared, self.config.rank + 1))
        g_shared[self.shared_index] = g.users[self.shared_rows]
        own = float((self.local**2).sum() + (self.items**2).sum())
        objective = g.loss + 0.5 * reg * own
        self.local = self._opt_local.update(self.local, g.users[self.local_rows] + reg * self.local)
        self.items = self._opt_items.update(self.items, g.items + reg * self.items)
        words = encode(np.append(g_shared.ravel(), objective))
        return MaskedGradient(self.name, self.step, self._masker.apply(words, self.step))

    def keep_if(self, control: Control) -> None:
        """Keep the current state when the target says it improved validation."""
        if control.improved:
            self.best = (self.shared.copy(), self.local.copy(), self.items.copy())


class TargetParty(DomainParty):
    """The target: also scores its validation ratings after each step and decides to stop.

    Parameters
    ----------
    valid : Ratings
        Its validation ratings (never sent).
    user_ids, n_items, train, shared_ids, config, seed, auth
        As :class:`DomainParty` (whose ``name`` is ``"target"``).
    """

    def __init__(
        self,
        valid: Ratings,
        *,
        user_ids: Ints,
        n_items: int,
        train: Ratings,
        shared_ids: Ints,
        config: MFConfig,
        seed: int,
        auth: Authenticator | None = None,
    ) -> None:
        super().__init__("target", user_ids, n_items, train, shared_ids, config, seed, auth)
        self.valid = valid
        self.stopping = EarlyStopping(self.config.patience)

    def verdict(self) -> Control:
        """Score validation with the current parameters: improved, and whether to stop."""
        _, score = evaluate(self.users(), Factors.from_stacked(self.items), self.mu, self.valid)
        stop = self.stopping.observe(score, (self.shared, self.local, self.items))
        stop = stop or self.step >= self.config.epochs
        return Control(self.step, self.stopping.improved, stop)

    def scores(self, ratings: Ratings) -> tuple[float, float]:
        """``(MAE, RMSE)`` of the best state on ``ratings`` (its own held-out ratings)."""
        shared, local, items = self.best
        return evaluate(self.users(shared, local), Factors.from_stacked(items), self.mu, ratings)


class Coordinator:
    """Holds the shared block and its Adam; sees only shapes, public keys and masked sums.

    Parameters
    ----------
    config : MFConfig
        Hyperparameters (rank, step size, penalty).
    seed : int
        Seed of the shared block's initial values.
    """

    def __init__(self, config: MFConfig, seed: int) -> None:
        self.config, self.seed = config, seed
        self.shared = np.zeros((0, config.rank + 1))
        self.step = 0
        self.objectives: list[float] = []
        self.best = self.shared
        self._opt = Adam(config.lr)

    def setup(self, target: SharedShape, source: SharedShape) -> SharedFactors:
        """Check the two parties agree on the shared block; draw its initial values."""
        if (target.rows, target.width) != (source.rows, source.width):
            raise TransferProtocolError(f"setup: the parties disagree: {target} vs {source}")
        if target.width != self.config.rank + 1:
            raise TransferProtocolError(f"setup: width {target.width}, rank {self.config.rank}")
        rng = np.random.default_rng(self.seed)
        init = Factors.init(target.rows, self.config.rank, rng, self.config.init_scale)
        self.shared = init.stacked()
        self.best = self.shared.copy()
        return SharedFactors(0, self.shared.copy())

    def aggregate(self, first: MaskedGradient, second: MaskedGradient) -> SharedFactors:
        """Sum the two masked messages of this step, update the shared block, return it."""
        if {first.sender, second.sender} != {"target", "source"}:
            raise TransferProtocolError("aggregate: needs one message from each party")
        if first.step != self.step or second.step != self.step:
            raise TransferProtocolError(f"aggregate: messages of steps {first.step}, {second.step}")
        if len(first.words) != self.shared.size + 1 or len(second.words) != len(first.words):
            raise TransferProtocolError("aggregate: a message of the wrong length")
        total = decode(unmasked_sum(first.words, second.words))
        reg = self.config.reg
        self.objectives.append(float(total[-1]) + 0.5 * reg * float((self.shared**2).sum()))
        gradient = total[:-1].reshape(self.shared.shape) + reg * self.shared
        self.shared = self._opt.update(self.shared, gradient)
        self.step += 1
        return SharedFactors(self.step, self.shared.copy())

    def keep_if(self, control: Control) -> None:
        """Keep the shared block when the target says it improved validation."""
        if control.improved:
            self.best = self.shared.copy()


@dataclass(frozen=True)
class ProtocolRun:
    """The three roles after the protocol, and the wire it ran over."""

    target: TargetParty
    source: DomainParty
    coordinator: Coordinator
    wire: Wire

    @property
    def steps(self) -> int:
        """Full-batch steps taken."""
        return self.coordinator.step


def run_protocol(
    target: TargetParty,
    source: DomainParty,
    coordinator: Coordinator,
    *,
    wire: Wire | None = None,
    context: bytes = b"",
) -> ProtocolRun:
    """Key agreement, set-up, then steps until the target says stop.

    Parameters
    ----------
    target, source : DomainParty
        The two parties (fresh).
    coordinator : Coordinator
        The aggregator (fresh).
    wire : Wire or None, default None
        Where messages are serialised and recorded (a new one when ``None``).
    context : bytes, default b""
        Bound into the mask key (the task id and the PSI commitment in a run).
    """
    wire = wire or Wire()
    parties: tuple[DomainParty, DomainParty] = (target, source)
    for me, peer in ((target, source), (source, target)):
        sent = wire.send(me.public_key(context), me.name, "coordinator")
        relayed = wire.send(sent, "coordinator", peer.name)
        peer.agree(_expect(relayed, PublicKey), context)
    shapes = [_expect(wire.send(p.shape(), p.name, "coordinator"), SharedShape) for p in parties]
    shared = coordinator.setup(shapes[0], shapes[1])
    while True:
        for p in parties:
            p.receive(_expect(wire.send(shared, "coordinator", p.name), SharedFactors))
        if coordinator.step and _verdict(target, source, coordinator, wire).stop:
            break
        grads = [
            _expect(wire.send(p.gradient_step(), p.name, "coordinator"), MaskedGradient)
            for p in parties
        ]
        shared = coordinator.aggregate(grads[0], grads[1])
    log.info("run_protocol: %d steps, best %d", coordinator.step, target.stopping.best_step)
    return ProtocolRun(target, source, coordinator, wire)


def _verdict(
    target: TargetParty, source: DomainParty, coordinator: Coordinator, wire: Wire
) -> Control:
    """The target's verdict, sent to the coordinator and relayed to the source."""
    control = target.verdict()
    target.keep_if(control)
    received = _expect(wire.send(control, "target", "coordinator"), Control)
    coordinator.keep_if(received)
    source.keep_if(_expect(wire.send(received, "coordinator", "source"), Control))
    return control


def _expect(message: Message, kind: type[M]) -> M:
    """``message`` if it is a ``kind``; otherwise a protocol error."""
    if not isinstance(message, kind):
        raise TransferProtocolError(f"expected {kind.__name__}, got {type(message).__name__}")
    return message


def pooled_view(
    run: ProtocolRun, target_ids: Ints, source_ids: Ints, best: bool = False
) -> tuple[Factors, Factors]:
    """Every party's parameters in the centralised pooled order (for tests and audits only).

    Users follow ``union1d(target_ids, source_ids)`` and items the target's then the source's,
    as :func:`~fl_node.transfer.central.pooled_problem` orders them. Nobody holds this view in
    a run: it needs every party's private parameters.
    """
    union = np.union1d(target_ids, source_ids)
    table = np.empty((len(union), run.target.config.rank + 1))
    items: list[Floats] = []
    for party, ids in ((run.source, source_ids), (run.target, target_ids)):
        shared, local, own_items = party.best if best else (party.shared, party.local, party.items)
        rows = np.searchsorted(union, ids)
        table[rows[party.local_rows]] = local
        table[rows[party.shared_rows]] = shared[party.shared_index]
        items.insert(0, own_items)
    return Factors.from_stacked(table), Factors.from_stacked(np.vstack(items))
