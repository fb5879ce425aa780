"""Communication statistics: bytes and messages by sender, receiver, type and protocol phase."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class CommStats:
    """Bytes and message counts by ``(sender, receiver, type, phase)``.

    A party records what it sends in ``sent`` and what it receives in ``received``; merging
    the stats of all parties and reading ``sent`` counts every message once.

    Attributes
    ----------
    sent, received : dict
        ``(sender, receiver, type, phase) -> [bytes, messages]``.
    """

    sent: dict[tuple[str, str, str, str], list[int]] = field(default_factory=dict)
    received: dict[tuple[str, str, str, str], list[int]] = field(default_factory=dict)

    def record(
        self, sender: str, receiver: str, kind: str, phase: str, nbytes: int, *, outgoing: bool
    ) -> None:
        """Count one frame.

        Parameters
        ----------
        sender, receiver : str
            Roles.
        kind : str
            Message type name.
        phase : str
            Protocol phase (e.g. ``"psi"``, ``"train"``).
        nbytes : int
            Frame size, header included.
        outgoing : bool
            ``True`` for a frame this party sent.
        """
        table = self.sent if outgoing else self.received
        entry = table.setdefault((sender, receiver, kind, phase), [0, 0])
        entry[0] += nbytes
        entry[1] += 1

    def merge(self, other: CommStats) -> CommStats:
        """Add ``other``'s counts into this object and return it.

        Parameters
        ----------
        other : CommStats
            Stats of another party.
        """
        for mine, theirs in ((self.sent, other.sent), (self.received, other.received)):
            for key, (nbytes, count) in theirs.items():
                entry = mine.setdefault(key, [0, 0])
                entry[0] += nbytes
                entry[1] += count
        return self

    def total(self, *, phase: str | None = None, sender: str | None = None) -> tuple[int, int]:
        """Return ``(bytes, messages)`` sent, optionally for one phase and/or sender.

        Parameters
        ----------
        phase : str or None
            Restrict to a phase.
        sender : str or None
            Restrict to a sender.
        """
        nbytes = count = 0
        for (snd, _rcv, _kind, ph), (b, c) in self.sent.items():
            if (phase is None or ph == phase) and (sender is None or snd == sender):
                nbytes += b
                count += c
        return nbytes, count

    def by_party(self) -> dict[str, dict[str, dict[str, int]]]:
        """Return ``{sender: {phase: {"bytes", "messages"}}}`` of sent frames."""
        out: dict[str, dict[str, dict[str, int]]] = {}
        for (snd, _rcv, _kind, ph), (b, c) in sorted(self.sent.items()):
            slot = out.setdefault(snd, {}).setdefault(ph, {"bytes": 0, "messages": 0})
            slot["bytes"] += b
            slot["messages"] += c
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: every row plus per-party and per-phase totals."""
        phases = sorted({key[3] for key in self.sent})
        return {
            "bytes_total": self.total()[0],
            "messages_total": self.total()[1],
            "by_phase": {
                ph: dict(zip(("bytes", "messages"), self.total(phase=ph), strict=True))
                for ph in phases
            },
            "by_party": self.by_party(),
            "rows": [
                {"sender": s, "receiver": r, "type": k, "phase": p, "bytes": b, "messages": c}
                for (s, r, k, p), (b, c) in sorted(self.sent.items())
            ],
        }

    def to_state(self) -> dict[str, list[list[Any]]]:
        """Lossless plain form (for sending between processes)."""
        return {
            name: [[*key, *value] for key, value in table.items()]
            for name, table in (("sent", self.sent), ("received", self.received))
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Sequence[Sequence[Any]]]) -> CommStats:
        """Rebuild from :meth:`to_state`.

        Parameters
        ----------
        state : mapping
            The plain form.
        """
        stats = cls()
        for name, table in (("sent", stats.sent), ("received", stats.received)):
            for row in state.get(name, []):
                s, r, k, p, b, c = row
                table[(str(s), str(r), str(k), str(p))] = [int(b), int(c)]
        return stats
