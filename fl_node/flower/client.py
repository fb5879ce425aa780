"""The client side: a Flower ``@app.train()`` function whose reply is committed to before it leaves.

:func:`anchor_train` wraps an app's own train function. The app trains as usual and replies with
its trained arrays and its metrics (``num-examples`` among them, as Flower's FedAvg needs). The
wrapper then builds the participant's update in fedmarket's encoding (the deltas of the trainable
tensors against the global model received, with the task, round, author, base model hash and
sample count as metadata: :func:`fl_node.serialization.encode_update`), hashes it, signs the
EIP-712 ``UpdateCommitment`` with the participant's key (:func:`chain.commitments.sign_commitment`,
the mailbox path of :mod:`fl_node.participant`) and adds the signed commitment and the bytes to the
reply under :data:`~fl_node.flower._records.ANCHOR_KEY`. The client needs its key and nothing
else: no chain connection, no content store (the coordinator anchors the batch of commitments).

Usage in a ClientApp::

    app = ClientApp()
    app.train()(anchor_train(train, account_of=lambda context: my_key(context)))
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import torch
from eth_account.signers.local import LocalAccount
from flwr.app import ArrayRecord, Context, Message, MetricRecord

from chain.commitments import UpdateCommitment, sign_commitment
from fl_node.errors import UpdateRejectedError
from fl_node.flower._records import ANCHOR_KEY, RoundAnchor, SignedUpdate
from fl_node.serialization import UpdateMeta, encode_update
from kernel.types import Hash32, Round, TaskId
from storage import compute_cid, content_hash

log = logging.getLogger(__name__)

TrainFn = Callable[[Message, Context], Message]
"""A Flower ``@app.train()`` function."""

WEIGHT_KEY = "num-examples"
"""The metric that holds a reply's sample count (Flower's FedAvg weighs by it)."""


def single_arrays(content_owner: Message) -> ArrayRecord:
    """The one ArrayRecord of a message (Flower's strategies send and expect exactly one)."""
    records = list(content_owner.content.array_records.values())
    if len(records) != 1:
        raise UpdateRejectedError("malformed", f"{len(records)} ArrayRecords in the message")
    return records[0]


def single_metrics(content_owner: Message) -> MetricRecord:
    """The one MetricRecord of a message."""
    records = list(content_owner.content.metric_records.values())
    if len(records) != 1:
        raise UpdateRejectedError("malformed", f"{len(records)} MetricRecords in the message")
    return records[0]


def update_delta(
    base: ArrayRecord, trained: ArrayRecord, trainable: tuple[str, ...]
) -> dict[str, torch.Tensor]:
    """``trained - base`` for the trainable tensors (float32), as an update carries them.

    Parameters
    ----------
    base : ArrayRecord
        The global model the round sent.
    trained : ArrayRecord
        The model the app trained from it.
    trainable : tuple of str
        The tensors an update carries.
    """
    before, after = base.to_torch_state_dict(), trained.to_torch_state_dict()
    missing = [name for name in trainable if name not in before or name not in after]
    if missing:
        raise UpdateRejectedError("shape_mismatch", f"tensors {missing} missing from the arrays")
    return {name: (after[name].float() - before[name].float()) for name in trainable}


def sign_update(
    account: LocalAccount,
    anchor: RoundAnchor,
    delta: dict[str, torch.Tensor],
    samples: int,
    train_loss: float,
) -> SignedUpdate:
    """Encode an update, hash it and sign its commitment under the anchor's domain.

    Parameters
    ----------
    account : LocalAccount
        The participant's key (a participant of the task).
    anchor : RoundAnchor
        The round.
    delta : dict of str to Tensor
        The trainable tensors' deltas.
    samples : int
        Training samples behind the update.
    train_loss : float
        Local training loss.
    """
    meta = UpdateMeta(
        task_id=anchor.task_id,
        round=anchor.round,
        participant=account.address,
        base_model_hash=anchor.base_model_hash,
        samples=samples,
        train_loss=train_loss,
        strategy=anchor.strategy,
    )
    blob = encode_update(delta, meta)
    commitment = UpdateCommitment(
        TaskId(anchor.task_id), Round(anchor.round), Hash32(content_hash(blob)), samples
    )
    signed = sign_commitment(account, anchor.domain, commitment)
    return SignedUpdate(signed, compute_cid(blob), blob)


def _anchored_reply(msg: Message, reply: Message, account: LocalAccount) -> Message:
    """``reply`` with the signed update of its arrays added under :data:`ANCHOR_KEY`."""
    record = msg.content.config_records.get(ANCHOR_KEY)
    if record is None:
        raise UpdateRejectedError("malformed", "the train instruction carries no anchor")
    anchor = RoundAnchor.from_record(record)
    metrics = single_metrics(reply)
    samples = metrics.get(WEIGHT_KEY)
    if not isinstance(samples, int) or isinstance(samples, bool) or samples <= 0:
        raise UpdateRejectedError("malformed", f"the reply's {WEIGHT_KEY!r} is not a count")
    loss = metrics.get("train_loss", 0.0)
    delta = update_delta(single_arrays(msg), single_arrays(reply), anchor.trainable)
    signed = sign_update(account, anchor, delta, samples, float(loss))  # type: ignore[arg-type]
    reply.content[ANCHOR_KEY] = signed.to_record()
    log.info(
        "anchor_train: %s signed round %d of task %d (%d samples, %d bytes)",
        *(account.address, anchor.round, anchor.task_id, samples, len(signed.blob)),
    )
    return reply


def anchor_train(train: TrainFn, account_of: Callable[[Context], LocalAccount]) -> TrainFn:
    """Wrap a Flower train function so that each reply carries its signed, committed update.

    Parameters
    ----------
    train : callable
        The app's ``(Message, Context) -> Message`` train function.
    account_of : callable
        This node's participant key, from its context (e.g. its node config).

    Returns
    -------
    callable
        A train function to register with ``ClientApp.train()``.
    """

    def anchored(msg: Message, context: Context) -> Message:
        reply = train(msg, context)
        if reply.has_error():
            return reply
        return _anchored_reply(msg, reply, account_of(context))

    anchored.__name__ = getattr(train, "__name__", "train")
    anchored.__doc__ = train.__doc__
    return anchored


__all__ = [
    "WEIGHT_KEY",
    "TrainFn",
    "anchor_train",
    "sign_update",
    "single_arrays",
    "single_metrics",
    "update_delta",
]
