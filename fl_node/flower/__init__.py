"""Flower interoperability: an existing Flower app, anchored on a FedTask and paid by contribution.

Wrap the app's strategy and its train function; Flower keeps the transport and the engines
(simulation with Ray, or a SuperLink and SuperNodes), fedmarket adds the ledger and the payments:

- :func:`anchor_train` (client side): each reply carries the participant's update in fedmarket's
  encoding and its EIP-712 signed commitment;
- :class:`AnchoredStrategy` (server side) around the app's ``FedAvg`` and a
  :class:`FlowerCoordinator` attached to the task: it opens each round on-chain, anchors the
  commitments in one batch root, refuses replies whose bytes differ from what their authors
  signed, lets the Flower strategy aggregate the accepted updates, measures contributions,
  allocates rewards and finalises the round with its evidence, so that
  :func:`fl_node.audit.audit_task` checks it like any other task and participants claim their
  rewards as usual.

flwr (the ``flower`` extra) is imported in this package only.

Public surface::

    anchor_train(train, account_of) -> train           # ClientApp side
    AnchoredStrategy(inner, coordinator)               # ServerApp side
    FlowerCoordinator(**Coordinator kwargs)
    RoundAnchor, SignedUpdate, ANCHOR_KEY, TamperedReply, tamper_reason, EQUIVALENTS
"""

from fl_node.flower._records import ANCHOR_KEY, RoundAnchor, SignedUpdate
from fl_node.flower.client import WEIGHT_KEY, anchor_train, sign_update
from fl_node.flower.coordinator import Aggregator, FlowerCoordinator
from fl_node.flower.strategy import (
    EQUIVALENTS,
    AnchoredStrategy,
    TamperedReply,
    equivalent_strategy,
    tamper_reason,
)

__all__ = [
    "ANCHOR_KEY",
    "EQUIVALENTS",
    "WEIGHT_KEY",
    "Aggregator",
    "AnchoredStrategy",
    "FlowerCoordinator",
    "RoundAnchor",
    "SignedUpdate",
    "TamperedReply",
    "anchor_train",
    "equivalent_strategy",
    "sign_update",
    "tamper_reason",
]
