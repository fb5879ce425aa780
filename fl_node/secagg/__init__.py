"""Secure aggregation (Bonawitz et al., CCS 2017; SecAgg+, Bell et al., CCS 2020), pure protocol.

What the server learns
----------------------
Only the sum, in ``Z_2^32``, of the quantised updates of the *survivors* (the clients whose
masked input it received), their ids, and who dropped at which stage. Everything else it sees is
public keys, envelopes sealed for other clients (AES-GCM under keys it cannot derive), masked
inputs (each a uniform vector in ``Z_2^32``: the self-mask ``PRG(b_u)`` alone is a one-time pad)
and, at the end, ``t`` shares of ``b_u`` for each survivor and of ``s_sk_v`` for each client that
dropped after sharing -- never both for one client, from honest clients. Fewer than ``t``
colluding holders learn nothing of a secret (Shamir). The server is trusted to follow the protocol
(honest but curious); an *active* server that sends different survivor lists to different clients
is not caught here (Bonawitz's consistency-check round with signatures is not implemented), but no
single honest client ever reveals both shares of one peer, nor answers twice. Inside a task the
advertised keys are signed by the members' accounts and checked against the group's roster
(:mod:`fl_node.secagg_task.keysign`), so the server cannot substitute its own keys.

The round (all messages bytes, :mod:`.messages`)
------------------------------------------------
0. ``AdvertiseKeys``: each client sends two X25519 public keys, ``c`` (envelopes) and ``s``
   (masks); the server broadcasts the ``KeyList``.
1. ``ShareKeys``: each client draws ``b_u``, Shamir-shares ``b_u`` and ``s_sk`` (threshold ``t``)
   among itself and its neighbours on the SecAgg+ graph (:mod:`.graph`: ``k = O(log n)`` sized
   for a stated dropout tolerance, 30 % by default; the complete graph below ~64 clients), each
   share sealed AES-GCM to its holder under the c-key agreement and bound to (task, round,
   sender, recipient); the server relays them (``Relay``).
2. ``MaskedInput``: ``y_u = x_u + PRG(b_u) + sum_v sign(u, v) PRG(s_uv)`` in ``Z_2^32``, ``x_u``
   the clipped, quantised update (:mod:`.fixed_point`: the sum of ``n`` words never wraps).
3. ``Unmask``: the server names survivors and dropped (``UnmaskRequest``); each survivor reveals
   the b-shares it holds of survivors and the s_sk-shares of dropped peers; the server rebuilds the
   seeds from ``t`` shares each, strips the masks and decodes the sum.

The round completes while at least ``t`` clients remain at every stage and every secret it needs
has ``t`` answering holders; otherwise it raises :class:`TooFewSurvivorsError`.

Driving it from a coordinator
-----------------------------
``server = SecAggServer(config)``; per stage, gather the clients' bytes and call
``receive_keys`` -> broadcast, ``receive_shares`` -> one relay per client, ``receive_masked`` ->
broadcast to the survivors, ``receive_unmask`` -> :class:`Aggregate`. Each client is a
``SecAggClient(config, id, update)`` with ``advertise``, ``share_keys``, ``masked_input``,
``unmask``. :func:`run_secagg` does all of it in memory, with dropouts, traffic and timing.
"""

from fl_node.secagg.client import SecAggClient
from fl_node.secagg.config import SecAggConfig, Stage
from fl_node.secagg.errors import (
    SecAggError,
    SecAggInputError,
    SecAggProtocolError,
    ShareIntegrityError,
    TooFewSurvivorsError,
    UnmaskRefusedError,
)
from fl_node.secagg.fixed_point import FixedPoint
from fl_node.secagg.graph import default_degree, majority, neighbours
from fl_node.secagg.params import MIN_GROUP, SecAggParams
from fl_node.secagg.server import Aggregate, Received, SecAggServer
from fl_node.secagg.simulation import (
    SecAggResult,
    Traffic,
    default_threshold,
    random_dropouts,
    round_config,
    run_secagg,
)

__all__ = [
    "MIN_GROUP",
    "Aggregate",
    "FixedPoint",
    "Received",
    "SecAggClient",
    "SecAggConfig",
    "SecAggError",
    "SecAggInputError",
    "SecAggParams",
    "SecAggProtocolError",
    "SecAggResult",
    "SecAggServer",
    "ShareIntegrityError",
    "Stage",
    "TooFewSurvivorsError",
    "Traffic",
    "UnmaskRefusedError",
    "default_degree",
    "default_threshold",
    "majority",
    "neighbours",
    "random_dropouts",
    "round_config",
    "run_secagg",
]
