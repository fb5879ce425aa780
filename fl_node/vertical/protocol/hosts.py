"""The host parties of a hetero-LR session as the guest and the arbiter see them.

One guest and ``N >= 1`` hosts: the guest and the arbiter are given the hosts' names (their
roles on the transport, ``"host"`` alone or ``"host-1"`` ... ``"host-N"``, see
:func:`host_names`). A :class:`HostRoster` checks every message they gather from the hosts: the
sender must be one of them, the name a message claims must be the channel it came on, and no
host may answer twice where it answers once. Each error names the party.
"""

from __future__ import annotations

from collections.abc import Sequence

from fl_node.vertical.protocol._errors import HeteroLRConfigError, PeerMessageError
from fl_node.vertical.protocol.messages import MAX_HOSTS, HostInfoMsg

_RESERVED = ("guest", "arbiter")


def host_names(n_hosts: int) -> tuple[str, ...]:
    """The conventional host roles: ``("host",)`` for one host, else ``"host-1"`` ... ``"host-N"``.

    Parameters
    ----------
    n_hosts : int
        Number of host parties (1 to :data:`~fl_node.vertical.protocol.messages.MAX_HOSTS`).

    Raises
    ------
    HeteroLRConfigError
        When ``n_hosts`` is out of range.
    """
    if not 1 <= n_hosts <= MAX_HOSTS:
        raise HeteroLRConfigError(f"a session has 1 to {MAX_HOSTS} hosts, not {n_hosts}")
    if n_hosts == 1:
        return ("host",)
    return tuple(f"host-{k}" for k in range(1, n_hosts + 1))


class HostRoster:
    """The hosts of one session: their names, widths, and the checks on what they send.

    Parameters
    ----------
    hosts : sequence of str
        The hosts' roles, in the agreed order (it fixes who gets which cross-host scores).
    role : str
        The party holding the roster (named in errors).

    Raises
    ------
    HeteroLRConfigError
        No host, a repeated or empty name, ``"guest"`` or ``"arbiter"`` among them, or more
        than ``MAX_HOSTS``.
    """

    def __init__(self, hosts: Sequence[str], role: str) -> None:
        names = tuple(hosts)
        if not 1 <= len(names) <= MAX_HOSTS or len(set(names)) != len(names):
            raise HeteroLRConfigError(f"hosts must be 1 to {MAX_HOSTS} distinct names: {names}")
        if any(not name or name in _RESERVED for name in names):
            raise HeteroLRConfigError(f"host names must be non-empty and not {_RESERVED}")
        self.names = names
        self.role = role
        self.features: dict[str, int] = {}

    def __len__(self) -> int:
        """Number of hosts."""
        return len(self.names)

    @property
    def active(self) -> tuple[str, ...]:
        """The hosts that announced features, in the agreed order."""
        return tuple(name for name in self.names if self.features.get(name))

    def resolve(self, sender: str | None) -> str:
        """The sender of a message handed over without one: allowed only with one host.

        Parameters
        ----------
        sender : str or None
            The channel the message came on (``None``: the only host).
        """
        if sender is not None:
            return sender
        if len(self.names) != 1:
            raise HeteroLRConfigError(f"{self.role}: say which of {self.names} sent the message")
        return self.names[0]

    def check_sender(self, sender: str, claimed: str, what: str) -> None:
        """Refuse a message from an unknown party or claiming another party's name.

        Parameters
        ----------
        sender : str
            The channel the message came on (authenticated by the transport).
        claimed : str
            The ``party`` field of the message.
        what : str
            The message (named in the error).

        Raises
        ------
        PeerMessageError
            When ``sender`` is not a host of this session or ``claimed != sender``.
        """
        if sender not in self.names:
            raise PeerMessageError(
                f"{self.role}: {what} from {sender!r}, which is not a host of this session"
            )
        if claimed != sender:
            raise PeerMessageError(
                f"{self.role}: {sender} sent a {what} claiming to come from {claimed!r}"
            )

    def check_once(self, sender: str, seen: Sequence[str], what: str) -> None:
        """Refuse a second message where a host sends one.

        Parameters
        ----------
        sender : str
            The host.
        seen : sequence of str
            The hosts already heard from in this step.
        what : str
            The message and step (named in the error).
        """
        if sender in seen:
            raise PeerMessageError(f"{self.role}: {sender} sent a second {what}")

    def receive_info(self, msg: HostInfoMsg, sender: str | None, session: str) -> None:
        """Record a host's feature count.

        Parameters
        ----------
        msg : HostInfoMsg
            From the host.
        sender : str or None
            The channel it came on (``None``: the only host).
        session : str
            This session (the message must name it).
        """
        name = self.resolve(sender)
        self.check_sender(name, msg.party, "host info")
        if msg.session != session:
            raise PeerMessageError(f"{self.role}: {name} sent host info for another session")
        self.check_once(name, tuple(self.features), "host info")
        self.features[name] = msg.n_features

    def missing_info(self) -> tuple[str, ...]:
        """Hosts whose feature count has not arrived yet."""
        return tuple(name for name in self.names if name not in self.features)
