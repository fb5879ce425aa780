"""Test hosts in Linux network namespaces: each party on its own address, links that can be cut.

A :class:`TestNetwork` is one private IPv4 /24 made by the test and removed after it:

- a "switch" namespace holding a bridge;
- one namespace per host, joined to the bridge by a veth pair, its end named ``eth0`` and given
  ``10.<net>.0.<n>``;
- one more veth pair from the test's own (root) namespace to the bridge, at ``10.<net>.0.254``, so
  that the test itself reads the chain and the store like any host.

:meth:`TestNetwork.partition` takes a host's link down (the host keeps running, it just reaches
nobody); :meth:`TestNetwork.heal` brings it back. Commands run on a host through
``ip netns exec``: the same programs a real consortium runs, only the addresses differ.

Needs root (CAP_NET_ADMIN) and iproute2: true on the project's machines (TOOLCHAIN.md).
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
from dataclasses import dataclass, field


class NetnsUnavailableError(RuntimeError):
    """Network namespaces cannot be made here (not root, no iproute2)."""


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check, timeout=30)


def netns_available() -> bool:
    """Whether this process can make network namespaces (root and iproute2)."""
    return os.geteuid() == 0 and shutil.which("ip") is not None


def _free_net() -> int:
    """A second octet whose 10.x.0.0/24 no interface of the root namespace uses."""
    used = _ip("-4", "addr", "show").stdout
    for _ in range(200):
        net = random.randint(100, 250)  # noqa: S311 - a test address, not a secret
        if f"inet 10.{net}.0." not in used:
            return net
    raise NetnsUnavailableError("no free 10.x.0.0/24 for a test network")


@dataclass
class Host:
    """One test host: a namespace and its address."""

    name: str
    namespace: str
    address: str
    link: str
    """The bridge-side end of its veth pair (in the switch namespace)."""

    def argv(self, *command: str) -> list[str]:
        """``command`` run on this host."""
        return ["ip", "netns", "exec", self.namespace, *command]

    def pids(self) -> list[int]:
        """Processes running in the host's namespace."""
        found = _ip("netns", "pids", self.namespace, check=False).stdout.split()
        return [int(p) for p in found if p.isdigit()]


@dataclass
class TestNetwork:
    """A private network of test hosts; :meth:`close` removes every trace of it."""

    tag: str = field(default_factory=lambda: f"fm{os.getpid() % 100000:05d}")
    net: int = field(default_factory=_free_net)
    hosts: dict[str, Host] = field(default_factory=dict)
    _switch: str = ""
    _root_link: str = ""

    def __post_init__(self) -> None:
        if not netns_available():
            raise NetnsUnavailableError("network namespaces need root and iproute2")
        self._switch = f"{self.tag}-sw"
        _ip("netns", "add", self._switch)
        _ip("-n", self._switch, "link", "add", "br0", "type", "bridge")
        _ip("-n", self._switch, "link", "set", "br0", "up")
        self._root_link = f"{self.tag}r0"
        _ip("link", "add", self._root_link, "type", "veth", "peer", "name", f"{self.tag}r1")
        self._attach(f"{self.tag}r1")
        _ip("addr", "add", f"10.{self.net}.0.254/24", "dev", self._root_link)
        _ip("link", "set", self._root_link, "up")

    @property
    def gateway(self) -> str:
        """The test's own address on the network."""
        return f"10.{self.net}.0.254"

    def _attach(self, link: str) -> None:
        """Move ``link`` into the switch namespace and plug it into the bridge."""
        _ip("link", "set", link, "netns", self._switch)
        _ip("-n", self._switch, "link", "set", link, "master", "br0")
        _ip("-n", self._switch, "link", "set", link, "up")

    def add(self, name: str) -> Host:
        """Make a host called ``name`` with the next address."""
        n = len(self.hosts) + 2
        namespace, inner, outer = f"{self.tag}-{name}", f"{self.tag}h{n}", f"{self.tag}s{n}"
        _ip("netns", "add", namespace)
        _ip("link", "add", inner, "type", "veth", "peer", "name", outer)
        _ip("link", "set", inner, "netns", namespace)
        self._attach(outer)
        _ip("-n", namespace, "link", "set", inner, "name", "eth0")
        _ip("-n", namespace, "addr", "add", f"10.{self.net}.0.{n}/24", "dev", "eth0")
        _ip("-n", namespace, "link", "set", "eth0", "up")
        _ip("-n", namespace, "link", "set", "lo", "up")
        host = Host(name, namespace, f"10.{self.net}.0.{n}", outer)
        self.hosts[name] = host
        return host

    def partition(self, host: Host) -> None:
        """Cut ``host`` off the network (its processes keep running)."""
        _ip("-n", self._switch, "link", "set", host.link, "down")

    def heal(self, host: Host) -> None:
        """Plug ``host`` back in."""
        _ip("-n", self._switch, "link", "set", host.link, "up")

    def close(self) -> None:
        """Kill whatever still runs on the hosts, delete the namespaces and the links."""
        for host in self.hosts.values():
            for pid in host.pids():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            _ip("netns", "del", host.namespace, check=False)
        _ip("netns", "del", self._switch, check=False)
        _ip("link", "del", self._root_link, check=False)
        self.hosts.clear()

    def leftovers(self) -> list[str]:
        """Namespaces or links of this network still present (empty after :meth:`close`)."""
        names = _ip("netns", "list").stdout + _ip("link", "show").stdout
        return sorted({w for w in names.split() if w.startswith(self.tag)})
