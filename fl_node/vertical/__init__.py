"""Vertical (feature-partitioned) federated learning: PSI, Paillier hetero LR over TLS.

The sub-packages are floors; each imports only the ones below it:

``runner``
    :func:`~fl_node.vertical.runner.run_vfl`: the whole flow with guest, host and arbiter as
    separate processes, its on-chain record, events and deliverables (nothing imports it).
``protocol``
    Hetero logistic regression: wire messages, cipher suites, the guest, host and arbiter
    roles sharing one session loop, federated prediction, PSI and split over a transport.
``transport``
    Mutual-TLS channels, framing, communication statistics, and the :class:`Transport`
    interface with its network and in-memory implementations.
``crypto.paillier``, ``crypto.psi``
    The cryptography, which imports nothing else from the project but :mod:`kernel`.

``data`` (one module) reads a party's table, aligns, splits and standardises it. Import from
the sub-packages; this package itself exports nothing.
"""

__all__: list[str] = []
