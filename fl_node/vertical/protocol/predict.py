"""Federated prediction: the guest alone learns the probabilities of validation / test rows.

The guest asks every host for its partial scores ``z_h`` of the rows it wants scored; a host
refuses any row outside the validation and test parts (training rows' scores would leak its
features' contribution), and the guest computes ``sigmoid(z_g + sum_h z_h)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from fl_node.vertical.protocol._errors import PeerMessageError
from fl_node.vertical.protocol.config import FloatArray, IndexArray
from fl_node.vertical.protocol.messages import PartialScoresMsg, PredictRequestMsg
from fl_node.vertical.protocol.models import GuestModel, HostModel, sigmoid
from fl_node.vertical.transport import Transport


def guest_predict(
    transport: Transport,
    model: GuestModel,
    x_all: FloatArray,
    positions: IndexArray,
    *,
    model_name: str,
    part: Literal["validation", "test"],
    hosts: Sequence[str] = ("host",),
) -> FloatArray:
    """Federated prediction, guest side: only the guest learns the probabilities.

    Parameters
    ----------
    transport : Transport
        Channels to the hosts.
    model : GuestModel
        The guest's model part.
    x_all : ndarray of shape (n_aligned, F_g)
        Standardised guest features of every aligned row.
    positions : ndarray of int
        Aligned positions to score (validation or test rows).
    model_name : str
        Which of the host's model parts to use.
    part : {"validation", "test"}
        Split part the positions belong to (each host checks).
    hosts : sequence of str, default ("host",)
        The hosts' roles; each adds its partial scores.

    Returns
    -------
    ndarray of float64
        Predicted probabilities.
    """
    transport.phase = f"predict:{model_name}"
    request = PredictRequestMsg(model=model_name, part=part, positions=positions.astype(np.uint32))
    for name in hosts:
        transport.send(name, request)
    with transport.timer("plaintext"):
        scores = model.partial_scores(x_all[positions])
    for name in hosts:
        reply = transport.recv_from(name, PartialScoresMsg)
        if reply.model != model_name or reply.part != part or reply.scores.size != positions.size:
            raise PeerMessageError(f"guest: {name}'s partial scores do not match the request")
        scores = scores + reply.scores
    with transport.timer("plaintext"):
        return sigmoid(scores)


def host_answer_predict(
    transport: Transport,
    models: dict[str, HostModel],
    x_all: FloatArray,
    allowed: dict[str, IndexArray],
) -> str:
    """Federated prediction, host side: partial scores of validation / test rows only.

    Parameters
    ----------
    transport : Transport
        Channel to ``"guest"``.
    models : dict
        The host's model parts by name.
    x_all : ndarray of shape (n_aligned, F_h)
        Standardised host features of every aligned row.
    allowed : dict
        ``part -> positions`` the host agreed to score (the validation and test parts).

    Returns
    -------
    str
        The model name that was scored.
    """
    request = transport.recv_from("guest", PredictRequestMsg)
    transport.phase = f"predict:{request.model}"
    model = models.get(request.model)
    if model is None:
        raise PeerMessageError(f"host: no model {request.model!r}")
    positions = request.positions.astype(np.int64)
    permitted = allowed.get(request.part)
    if permitted is None or not np.isin(positions, permitted).all():
        raise PeerMessageError("host: refused to score rows outside the validation/test parts")
    with transport.timer("plaintext"):
        scores = model.partial_scores(x_all[positions])
    transport.send("guest", PartialScoresMsg(model=request.model, part=request.part, scores=scores))
    return request.model
