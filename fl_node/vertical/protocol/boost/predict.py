"""Federated prediction at the guest: every tree walked level by level, hosts asked in batches.

At each depth the guest decides its own nodes from its features and sends each host one
:class:`BoostPredictMsg` with every (record id, row) pair that sits at one of that host's nodes,
over all trees at once; the host answers with branches only. The guest learns which way each
row goes at host nodes (as in FATE), never the host's values or thresholds; the host learns
which of its records the rows reach.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from fl_node.vertical.protocol.boost._errors import BoostPeerError
from fl_node.vertical.protocol.boost.config import FloatArray, IntArray
from fl_node.vertical.protocol.boost.messages import BoostBranchesMsg, BoostPredictMsg
from fl_node.vertical.protocol.boost.tree import BoolArray, BoostModel, sigmoid, walk
from fl_node.vertical.transport import Transport


def guest_predict(
    transport: Transport,
    model: BoostModel,
    x: FloatArray,
    *,
    hosts: Sequence[str],
    session: str,
) -> FloatArray:
    """Probabilities of the rows of ``x`` (the guest's features), with the hosts' help.

    Parameters
    ----------
    transport : Transport
        Channels to the hosts.
    model : BoostModel
        The guest's model (host nodes as record ids).
    x : ndarray of shape (m, F_g)
        The guest's features of the rows to score (aligned with the hosts').
    hosts : sequence of str
        Host roles (host ``k`` is ``hosts[k - 1]``).
    session : str
        The training session (the hosts check it).
    """
    cols = np.asarray(x, dtype=np.float64)
    calls = [0]

    def decide(
        party: IntArray, feature: IntArray, threshold: FloatArray, record: IntArray, rows: IntArray
    ) -> BoolArray:
        left = np.zeros(rows.size, dtype=bool)
        mine = party == 0
        left[mine] = cols[rows[mine], feature[mine]] <= threshold[mine]
        calls[0] += 1
        _ask_hosts(transport, hosts, session, f"q{calls[0]}", party, record, rows, left)
        return left

    scores = walk(model, cols.shape[0], decide)
    empty = np.zeros(0, dtype=np.uint32)
    for host in hosts:
        transport.send(
            host,
            BoostPredictMsg(session=session, query="done", done=True, records=empty, rows=empty),
        )
    return sigmoid(scores)


def _ask_hosts(
    transport: Transport,
    hosts: Sequence[str],
    session: str,
    query: str,
    party: IntArray,
    record: IntArray,
    rows: IntArray,
    left: BoolArray,
) -> None:
    """One query per host holding some of the pairs; fill ``left`` with the answers."""
    asked = []
    for k, host in enumerate(hosts, start=1):
        theirs = np.flatnonzero(party == k)
        if theirs.size:
            msg = BoostPredictMsg(
                session=session,
                query=query,
                done=False,
                records=record[theirs].astype(np.uint32),
                rows=rows[theirs].astype(np.uint32),
            )
            transport.send(host, msg)
            asked.append((host, theirs))
    for host, theirs in asked:
        reply = transport.recv_from(host, BoostBranchesMsg)
        if (reply.session, reply.query) != (session, query) or reply.left.size != theirs.size:
            raise BoostPeerError(f"guest: {host}'s branches do not match the query")
        left[theirs] = reply.left.astype(bool)
