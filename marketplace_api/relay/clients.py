"""Who is asking: the client address a per-IP limit counts against.

By default it is the socket's peer. ``X-Forwarded-For`` is believed only when the peer is one of
the configured trusted proxies (``FEDMARKET_API_TRUSTED_PROXIES``): the header is then read from
the right, skipping the trusted proxies, and the first other address is the client. A header
anyone can send is otherwise ignored, or one client could pose as many.

IPv6 clients are counted per ``/64``: one subscriber usually holds a whole ``/64``, so counting
single addresses would let it pose as 2**64 clients.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

from kernel.errors import ConfigurationError

Network = IPv4Network | IPv6Network
IPV6_PREFIX = 64
"""IPv6 clients are counted per network of this prefix length."""

UNKNOWN = "unknown"
"""The key of requests without a peer address (every such request shares one bucket)."""


def parse_networks(entries: Sequence[str]) -> tuple[Network, ...]:
    """Trusted proxies from their settings: addresses or CIDR networks.

    Raises
    ------
    ConfigurationError
        Naming the entry that is neither.
    """
    networks: list[Network] = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ConfigurationError(
                f"trusted_proxies: {entry!r} is not an IP address or network"
            ) from None
    return tuple(networks)


def _address(text: str) -> IPv4Address | IPv6Address | None:
    try:
        address = ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: IPv4Address | IPv6Address, trusted: Sequence[Network]) -> bool:
    return any(address in network for network in trusted)


def client_key(peer: str | None, forwarded_for: str | None, trusted: Sequence[Network] = ()) -> str:
    """The key a request's client is counted under.

    Parameters
    ----------
    peer : str or None
        The socket peer's host (``request.client.host``).
    forwarded_for : str or None
        The ``X-Forwarded-For`` header, if any (several headers joined by commas).
    trusted : sequence of network, default ()
        Proxies whose ``X-Forwarded-For`` is believed.

    Returns
    -------
    str
        An IPv4 address, an IPv6 ``/64`` network, the peer's text when it is not an address
        (test clients), or :data:`UNKNOWN`.
    """
    if peer is None:
        return UNKNOWN
    address = _address(peer)
    if address is None:
        return peer
    if forwarded_for and trusted and _trusted(address, trusted):
        for hop in reversed(forwarded_for.split(",")):
            hop_address = _address(hop)
            if hop_address is None:
                break  # a malformed hop: believe no further than the last proxy
            address = hop_address
            if not _trusted(hop_address, trusted):
                break
    return _key(address)


def _key(address: IPv4Address | IPv6Address) -> str:
    if isinstance(address, IPv6Address):
        return str(ipaddress.ip_network(f"{address}/{IPV6_PREFIX}", strict=False))
    return str(address)


__all__ = ["IPV6_PREFIX", "UNKNOWN", "Network", "client_key", "parse_networks"]
