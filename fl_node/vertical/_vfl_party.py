"""The three vertical-FL parties as long-lived objects that execute jobs, and their process.

A party holds only its own data and secrets: the guest its CSV (labels included), the host its
CSV, the arbiter nothing but the Paillier private keys it generates per session. Jobs (PSI,
split, training sessions, prediction, saving a model part, statistics) are plain dicts; each
returns a plain dict of *reportable* results (sizes, timings, metrics, hashes; never rows).

:func:`party_main` is the entry point of a party's OS process: it opens its TLS listener or
connections (:mod:`fl_node.vertical.channel`), then runs the jobs the orchestrator sends over
a control pipe. Tests drive the same classes in threads over a
:class:`~fl_node.vertical._vfl_transport.LocalNetwork`.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Literal

import numpy as np

from fl_node.vertical._vfl_messages import (
    TYPE_NAMES,
    PsiBlindedMsg,
    PsiEvaluatedMsg,
    PsiHostSetMsg,
    PsiIndicesMsg,
    PsiKeyMsg,
    PsiSaltMsg,
    SplitMsg,
)
from fl_node.vertical._vfl_transport import NetworkTransport, ProtocolError, Transport
from fl_node.vertical.channel import (
    Channel,
    CommStats,
    Listener,
    PartyCredentials,
    connect,
)
from fl_node.vertical.data import (
    PartyTable,
    SplitIndices,
    Standardizer,
    aligned_order,
    load_party,
    make_fold_split,
    make_split,
)
from fl_node.vertical.hetero_lr import (
    GuestModel,
    HeteroLRArbiter,
    HeteroLRConfig,
    HeteroLRGuest,
    HeteroLRHost,
    HostModel,
    arbiter_session,
    guest_predict,
    guest_session,
    host_answer_predict,
    host_session,
)

log = logging.getLogger(__name__)

Job = dict[str, Any]
ROLES = ("guest", "host", "arbiter")


def _config(job: Job) -> HeteroLRConfig:
    return HeteroLRConfig(**job["config"])


@dataclass
class _Aligned:
    """A party's view after PSI and split: aligned standardised features."""

    ids: list[str]
    rows: np.ndarray
    split: SplitIndices | None = None
    scaler: Standardizer | None = None
    x_all: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))


class _DataParty:
    """Shared state of the guest and the host."""

    role: Literal["guest", "host"]

    def __init__(self, table: PartyTable, transport: Transport) -> None:
        self.table = table
        self.transport = transport
        self.aligned: _Aligned | None = None
        self.commitment: bytes | None = None
        self.models: dict[str, GuestModel | HostModel] = {}
        self.configs: dict[str, HeteroLRConfig] = {}

    def _require_aligned(self) -> _Aligned:
        if self.aligned is None or self.aligned.split is None:
            raise ProtocolError(f"{self.role}: run psi and split first")
        return self.aligned

    def _finish_psi(self, intersection: list[Any], salt: bytes, seconds: float) -> Job:
        from fl_node.vertical.crypto.psi import intersection_commitment

        ids = aligned_order(intersection)
        self.aligned = _Aligned(ids=ids, rows=self.table.rows_of(ids))
        self.commitment = intersection_commitment(ids, salt)
        return {
            "intersection_size": len(ids),
            "own_size": self.table.rows,
            "commitment": self.commitment.hex(),
            "seconds": seconds,
        }

    def _standardize(self, split: SplitIndices, clip: float) -> None:
        aligned = self._require_aligned_rows()
        x = self.table.features[aligned.rows]
        scaler = Standardizer.fit(x[split.train], clip=clip)
        aligned.split = split
        aligned.scaler = scaler
        aligned.x_all = scaler.transform(x)

    def _require_aligned_rows(self) -> _Aligned:
        if self.aligned is None:
            raise ProtocolError(f"{self.role}: run psi first")
        return self.aligned

    def save(self, job: Job) -> Job:
        """Write this party's model part as JSON into its own content store.

        Parameters
        ----------
        job : dict
            ``name`` (model), ``folder`` (this party's output folder).
        """
        from storage import LocalCidStore, content_hash

        aligned = self._require_aligned()
        name = job["name"]
        model = self.models[name]
        folder = Path(job["folder"])
        folder.mkdir(parents=True, exist_ok=True)
        assert aligned.scaler is not None and aligned.split is not None
        doc: dict[str, Any] = {
            "format": "fedmarket-vfl-lr-part/1",
            "role": self.role,
            "model": name,
            "feature_names": list(self.table.feature_names),
            "weights": [float(w) for w in model.weights],
            "uses_features": bool(model.use_features),
            "standardizer": aligned.scaler.to_dict(),
            "config": self.configs[name].to_dict(),
            "training_rows": int(aligned.split.train.size),
            "score": "partial score = standardised features . weights"
            + (" + intercept" if self.role == "guest" else ""),
        }
        if isinstance(model, GuestModel):
            doc["intercept"] = model.intercept
            doc["output"] = "sigmoid(guest partial score + host partial score)"
        data = json.dumps(doc, indent=2, sort_keys=True).encode("utf-8")
        path = folder / f"model_{self.role}.json"
        path.write_bytes(data)
        cid = LocalCidStore(folder / "store").put(data)
        return {
            "cid": str(cid),
            "hash": "0x" + bytes(content_hash(data)).hex(),
            "bytes": len(data),
            "file": str(path),
            "samples": int(aligned.split.train.size),
        }

    def stats(self, job: Job) -> Job:
        """Return this party's communication statistics and timer totals.

        Parameters
        ----------
        job : dict
            Unused.
        """
        return {
            "stats": self.transport.stats.to_state(),
            "timer": self.transport.timer.snapshot(),
        }


class GuestParty(_DataParty):
    """The label holder.

    Parameters
    ----------
    table : PartyTable
        The guest's own rows (with labels).
    transport : Transport
        Channels to ``"host"`` and ``"arbiter"``.
    """

    role: Literal["guest", "host"] = "guest"

    def psi(self, job: Job) -> Job:
        """Run the DH-OPRF PSI as the learning side; tell the host; share the salt.

        Parameters
        ----------
        job : dict
            ``workers``: processes for the elliptic-curve work.
        """
        from fl_node.vertical.crypto.psi import BlindedSet, EcdhOprfPsiGuest, EcPublicKey, PsiError

        t = self.transport
        t.phase = "psi"
        start = time.perf_counter()
        try:
            with EcdhOprfPsiGuest(self.table.ids, workers=int(job.get("workers", 1))) as psi:
                key = EcPublicKey.from_bytes(t.recv_from("host", PsiKeyMsg).data)
                t.send("host", PsiBlindedMsg(psi.blinded_ids().to_bytes()))
                evaluated = BlindedSet.from_bytes(t.recv_from("host", PsiEvaluatedMsg).data)
                host_set = BlindedSet.from_bytes(t.recv_from("host", PsiHostSetMsg).data)
                intersection = psi.intersect(evaluated, host_set, key)
                t.send("host", PsiIndicesMsg(psi.intersection_message().to_bytes()))
        except PsiError as exc:
            raise ProtocolError(f"guest: PSI failed: {exc}") from exc
        salt = secrets.token_bytes(32)
        t.send("host", PsiSaltMsg(salt))
        out = self._finish_psi(intersection, salt, time.perf_counter() - start)
        out.update(method=EcdhOprfPsiGuest.method, peer_size=host_set.count)
        return out

    def split(self, job: Job) -> Job:
        """Split the aligned rows, tell the host the positions, standardise.

        Parameters
        ----------
        job : dict
            ``validation``, ``test`` shares, ``seed``, ``clip``; or, for cross-validation,
            ``folds`` and ``fold`` instead of ``test``.
        """
        aligned = self._require_aligned_rows()
        assert self.table.labels is not None
        labels = self.table.labels[aligned.rows]
        if "folds" in job:
            split = make_fold_split(
                labels,
                folds=int(job["folds"]),
                fold=int(job["fold"]),
                validation=float(job["validation"]),
                seed=int(job["seed"]),
            )
        else:
            split = make_split(
                labels,
                validation=float(job["validation"]),
                test=float(job["test"]),
                seed=int(job["seed"]),
            )
        self.transport.phase = "split"
        self.transport.send(
            "host",
            SplitMsg(
                n_aligned=split.n_aligned,
                train=split.train.astype(np.uint32),
                validation=split.validation.astype(np.uint32),
                test=split.test.astype(np.uint32),
            ),
        )
        self._standardize(split, float(job["clip"]))
        return {
            "sizes": split.to_dict(),
            "train": split.train.tolist(),
            "validation": split.validation.tolist(),
            "test": split.test.tolist(),
            "positive_rate": float(labels.mean()),
        }

    def train(self, job: Job) -> Job:
        """Run a training session as the guest.

        Parameters
        ----------
        job : dict
            ``name``, ``cipher``, ``use_guest``, ``max_batches``, ``config``.
        """
        aligned = self._require_aligned()
        assert aligned.split is not None and self.table.labels is not None
        cfg = _config(job)
        train = aligned.split.train
        guest = HeteroLRGuest(
            aligned.x_all[train],
            self.table.labels[aligned.rows][train],
            cfg,
            session=job["name"],
            cipher=job["cipher"],
            use_features=bool(job["use_guest"]),
            max_batches=int(job.get("max_batches", 0)),
            timer=self.transport.timer,
        )
        result = guest_session(self.transport, guest)
        if job.get("keep", True):
            self.models[job["name"]] = guest.model()
            self.configs[job["name"]] = cfg
        return result.to_dict()

    def predict(self, job: Job) -> Job:
        """Score a split part with a trained model; return the metrics (labels stay here).

        Parameters
        ----------
        job : dict
            ``name`` (model), ``part`` (``"validation"`` or ``"test"``).
        """
        from fl_node.evaluation import binary_metrics

        aligned = self._require_aligned()
        assert aligned.split is not None and self.table.labels is not None
        model = self.models[job["name"]]
        assert isinstance(model, GuestModel)
        positions = aligned.split.part(job["part"])
        prob = guest_predict(
            self.transport,
            model,
            aligned.x_all,
            positions,
            model_name=job["name"],
            part=job["part"],
        )
        labels = self.table.labels[aligned.rows][positions]
        return binary_metrics(labels, prob).to_dict()


class HostParty(_DataParty):
    """The feature-only party.

    Parameters
    ----------
    table : PartyTable
        The host's own rows.
    transport : Transport
        Channels to ``"guest"`` and ``"arbiter"``.
    """

    role: Literal["guest", "host"] = "host"

    def psi(self, job: Job) -> Job:
        """Run the DH-OPRF PSI as the key holder; learn the intersection and the salt.

        Parameters
        ----------
        job : dict
            ``workers``: processes for the elliptic-curve work.
        """
        from fl_node.vertical.crypto.psi import (
            BlindedSet,
            EcdhOprfPsiHost,
            IntersectionIndices,
            PsiError,
        )

        t = self.transport
        t.phase = "psi"
        start = time.perf_counter()
        try:
            with EcdhOprfPsiHost(self.table.ids, workers=int(job.get("workers", 1))) as psi:
                t.send("guest", PsiKeyMsg(psi.public_key().to_bytes()))
                blinded = BlindedSet.from_bytes(t.recv_from("guest", PsiBlindedMsg).data)
                t.send("guest", PsiEvaluatedMsg(psi.evaluate(blinded).to_bytes()))
                t.send("guest", PsiHostSetMsg(psi.blinded_ids().to_bytes()))
                indices = IntersectionIndices.from_bytes(t.recv_from("guest", PsiIndicesMsg).data)
                intersection = psi.receive_intersection(indices)
        except PsiError as exc:
            raise ProtocolError(f"host: PSI failed: {exc}") from exc
        salt = t.recv_from("guest", PsiSaltMsg).salt
        out = self._finish_psi(intersection, salt, time.perf_counter() - start)
        out.update(method=EcdhOprfPsiHost.method, peer_size=blinded.count)
        return out

    def split(self, job: Job) -> Job:
        """Receive the guest's split positions and standardise on the training rows.

        Parameters
        ----------
        job : dict
            ``clip``.
        """
        aligned = self._require_aligned_rows()
        self.transport.phase = "split"
        msg = self.transport.recv_from("guest", SplitMsg)
        if msg.n_aligned != len(aligned.ids):
            raise ProtocolError("host: the guest's split is for another intersection")
        split = SplitIndices(
            train=msg.train.astype(np.int64),
            validation=msg.validation.astype(np.int64),
            test=msg.test.astype(np.int64),
            n_aligned=msg.n_aligned,
        )
        self._standardize(split, float(job["clip"]))
        return {"sizes": split.to_dict()}

    def train(self, job: Job) -> Job:
        """Run a training session as the host.

        Parameters
        ----------
        job : dict
            ``name``, ``cipher``, ``use_host``, ``config``.
        """
        aligned = self._require_aligned()
        assert aligned.split is not None
        cfg = _config(job)
        host = HeteroLRHost(
            aligned.x_all[aligned.split.train],
            cfg,
            session=job["name"],
            cipher=job["cipher"],
            use_features=bool(job["use_host"]),
            timer=self.transport.timer,
        )
        result = host_session(self.transport, host)
        if job.get("keep", True):
            self.models[job["name"]] = host.model()
            self.configs[job["name"]] = cfg
        return result.to_dict()

    def predict(self, job: Job) -> Job:
        """Answer one prediction request (validation / test rows only).

        Parameters
        ----------
        job : dict
            Unused.
        """
        aligned = self._require_aligned()
        assert aligned.split is not None
        host_models = {k: m for k, m in self.models.items() if isinstance(m, HostModel)}
        name = host_answer_predict(
            self.transport,
            host_models,
            aligned.x_all,
            {"validation": aligned.split.validation, "test": aligned.split.test},
        )
        return {"model": name}


class ArbiterParty:
    """The coordinator holding the Paillier private keys (one per session).

    Parameters
    ----------
    transport : Transport
        Channels to ``"guest"`` and ``"host"``.
    """

    role = "arbiter"

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    def train(self, job: Job) -> Job:
        """Generate the session key and serve decryptions until the session stops.

        Parameters
        ----------
        job : dict
            ``name``, ``cipher``, ``config``.
        """
        cfg = _config(job)
        start = time.perf_counter()
        arbiter = HeteroLRArbiter(
            cfg, session=job["name"], cipher=job["cipher"], timer=self.transport.timer
        )
        keygen = time.perf_counter() - start
        result = arbiter_session(self.transport, arbiter).to_dict()
        result["keygen_seconds"] = keygen
        result["batch_losses"] = arbiter.batch_losses
        return result

    def stats(self, job: Job) -> Job:
        """Return this party's communication statistics and timer totals.

        Parameters
        ----------
        job : dict
            Unused.
        """
        return {
            "stats": self.transport.stats.to_state(),
            "timer": self.transport.timer.snapshot(),
        }


Party = GuestParty | HostParty | ArbiterParty


def handle(party: Party, job: Job) -> Job:
    """Run one job on a party.

    Parameters
    ----------
    party : GuestParty, HostParty or ArbiterParty
        The party.
    job : dict
        ``{"op": ..., ...}``.

    Returns
    -------
    dict
        The job's result.
    """
    op = job.get("op")
    method: Callable[[Job], Job] | None = getattr(party, str(op), None)
    if op not in ("psi", "split", "train", "predict", "save", "stats") or method is None:
        raise ProtocolError(f"{party.role}: unknown job {op!r}")
    return method(job)


# --------------------------------------------------------------------------- process


def _open_channels(
    role: str,
    creds: PartyCredentials,
    conn: Connection,
    stats: CommStats,
    timeout: float,
) -> dict[str, Channel]:
    listener: Listener | None = None
    if role in ("arbiter", "guest"):
        listener = Listener(creds, stats=stats, type_names=TYPE_NAMES, timeout=timeout)
        conn.send(("listening", listener.address))
    kind, addresses = conn.recv()
    if kind != "addresses":
        raise ProtocolError(f"{role}: expected the peers' addresses")
    channels: dict[str, Channel] = {}

    def dial(peer: str) -> None:
        channels[peer] = connect(
            creds,
            peer,
            tuple(addresses[peer]),
            stats=stats,
            type_names=TYPE_NAMES,
            timeout=timeout,
        )

    try:
        if role == "arbiter":
            assert listener is not None
            while len(channels) < 2:
                ch = listener.accept({"guest", "host"} - set(channels))
                channels[ch.peer_role] = ch
        elif role == "guest":
            assert listener is not None
            dial("arbiter")
            ch = listener.accept({"host"})
            channels[ch.peer_role] = ch
        else:
            dial("arbiter")
            dial("guest")
    finally:
        if listener is not None:
            listener.close()
    return channels


def party_main(role: str, spec: dict[str, Any], conn: Connection) -> None:
    """Entry point of a party's process: connect, then run jobs until told to stop.

    Parameters
    ----------
    role : {"guest", "host", "arbiter"}
        This party.
    spec : dict
        ``creds`` (this party's :class:`PartyCredentials` fields), ``data`` (the party's own
        CSV path, guest/host), ``drop_fraction``, ``seed``, ``timeout``, ``log_level``.
    conn : Connection
        Control pipe to the orchestrator.
    """
    logging.basicConfig(
        level=int(spec.get("log_level", logging.WARNING)),
        format=f"%(asctime)s {role} %(name)s %(levelname)s: %(message)s",
    )
    transport: NetworkTransport | None = None
    try:
        creds = PartyCredentials(**spec["creds"])
        if creds.role != role:
            raise ProtocolError("credentials for another role")
        stats = CommStats()
        channels = _open_channels(role, creds, conn, stats, float(spec.get("timeout", 600.0)))
        transport = NetworkTransport(role, channels, stats)
        party: Party
        if role == "arbiter":
            party = ArbiterParty(transport)
        else:
            table = load_party(
                Path(spec["data"]),
                "guest" if role == "guest" else "host",
                drop_fraction=float(spec["drop_fraction"]),
                seed=int(spec["seed"]),
            )
            party = GuestParty(table, transport) if role == "guest" else HostParty(table, transport)
        conn.send(("ready", {"role": role}))
        while True:
            kind, job = conn.recv()
            if kind == "stop":
                break
            conn.send(("result", handle(party, job)))
    except BaseException as exc:  # report anything, then exit: the session is unusable
        try:
            conn.send(("error", f"{role}: {exc!r}\n{traceback.format_exc()}"))
        except (OSError, ValueError):  # pragma: no cover - parent gone
            pass
        if not isinstance(exc, Exception):
            raise
    finally:
        if transport is not None:
            transport.close()
        conn.close()
