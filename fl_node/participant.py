"""A participant node: trains on its own rows and anchors its updates on-chain.

The node talks to nothing but the chain and the content store. Each round it reads the open round
from the chain, fetches the global model from the store, checks the bytes against the hash the
coordinator anchored, trains locally, stores its update (safetensors) and anchors the update's
keccak-256, CID and sample count from its own address. Raw rows never leave :func:`train_local`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import torch

from chain import FedTaskClient, Signer, TaskInfo, TaskStatus
from fl_node.data import LocalDataset
from fl_node.errors import ModelIntegrityError, RoundTimeoutError, SpecError
from fl_node.serialization import LoadedModel, UpdateMeta, decode_model, encode_update
from fl_node.task import TaskSpec
from fl_node.training import pick_device, train_local
from storage import ContentStore, content_hash, validate_cid

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SubmittedUpdate:
    """What a participant sent in one round."""

    task_id: int
    round: int
    cid: str
    update_hash: bytes
    samples: int
    train_loss: float
    bytes_up: int
    bytes_down: int
    gas_used: int


def fetch_verified(store: ContentStore, cid: str, expected_hash: bytes, what: str) -> bytes:
    """Fetch ``cid`` and check its keccak-256 against an on-chain hash, then its CID.

    Raises
    ------
    ModelIntegrityError
        When the bytes differ from the anchored hash.
    """
    data = store.get(cid, verify=False)
    if content_hash(data) != expected_hash:
        raise ModelIntegrityError(f"{what} {cid}: bytes do not match the on-chain hash")
    store.verify(validate_cid(cid), data)
    return data


class ParticipantNode:
    """One data owner's training node.

    Parameters
    ----------
    signer : Signer
        The participant's own key on the chain backend.
    fed_task : FedTaskClient
        The FedTask contract (re-bound to ``signer``).
    store : ContentStore
        Where models and updates are exchanged.
    data : LocalDataset
        This participant's private rows.
    device : torch.device or None, default None
        Training device; CUDA when present.
    """

    def __init__(
        self,
        *,
        signer: Signer,
        fed_task: FedTaskClient,
        store: ContentStore,
        data: LocalDataset,
        device: torch.device | None = None,
    ) -> None:
        self.signer = signer
        self.address = signer.address
        self.fed_task = fed_task.as_signer(signer)
        self.store = store
        self.data = data
        self.device = device or pick_device()
        self.history: list[SubmittedUpdate] = []
        self._specs: dict[int, TaskSpec] = {}

    def __repr__(self) -> str:
        return f"ParticipantNode({self.data.name}, {self.address})"

    def join(self, task_id: int) -> None:
        """Join ``task_id`` after checking that its spec fits this node's data."""
        spec = self.spec(task_id)
        if self.data.x.shape[1] != spec.model.n_features:
            raise SpecError(
                f"join: task {task_id} wants {spec.model.n_features} features, "
                f"{self.data.name} has {self.data.x.shape[1]}"
            )
        self.fed_task.join(task_id)
        log.info("join: %s joined task %s", self.data.name, task_id)

    def spec(self, task_id: int) -> TaskSpec:
        """The task's spec, fetched once and checked against its on-chain hash."""
        if task_id not in self._specs:
            info = self.fed_task.task(task_id)
            data = fetch_verified(self.store, info.spec_cid, info.spec_hash, "task spec")
            self._specs[task_id] = TaskSpec.from_bytes(data)
        return self._specs[task_id]

    def _global_model(self, info: TaskInfo) -> tuple[LoadedModel, int]:
        data = fetch_verified(self.store, info.model_cid, info.model_hash, "global model")
        loaded = decode_model(data)
        if loaded.task_id != info.task_id:
            raise ModelIntegrityError(
                f"global model belongs to task {loaded.task_id}, not {info.task_id}"
            )
        return loaded, len(data)

    def step(self, task_id: int) -> SubmittedUpdate | None:
        """Train and submit for the open round, if there is one this node has not answered.

        Returns
        -------
        SubmittedUpdate or None
            What was sent, or ``None`` when there was nothing to do.
        """
        info = self.fed_task.task(task_id)
        if not info.round_open:
            return None
        round_ = int(info.current_round)
        if self.fed_task.update(task_id, round_, self.address)[2]:
            return None
        spec = self.spec(task_id)
        loaded, bytes_down = self._global_model(info)
        config = spec.make_strategy().configure_train(spec.train)
        result = train_local(loaded.module, self.data, config, round=round_, device=self.device)
        meta = UpdateMeta(
            task_id=task_id,
            round=round_,
            participant=self.address,
            base_model_hash="0x" + info.model_hash.hex(),
            samples=result.samples,
            train_loss=result.loss,
            strategy=spec.strategy,
        )
        blob = encode_update(result.delta, meta)
        cid = self.store.put(blob)
        digest = content_hash(blob)
        tx = self.fed_task.submit_update(task_id, round_, digest, cid, result.samples)
        sent = SubmittedUpdate(
            task_id=task_id,
            round=round_,
            cid=cid,
            update_hash=digest,
            samples=result.samples,
            train_loss=result.loss,
            bytes_up=len(blob),
            bytes_down=bytes_down,
            gas_used=tx.gas_used,
        )
        self.history.append(sent)
        log.info(
            "step: %s round %d loss %.4f, %d samples, %d bytes",
            self.data.name,
            round_,
            result.loss,
            result.samples,
            len(blob),
        )
        return sent

    def run(
        self, task_id: int, *, poll_interval: float = 0.5, timeout: float | None = None
    ) -> list[SubmittedUpdate]:
        """Serve ``task_id`` until it completes: train whenever a round opens.

        Raises
        ------
        RoundTimeoutError
            When ``timeout`` seconds pass before the task completes.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            self.step(task_id)
            status = self.fed_task.task(task_id).status
            if status in (TaskStatus.COMPLETED, TaskStatus.CANCELLED):
                log.info("run: task %s is %s", task_id, status.name.lower())
                return self.history
            if deadline is not None and time.monotonic() > deadline:
                raise RoundTimeoutError(f"run: task {task_id} did not complete within {timeout}s")
            time.sleep(poll_interval)
