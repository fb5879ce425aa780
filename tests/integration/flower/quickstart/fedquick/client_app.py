"""fedquick: the ClientApp, the quickstart's train and evaluate with the train anchored.

The one line that differs from Flower's quickstart: the train function is registered through
:func:`fl_node.flower.anchor_train`, so each reply carries its signed, committed update.
A node whose config says ``tamper`` (or the partition a test names) is an attacker: it sends update
bytes other than those it signed.
"""

from __future__ import annotations

from collections.abc import Callable

from flwr.app import ArrayRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

from fedquick.task import LEARNING_RATE, LOCAL_EPOCHS, Net, account_of, load_data, test
from fedquick.task import train as train_fn
from fl_node.flower import ANCHOR_KEY, SignedUpdate, anchor_train
from fl_node.models import trainable_state
from fl_node.serialization import decode_update, encode_update


def train(msg: Message, context: Context) -> Message:
    """Train the model on the node's rows (Flower's quickstart)."""
    model = Net()
    model.load_state_dict(msg.content["arrays"].to_torch_state_dict())
    data = load_data(int(context.node_config["partition-id"]))
    lr = float(msg.content["config"].get("lr", LEARNING_RATE))
    train_loss = train_fn(model, data, LOCAL_EPOCHS, lr)
    metrics = {"train_loss": train_loss, "num-examples": data.rows}
    content = RecordDict(
        {"arrays": ArrayRecord(model.state_dict()), "metrics": MetricRecord(metrics)}
    )
    return Message(content=content, reply_to=msg)


def evaluate(msg: Message, context: Context) -> Message:
    """Evaluate the global model on the node's rows (Flower's quickstart)."""
    model = Net()
    model.load_state_dict(msg.content["arrays"].to_torch_state_dict())
    data = load_data(int(context.node_config["partition-id"]))
    loss, accuracy = test(model, data)
    metrics = {"eval_loss": loss, "eval_acc": accuracy, "num-examples": data.rows}
    return Message(content=RecordDict({"metrics": MetricRecord(metrics)}), reply_to=msg)


def tampering(
    train_anchored: Callable[[Message, Context], Message], partition: int | None
) -> Callable[[Message, Context], Message]:
    """An attacker: after signing its update it sends other bytes (the deltas times ten)."""

    def attack(msg: Message, context: Context) -> Message:
        reply = train_anchored(msg, context)
        me = int(context.node_config["partition-id"])
        if not (context.node_config.get("tamper") or me == partition):
            return reply
        signed = SignedUpdate.from_record(reply.content.config_records[ANCHOR_KEY])
        shapes = {k: tuple(v.shape) for k, v in trainable_state(Net()).items()}
        delta, meta = decode_update(signed.blob, shapes)
        forged = encode_update({k: 10 * v for k, v in delta.items()}, meta)
        reply.content[ANCHOR_KEY] = SignedUpdate(signed.signed, signed.cid, forged).to_record()
        return reply

    return attack


def make_client_app(tamper_partition: int | None = None) -> ClientApp:
    """The ClientApp; ``tamper_partition`` names an attacking node (tests)."""
    client = ClientApp()
    client.train()(tampering(anchor_train(train, account_of), tamper_partition))
    client.evaluate()(evaluate)
    return client


app = make_client_app()
