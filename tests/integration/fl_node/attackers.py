"""Adversarial participants for the attack tests (test-only: nothing here ships in a package).

Each attacker is a :class:`~fl_node.participant.ParticipantNode` that overrides the smallest
piece of it, :meth:`~fl_node.participant.ParticipantNode._train` (what update it builds), and
otherwise follows the protocol: it stakes, commits before the deadline, reveals after it, claims.

- :class:`Copycat` wants hospital-1's *current* update: once the victim revealed, it tries to
  commit a relabelled copy directly (the chain refuses: the commit deadline passed) and records
  the refusal; in its own commitment it can only send the newest step it can see, the victim's
  previous-round update, nudged by a relative 5e-4 (a "near-identical" copy);
- :class:`Replayer` sends the victim's previous-round update re-encoded with the current round,
  base model and its own address, so it passes every per-update check;
- :class:`Inflater` claims five times its rows, with a zero step or an honestly trained one;
- :class:`FreeRider` sends an all-zero step with its true sample count;
- :class:`Poisoner` trains honestly and sends its step times ``factor``: ``-BOOST`` (sign
  flipping, ``sign-flip``) or ``BOOST`` (a boosted update, ``boosted``);
- a duplicate-data participant needs no class: an honest node whose rows are the victim's.

Run as a process (the attack test through participant processes)::

    python -m tests.integration.fl_node.attackers KIND VICTIM_ADDRESS -- participant ARGS...

runs ``fedmarket participant ARGS...`` with the node replaced by attacker ``KIND``
(``copycat``, ``replayer``, ``inflater``, ``inflater-zero``, ``free-rider``, ``sign-flip``,
``boosted``).
"""

from __future__ import annotations

import json
import logging
import struct
import sys
from dataclasses import replace
from typing import Any

import torch

from chain.errors import ChainRevertError
from chain.fed_task import TaskInfo
from fl_node.commitments import read_batch
from fl_node.evidence import RoundEvidence
from fl_node.participant import ParticipantNode, PendingUpdate, SubmittedUpdate
from fl_node.serialization import decode_update, encode_update
from storage import compute_cid, content_hash

log = logging.getLogger(__name__)

NUDGE = 5e-4
"""The copycat's relative change of the step it copies (half the copy tolerance)."""

INFLATION = 5
"""The inflater's claimed rows per true row."""

BOOST = 5.0
"""How much a :class:`Poisoner` scales its honest step."""


def header_shapes(blob: bytes) -> dict[str, tuple[int, ...]]:
    """The tensor shapes an update's safetensors header declares."""
    (size,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + size])
    return {k: tuple(v["shape"]) for k, v in header.items() if k != "__metadata__"}


def step_of(blob: bytes) -> dict[str, torch.Tensor]:
    """The parameter step an update's bytes carry."""
    return decode_update(blob, header_shapes(blob))[0]


def rebuilt(pending: PendingUpdate, delta: dict[str, torch.Tensor], samples: int) -> PendingUpdate:
    """``pending`` with its step replaced by ``delta`` and its sample count by ``samples``.

    The metadata (task, round, author, base model) stays the honest one, so the bytes pass
    the coordinator's per-update checks.
    """
    _, meta = decode_update(pending.blob, header_shapes(pending.blob))
    blob = encode_update(delta, replace(meta, samples=samples))
    update = replace(
        pending.update,
        cid=compute_cid(blob),
        update_hash=content_hash(blob),
        samples=samples,
        bytes_up=len(blob),
    )
    return PendingUpdate(update, blob)


def _zeros(step: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {name: torch.zeros_like(t) for name, t in step.items()}


class FreeRider(ParticipantNode):
    """Trains nothing: an all-zero step with its true sample count."""

    def _train(self, info: TaskInfo) -> PendingUpdate:
        pending = super()._train(info)
        return rebuilt(pending, _zeros(step_of(pending.blob)), pending.update.samples)


class Inflater(ParticipantNode):
    """Claims :data:`INFLATION` times its rows; ``zero`` sends an all-zero step besides."""

    zero: bool = False

    def _train(self, info: TaskInfo) -> PendingUpdate:
        pending = super()._train(info)
        step = step_of(pending.blob)
        if self.zero:
            step = _zeros(step)
        return rebuilt(pending, step, pending.update.samples * INFLATION)


class Poisoner(ParticipantNode):
    """Trains honestly, then sends its step times ``factor`` (negative: sign flipping)."""

    factor: float = -BOOST

    def _train(self, info: TaskInfo) -> PendingUpdate:
        pending = super()._train(info)
        step = {name: t * self.factor for name, t in step_of(pending.blob).items()}
        return rebuilt(pending, step, pending.update.samples)


class Replayer(ParticipantNode):
    """Sends the victim's previous-round update as its own (a zero step in round 1).

    Attributes
    ----------
    victim : str
        The address whose updates it copies.
    nudge : float
        Relative change applied to the copied step (0: an exact replay).
    """

    victim: str = ""
    nudge: float = 0.0

    def victim_step(self, task_id: int) -> dict[str, torch.Tensor] | None:
        """The victim's newest revealed step of a finalised round, read from its evidence."""
        for final in reversed(self.fed_task.rounds_finalized(task_id)):
            evidence = RoundEvidence.from_dict(self.store.get_json(final.evidence_cid))
            for verdict in evidence.updates:
                if verdict.participant.lower() == self.victim.lower() and verdict.cid:
                    return step_of(self.store.get(verdict.cid))
        return None

    def _train(self, info: TaskInfo) -> PendingUpdate:
        pending = super()._train(info)  # trained only for its metadata; the step is dropped
        step = self.victim_step(int(info.task_id))
        if step is None:
            step = _zeros(step_of(pending.blob))
        elif self.nudge:
            step = {name: t * (1.0 + self.nudge) for name, t in step.items()}
        return rebuilt(pending, step, pending.update.samples)


class Copycat(Replayer):
    """Wants the victim's current update: tries to commit it late, sends a near-copy of its last.

    Attributes
    ----------
    late_attempts : dict of int to str
        Round -> how the chain answered its late direct commitment of the victim's current
        update (the revert's error name, or ``"accepted"``).
    """

    nudge: float = NUDGE

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.late_attempts: dict[int, str] = {}

    def step(self, task_id: int) -> SubmittedUpdate | None:
        """The protocol's step, then the late copy once the victim's bytes are out."""
        sent = super().step(task_id)
        self._copy_late(task_id)
        return sent

    def _copy_late(self, task_id: int) -> None:
        """Commit the victim's current bytes, relabelled as its own, as soon as they are public."""
        info = self.fed_task.task(task_id)
        round_ = int(info.last_round)
        if not info.round_open or round_ in self.late_attempts:
            return
        posted = read_batch(self.fed_task, self.store, task_id, round_)
        cids = {str(a).lower(): c for a, c in posted.document.cids.items()} if posted else {}
        cid = cids.get(self.victim.lower())
        if cid is None or not self.store.has(cid):
            return
        blob = self.store.get(cid)
        delta, meta = decode_update(blob, header_shapes(blob))
        copy = encode_update(delta, replace(meta, participant=self.address))
        try:
            self.fed_task.commit_update(
                task_id, round_, content_hash(copy), meta.samples, compute_cid(copy)
            )
            self.late_attempts[round_] = "accepted"
        except ChainRevertError as exc:
            self.late_attempts[round_] = exc.error_name or str(exc)
        log.info("copycat: late copy in round %d: %s", round_, self.late_attempts[round_])


KINDS: dict[str, tuple[type[ParticipantNode], dict[str, object]]] = {
    "copycat": (Copycat, {}),
    "replayer": (Replayer, {}),
    "inflater": (Inflater, {"zero": False}),
    "inflater-zero": (Inflater, {"zero": True}),
    "free-rider": (FreeRider, {}),
    "sign-flip": (Poisoner, {"factor": -BOOST}),
    "boosted": (Poisoner, {"factor": BOOST}),
}
"""Attacker name -> its class and attributes (``victim`` is added where the class has one)."""


def attacker(kind: str, victim: str, **node: Any) -> ParticipantNode:
    """A node of attacker ``kind`` copying ``victim`` (where it copies), built from ``node``."""
    cls, attrs = KINDS[kind]
    made = cls(**node)
    for name, value in attrs.items():
        setattr(made, name, value)
    if isinstance(made, Replayer):
        made.victim = victim
    return made


def main(argv: list[str]) -> None:
    """``KIND VICTIM -- fedmarket-args...``: the fedmarket CLI with the participant replaced."""
    if len(argv) < 4 or argv[2] != "--" or argv[0] not in KINDS:
        sys.stderr.write("usage: attackers KIND VICTIM -- participant ARGS...\n")
        sys.exit(2)
    kind, victim, rest = argv[0], argv[1], argv[3:]
    import fl_node.participant
    from fedmarket.cli import main as cli_main

    def node_factory(**node: Any) -> ParticipantNode:
        return attacker(kind, victim, **node)

    fl_node.participant.ParticipantNode = node_factory  # type: ignore[misc,assignment]
    sys.argv = ["fedmarket", *rest]
    cli_main()


if __name__ == "__main__":
    main(sys.argv[1:])
