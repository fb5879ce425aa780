"""An in-process Flower Grid: every node's ClientApp called in this process, one after another.

The lightest real path through :class:`fl_node.flower.AnchoredStrategy`: Flower's ``FedAvg``
(wrapped) builds its instructions as usual and sends them through this
:class:`flwr.serverapp.Grid`, which hands each one to the ClientApp of its destination node (the
same ClientApp object Flower's simulation engine would run in a Ray worker) with that node's
:class:`flwr.app.Context` (``partition-id``, ``num-partitions``), and returns the replies. What is
simulated: Flower's transport and engine (no SuperLink, no Ray workers, no serialisation of the
messages between processes); the clients run one at a time. Everything the strategy and the
coordinator do is the real code.

Flower stamps messages with the identity of the task that runs them (set by its runtime): the
grid sets it as Flower's own compatibility layer does. Replies are matched to their instructions
by the grid itself (no SuperLink assigns message ids).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from flwr.app import Context, Message, RecordDict
from flwr.clientapp import ClientApp
from flwr.serverapp import Grid
from flwr.supercore.run import Run
from flwr.supercore.task_identity import TaskIdentity

SERVER_NODE = 0
"""The ServerApp's node id."""

RUN_ID = 1


class InProcessGrid(Grid):
    """Nodes ``1..nodes``, each running ``app`` in this process (see the module docstring).

    Parameters
    ----------
    app : ClientApp
        Every node's ClientApp.
    nodes : int
        Number of nodes (partition ``i`` is node ``i + 1``).
    """

    def __init__(self, app: ClientApp, nodes: int) -> None:
        self._app = app
        self._contexts = {
            i + 1: Context(
                run_id=RUN_ID,
                node_id=i + 1,
                node_config={"partition-id": i, "num-partitions": nodes},
                state=RecordDict(),
                run_config={},
            )
            for i in range(nodes)
        }
        self._replies: dict[str, Message] = {}
        self._run = Run.create_empty(RUN_ID)
        TaskIdentity.task_id = 1
        TaskIdentity.run_id = RUN_ID
        TaskIdentity.node_id = SERVER_NODE

    def set_run(self, run: Run) -> None:
        """Use ``run``'s identity."""
        self._run = run

    @property
    def run(self) -> Run:
        """The run."""
        return self._run

    def create_message(
        self,
        content: RecordDict,
        message_type: str,
        dst_node_id: int,
        group_id: str,
        ttl: float | None = None,
    ) -> Message:
        """An instruction to ``dst_node_id``."""
        return Message(
            content=content,
            dst_node_id=dst_node_id,
            message_type=message_type,
            group_id=group_id,
            ttl=ttl,
        )

    def get_node_ids(self) -> Iterable[int]:
        """Every node."""
        return list(self._contexts)

    def push_messages(self, messages: Iterable[Message]) -> Iterable[str]:
        """Deliver each instruction to its node's ClientApp now; the instructions' ids."""
        ids = []
        for message in messages:
            key = str(uuid.uuid4())
            self._replies[key] = self._app(message, self._contexts[message.metadata.dst_node_id])
            ids.append(key)
        return ids

    def pull_messages(self, message_ids: Iterable[str]) -> Iterable[Message]:
        """The replies to ``message_ids`` (each handed out once)."""
        return [self._replies.pop(i) for i in message_ids if i in self._replies]

    def send_and_receive(
        self, messages: Iterable[Message], *, timeout: float | None = None
    ) -> Iterable[Message]:
        """Deliver ``messages`` and return their replies."""
        return self.pull_messages(self.push_messages(messages))


__all__ = ["InProcessGrid"]
